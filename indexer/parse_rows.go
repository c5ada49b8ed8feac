package indexer

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Field names with a meaning in JSONL and CSV rows; every other field
// becomes metadata.
const (
	fieldID    = "id"
	fieldAltID = "_id"
	fieldTitle = "title"
	fieldText  = "text"
)

// ctxEvery is how many rows (or nodes, for the tree parsers) a parser
// handles between looks at its context: often enough to stop within
// milliseconds, rarely enough to cost nothing.
const ctxEvery = 256

// rowDoc makes a document of one row's fields. The id is the row's "id"
// (or "_id") field when it has one, else empty, for Parse to derive from
// the row's content.
func rowDoc(fields map[string]string, lim Limits) (Doc, error) {
	text := strings.TrimSpace(fields[fieldText])
	if text == "" {
		return Doc{}, fmt.Errorf("field %q is missing or empty: %w", fieldText, ErrNoText)
	}
	if len(text) > lim.MaxTextBytes {
		return Doc{}, overLimit("%d bytes of text, over the limit of %d (MaxTextBytes, --max-text; raise it to index longer documents)",
			len(text), lim.MaxTextBytes)
	}
	d := Doc{Title: fields[fieldTitle], Text: text}
	for _, k := range []string{fieldID, fieldAltID} {
		if v := strings.TrimSpace(fields[k]); v != "" && d.ID == "" {
			d.ID = v
		}
	}
	for k, v := range fields {
		switch k {
		case fieldText, fieldTitle, fieldID, fieldAltID:
			continue
		}
		if k == "" || v == "" {
			continue
		}
		if d.Metadata == nil {
			d.Metadata = make(map[string]string)
		}
		d.Metadata[k] = v
	}
	return d, nil
}

// tooManyRows is the ErrLimit of a file with more than lim.MaxRows rows.
func tooManyRows(lim Limits) error {
	return overLimit("more than %d rows (MaxRows, --max-rows; raise it or split the file)", lim.MaxRows)
}

// parseJSONL reads one JSON object a line. Strings are kept as they are;
// numbers, booleans, arrays and objects become their JSON text; nulls are
// dropped. Blank lines are skipped; every other line counts as a row
// against lim.MaxRows, good or bad.
func parseJSONL(ctx context.Context, path string, data []byte, lim Limits) ([]Doc, []error, error) {
	if bytes.IndexByte(data[:min(len(data), 8192)], 0) >= 0 {
		return nil, nil, fmt.Errorf("NUL byte: %w", ErrBinary)
	}
	var docs []Doc
	var rows []error
	line, n := 0, 0
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte("\n"))
		line++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		if n++; n > lim.MaxRows {
			return nil, nil, tooManyRows(lim)
		}
		if n%ctxEvery == 0 && ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			rows = append(rows, &RowError{Path: path, Line: line, Err: fmt.Errorf("not a JSON object: %w", err)})
			continue
		}
		fields := make(map[string]string, len(obj))
		for k, v := range obj {
			var s string
			switch {
			case bytes.Equal(v, []byte("null")):
				continue
			case json.Unmarshal(v, &s) == nil:
			default:
				var buf bytes.Buffer
				if err := json.Compact(&buf, v); err != nil {
					s = string(v)
				} else {
					s = buf.String()
				}
			}
			fields[k] = strings.ToValidUTF8(s, "\uFFFD")
		}
		d, err := rowDoc(fields, lim)
		if err != nil {
			rows = append(rows, &RowError{Path: path, Line: line, Err: err})
			continue
		}
		d.Source = path
		docs = append(docs, d)
	}
	return docs, rows, nil
}

// parseCSV reads a CSV file whose first record names the columns (matched
// without regard to case or surrounding space). Quoted fields may hold
// commas and line breaks. A record with the wrong number of fields, or a
// quote out of place, is a row error and the reader goes on with the next
// line; a quoted field that never closes swallows the rest of the file
// into that one failed row. A header without a text column fails the file.
func parseCSV(ctx context.Context, path string, data []byte, lim Limits) ([]Doc, []error, error) {
	src, err := checkText(data)
	if err != nil {
		return nil, nil, err
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(src, "\uFEFF")))
	r.FieldsPerRecord = -1 // checked per record, so a bad row does not end the file
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	header := make([]string, len(head)) // head's slice is reused by the next Read
	for i, h := range head {
		header[i] = strings.ToLower(strings.TrimSpace(h))
	}
	hasText := false
	for _, h := range header {
		hasText = hasText || h == fieldText
	}
	if !hasText {
		return nil, nil, fmt.Errorf("header %q has no %q column: %w", header, fieldText, ErrNoText)
	}
	var docs []Doc
	var rows []error
	for n := 1; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if n > lim.MaxRows {
			return nil, nil, tooManyRows(lim)
		}
		if n%ctxEvery == 0 && ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		if err != nil {
			// FieldPos is only valid after a successful Read; a parse
			// error carries its own position. The reader has consumed
			// the broken record and resumes on the line after it.
			if pe, ok := errors.AsType[*csv.ParseError](err); ok {
				rows = append(rows, &RowError{Path: path, Line: pe.StartLine, Err: err})
				continue
			}
			return nil, nil, err
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			rows = append(rows, &RowError{Path: path, Line: line,
				Err: fmt.Errorf("%d fields, the header has %d", len(rec), len(header))})
			continue
		}
		fields := make(map[string]string, len(rec))
		for i, v := range rec {
			fields[header[i]] = v
		}
		d, err := rowDoc(fields, lim)
		if err != nil {
			rows = append(rows, &RowError{Path: path, Line: line, Err: err})
			continue
		}
		d.Source = path
		docs = append(docs, d)
	}
	return docs, rows, nil
}
