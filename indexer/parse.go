package indexer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Doc is one document before chunking and embedding: what a parser produces
// and what Ingest accepts. The JSON names are those of POST /documents.
type Doc struct {
	ID       string            `json:"id,omitempty"`       // empty: derived from the content (see the package comment)
	Title    string            `json:"title,omitempty"`    // free text
	Text     string            `json:"text"`               // required, UTF-8
	Metadata map[string]string `json:"metadata,omitempty"` // key=value pairs, keys non-empty
	Source   string            `json:"source,omitempty"`   // where the text came from: a path, file name or URL
}

// RowError is a failure of one row of a JSONL or CSV file: the rest of the
// file is still imported.
type RowError struct {
	Path string
	Line int // 1-based line of the row (for CSV, the line its record starts on)
	Err  error
}

func (e *RowError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err) }
func (e *RowError) Unwrap() error { return e.Err }

// parser turns a file's bytes into documents. name is the file's source (an
// absolute path or an uploaded file's name), used for titles, sources and
// messages; rows that fail go to the returned row errors, a failure of the
// whole file to err. A parser checks ctx in its loops and keeps within lim,
// whose zero fields are already filled in. Ids are left to Parse.
type parser func(ctx context.Context, name string, data []byte, lim Limits) (docs []Doc, rows []error, err error)

// format is how one file type is read.
type format struct {
	parse parser
	// rows: one document per row, each with its own id; otherwise the
	// whole file is one document whose id comes from its bytes.
	rows bool
}

// formats maps lower-case extensions to their format.
var formats = map[string]format{
	".txt":      {parse: parseText},
	".text":     {parse: parseText},
	".md":       {parse: parseMarkdown},
	".markdown": {parse: parseMarkdown},
	".html":     {parse: parseHTML},
	".htm":      {parse: parseHTML},
	".xhtml":    {parse: parseHTML},
	".pdf":      {parse: parsePDF},
	".jsonl":    {parse: parseJSONL, rows: true},
	".ndjson":   {parse: parseJSONL, rows: true},
	".csv":      {parse: parseCSV, rows: true},
}

// Supported reports whether name has an extension Parse reads.
func Supported(name string) bool {
	_, ok := formats[strings.ToLower(filepath.Ext(name))]
	return ok
}

// wholeFile reports whether a file named name is one document (text,
// Markdown, HTML, PDF) rather than one per row.
func wholeFile(name string) bool {
	f, ok := formats[strings.ToLower(filepath.Ext(name))]
	return ok && !f.rows
}

// Parse reads a file from r and returns its documents: one for a text,
// Markdown, HTML or PDF file, one per row for JSONL and CSV. name is the
// file's source (an absolute path for an import, the file name for an
// upload); its extension picks the parser, and it becomes every document's
// Source. Ids follow the package's rule: a whole-file document's id comes
// from the file's bytes, a row's from its "id" field or else its content.
//
// The parse is bounded by lim (zero fields mean the defaults): reading more
// than MaxFileBytes, a document of more than MaxTextBytes of text, more rows
// than MaxRows, or a parse longer than Timeout fail with ErrLimit, naming
// the limit. Rows that fail are returned as *RowError values in rows while
// the good rows are kept. Parse fails with ErrUnsupported for an unknown
// extension, ErrBinary when a text format holds binary data, ErrNoText when
// the file has no text at all, and ctx's error when ctx ends first.
func Parse(ctx context.Context, name string, r io.Reader, lim Limits) (docs []Doc, rows []error, err error) {
	if err := lim.Check(); err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", name, err)
	}
	lim = lim.withDefaults()
	f, ok := formats[strings.ToLower(filepath.Ext(name))]
	if !ok {
		return nil, nil, fmt.Errorf("parse %s: extension %q: %w", name, filepath.Ext(name), ErrUnsupported)
	}
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", name, err)
	}
	if int64(len(data)) > lim.MaxFileBytes {
		return nil, nil, fmt.Errorf("parse %s: %w", name, fileTooLarge(-1, lim))
	}
	ctx, cancel := context.WithTimeoutCause(ctx, lim.Timeout,
		overLimit("parse took longer than %s (limit Timeout, --parse-timeout; raise it to parse slow files)", lim.Timeout))
	defer cancel()
	docs, rows, err = f.parse(ctx, name, data, lim)
	if ctx.Err() != nil {
		// A parser may notice the end late, or return what it had.
		return nil, nil, fmt.Errorf("parse %s: %w", name, context.Cause(ctx))
	}
	if err != nil {
		return nil, rows, fmt.Errorf("parse %s: %w", name, err)
	}
	if len(docs) == 0 && len(rows) == 0 {
		return nil, nil, fmt.Errorf("parse %s: %w", name, ErrNoText)
	}
	var id string
	if !f.rows {
		id = fileID(data)
	}
	kept := docs[:0]
	for i := range docs {
		d := docs[i]
		if len(d.Text) > lim.MaxTextBytes {
			err := overLimit("%d bytes of text, over the limit of %d (MaxTextBytes, --max-text; raise it to index longer documents)",
				len(d.Text), lim.MaxTextBytes)
			if !f.rows {
				return nil, rows, fmt.Errorf("parse %s: %w", name, err)
			}
			rows = append(rows, &RowError{Path: name, Line: 0, Err: fmt.Errorf("document %d: %w", i+1, err)})
			continue
		}
		d.Source = name
		switch {
		case !f.rows:
			d.ID = id
		case d.ID == "":
			d.ID = contentID(d)
		}
		kept = append(kept, d)
	}
	return kept, rows, nil
}

// ParseFile is Parse of the file at path, named by its absolute path. A
// file larger than lim.MaxFileBytes is refused before any of it is read.
func ParseFile(ctx context.Context, path string, lim Limits) (docs []Doc, rows []error, err error) {
	if err := lim.Check(); err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if !Supported(abs) {
		return nil, nil, fmt.Errorf("parse %s: extension %q: %w", path, filepath.Ext(abs), ErrUnsupported)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
		if l := lim.withDefaults(); info.Size() > l.MaxFileBytes {
			return nil, nil, fmt.Errorf("parse %s: %w", abs, fileTooLarge(info.Size(), l))
		}
	}
	return Parse(ctx, abs, f, lim)
}

// fileTooLarge is the ErrLimit of a file over MaxFileBytes; size < 0 when
// only "larger" is known.
func fileTooLarge(size int64, lim Limits) error {
	if size < 0 {
		return overLimit("file is larger than the limit of %d bytes (MaxFileBytes, --max-file-size; raise it to parse larger files)", lim.MaxFileBytes)
	}
	return overLimit("file of %d bytes is larger than the limit of %d (MaxFileBytes, --max-file-size; raise it to parse larger files)", size, lim.MaxFileBytes)
}

// idDigits is how many hex digits of a SHA-256 an id keeps: 80 bits, so
// that distinct files or rows share an id by accident with odds of about
// n²/2⁸¹ — never, for any collection this runs on.
const idDigits = 20

// fileID is the id of a document made from a whole file with these bytes:
// "f" and the first idDigits hex digits of their SHA-256. The same bytes
// get the same id wherever they come from, and the id is safe in a URL
// path segment.
func fileID(data []byte) string {
	sum := sha256.Sum256(data)
	return "f" + hex.EncodeToString(sum[:idDigits/2])
}

// contentID is the id of a document given without one (a row without an
// "id" field, a JSON document without "id"): "r" and idDigits hex digits of
// the SHA-256 of its title, text and metadata (sorted by key), each
// length-prefixed so that no two different documents encode alike. Source
// is not part of it: the same content from anywhere is one document.
func contentID(d Doc) string {
	h := sha256.New()
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put(d.Title)
	put(d.Text)
	keys := make([]string, 0, len(d.Metadata))
	for k := range d.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	binary.BigEndian.PutUint64(n[:], uint64(len(keys)))
	h.Write(n[:])
	for _, k := range keys {
		put(k)
		put(d.Metadata[k])
	}
	return "r" + hex.EncodeToString(h.Sum(nil)[:idDigits/2])
}

// fileTitle is the title of last resort: the file name without extension.
func fileTitle(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// checkText refuses data that is not text: a NUL byte, or more than a few
// invalid UTF-8 sequences (a stray Latin-1 byte is repaired instead).
func checkText(data []byte) (string, error) {
	head := data[:min(len(data), 8192)]
	if bytes.IndexByte(head, 0) >= 0 {
		return "", fmt.Errorf("NUL byte in the first %d bytes: %w", len(head), ErrBinary)
	}
	if utf8.Valid(data) {
		return string(data), nil
	}
	bad := 0
	for b := data; len(b) > 0; {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			bad++
		}
		b = b[n:]
	}
	if bad*100 > len(data) {
		return "", fmt.Errorf("%d of %d bytes are not UTF-8: %w", bad, len(data), ErrBinary)
	}
	return strings.ToValidUTF8(string(data), "\uFFFD"), nil
}

// tidy normalises line ends and trims the text; parsers return tidy text.
func tidy(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimPrefix(s, "\uFEFF")
	return strings.TrimSpace(s)
}

// firstLineTitle takes a short first line as the title, as plain-text notes
// usually begin with one.
func firstLineTitle(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	line = strings.TrimSpace(line)
	if line == "" || utf8.RuneCountInString(line) > 100 {
		return ""
	}
	return line
}

func parseText(_ context.Context, path string, data []byte, _ Limits) ([]Doc, []error, error) {
	text, err := checkText(data)
	if err != nil {
		return nil, nil, err
	}
	text = tidy(text)
	if text == "" {
		return nil, nil, ErrNoText
	}
	title := firstLineTitle(text)
	if title == "" {
		title = fileTitle(path)
	}
	return []Doc{{Title: title, Text: text, Source: path}}, nil, nil
}
