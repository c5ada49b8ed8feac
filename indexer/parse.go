package indexer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Doc is one document before chunking and embedding: what a parser produces
// and what Ingest accepts. The JSON names are those of POST /documents.
type Doc struct {
	ID       string            `json:"id,omitempty"`       // empty: derived from Source, else from Text
	Title    string            `json:"title,omitempty"`    // free text
	Text     string            `json:"text"`               // required, UTF-8
	Metadata map[string]string `json:"metadata,omitempty"` // key=value pairs, keys non-empty
	Source   string            `json:"source,omitempty"`   // where the text came from: a path or URL
}

// RowError is a failure of one row of a JSONL or CSV file: the rest of the
// file is still imported.
type RowError struct {
	Path string
	Line int // 1-based line (JSONL) or record number counting the header (CSV)
	Err  error
}

func (e *RowError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err) }
func (e *RowError) Unwrap() error { return e.Err }

// parser turns a file's bytes into documents. path is absolute; rows that
// fail go to the returned row errors, a failure of the whole file to err.
type parser func(path string, data []byte) (docs []Doc, rows []error, err error)

// parsers maps lower-case extensions to their parser.
var parsers = map[string]parser{
	".txt":      parseText,
	".text":     parseText,
	".md":       parseMarkdown,
	".markdown": parseMarkdown,
	".html":     parseHTML,
	".htm":      parseHTML,
	".xhtml":    parseHTML,
	".pdf":      parsePDF,
	".jsonl":    parseJSONL,
	".ndjson":   parseJSONL,
	".csv":      parseCSV,
}

// Supported reports whether path has an extension Import reads.
func Supported(path string) bool {
	_, ok := parsers[strings.ToLower(filepath.Ext(path))]
	return ok
}

// ParseFile reads the file at path and returns its documents: one for a
// text, Markdown, HTML or PDF file, one per row for JSONL and CSV. Rows that
// fail are returned as *RowError values in rows while the good rows are kept.
// It fails with ErrUnsupported for an unknown extension, ErrBinary when a text
// format holds binary data and ErrNoText when the file has no text at all.
func ParseFile(path string) (docs []Doc, rows []error, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	parse, ok := parsers[strings.ToLower(filepath.Ext(abs))]
	if !ok {
		return nil, nil, fmt.Errorf("parse %s: extension %q: %w", path, filepath.Ext(abs), ErrUnsupported)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	docs, rows, err = parse(abs, data)
	if err != nil {
		return nil, rows, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(docs) == 0 && len(rows) == 0 {
		return nil, nil, fmt.Errorf("parse %s: %w", path, ErrNoText)
	}
	return docs, rows, nil
}

// FileID is the document id of the file at the absolute path abs: stable
// across imports and safe in a URL path segment, which the path itself is not.
func FileID(abs string) string {
	sum := sha256.Sum256([]byte(filepath.ToSlash(abs)))
	return "f" + hex.EncodeToString(sum[:10])
}

// textID is the id of a document given without id or source: the same text
// gets the same id, so sending it twice stores it once.
func textID(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "t" + hex.EncodeToString(sum[:10])
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

func parseText(path string, data []byte) ([]Doc, []error, error) {
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
	return []Doc{{ID: FileID(path), Title: title, Text: text, Source: path}}, nil, nil
}
