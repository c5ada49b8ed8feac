package indexer

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/ledongthuc/pdf"
)

// parsePDF extracts the text of every page (pages separated by a blank
// line) with github.com/ledongthuc/pdf, which is pure Go. The title comes
// from the document information dictionary, else the first line, else the
// file name. Scanned PDFs without a text layer fail with ErrNoText.
func parsePDF(path string, data []byte) (docs []Doc, rows []error, err error) {
	// The library panics on some malformed files; for us that is just a
	// file we cannot read.
	defer func() {
		if r := recover(); r != nil {
			docs, rows, err = nil, nil, fmt.Errorf("malformed PDF: %v", r)
		}
	}()
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return nil, nil, fmt.Errorf("no %%PDF- header: %w", ErrBinary)
	}
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, fmt.Errorf("read PDF: %w", err)
	}
	fonts := make(map[string]*pdf.Font)
	var b strings.Builder
	for i := 1; i <= r.NumPage(); i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		for _, name := range p.Fonts() {
			if _, ok := fonts[name]; !ok {
				f := p.Font(name)
				fonts[name] = &f
			}
		}
		t, err := p.GetPlainText(fonts)
		if err != nil {
			return nil, nil, fmt.Errorf("page %d: %w", i, err)
		}
		b.WriteString(t)
		b.WriteString("\n\n")
	}
	text := tidy(collapseBlankLines(strings.ToValidUTF8(b.String(), "\uFFFD")))
	if text == "" {
		return nil, nil, fmt.Errorf("no text layer (a scanned PDF?): %w", ErrNoText)
	}
	title := strings.TrimSpace(r.Trailer().Key("Info").Key("Title").Text())
	if title == "" {
		title = firstLineTitle(text)
	}
	if title == "" {
		title = fileTitle(path)
	}
	return []Doc{{ID: FileID(path), Title: title, Text: text, Source: path}}, nil, nil
}
