package indexer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
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

// rowDoc makes a document of one row's fields. A row without an id gets
// one derived from the file's and the row's position, stable while the
// file's rows keep their order.
func rowDoc(path string, line int, fields map[string]string) (Doc, error) {
	text := strings.TrimSpace(fields[fieldText])
	if text == "" {
		return Doc{}, fmt.Errorf("field %q is missing or empty: %w", fieldText, ErrNoText)
	}
	d := Doc{Title: fields[fieldTitle], Text: text, Source: path}
	for _, k := range []string{fieldID, fieldAltID} {
		if v := strings.TrimSpace(fields[k]); v != "" && d.ID == "" {
			d.ID = v
		}
	}
	if d.ID == "" {
		d.ID = FileID(path) + "-" + strconv.Itoa(line)
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

// parseJSONL reads one JSON object a line. Strings are kept as they are;
// numbers, booleans, arrays and objects become their JSON text; nulls are
// dropped. Blank lines are skipped.
func parseJSONL(path string, data []byte) ([]Doc, []error, error) {
	if bytes.IndexByte(data[:min(len(data), 8192)], 0) >= 0 {
		return nil, nil, fmt.Errorf("NUL byte: %w", ErrBinary)
	}
	var docs []Doc
	var rows []error
	line := 0
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte("\n"))
		line++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
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
		d, err := rowDoc(path, line, fields)
		if err != nil {
			rows = append(rows, &RowError{Path: path, Line: line, Err: err})
			continue
		}
		docs = append(docs, d)
	}
	return docs, rows, nil
}

// parseCSV reads a CSV file whose first record names the columns (matched
// without regard to case or surrounding space). Quoted fields may hold
// commas and line breaks. A record with the wrong number of fields is a row
// error; a header without a text column fails the file.
func parseCSV(path string, data []byte) ([]Doc, []error, error) {
	src, err := checkText(data)
	if err != nil {
		return nil, nil, err
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(src, "\uFEFF")))
	r.FieldsPerRecord = -1 // checked per record, so a bad row does not end the file
	header, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	for i := range header {
		header[i] = strings.ToLower(strings.TrimSpace(header[i]))
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
	for record := 2; ; record++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			if pe, ok := errors.AsType[*csv.ParseError](err); ok {
				line = pe.Line
				rows = append(rows, &RowError{Path: path, Line: line, Err: err})
				if pe.Err == csv.ErrQuote || pe.Err == csv.ErrBareQuote {
					// The reader cannot find the next record after a broken quote.
					break
				}
				continue
			}
			return docs, rows, err
		}
		if len(rec) != len(header) {
			rows = append(rows, &RowError{Path: path, Line: line,
				Err: fmt.Errorf("%d fields, the header has %d", len(rec), len(header))})
			continue
		}
		fields := make(map[string]string, len(rec))
		for i, v := range rec {
			fields[header[i]] = v
		}
		d, err := rowDoc(path, record, fields)
		if err != nil {
			rows = append(rows, &RowError{Path: path, Line: line, Err: err})
			continue
		}
		docs = append(docs, d)
	}
	return docs, rows, nil
}
