package indexer

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParsePDF checks that no input makes parsePDF panic, or spend more
// than its limits: low ones here, so that every execution is cheap. The
// seeds are the good and hostile files of parse_pdf_test.go, cut short and
// with bytes changed.
func FuzzParsePDF(f *testing.F) {
	seeds := [][]byte{
		textPDF("Pump manual", []string{"Prime the pump.", "Clean the filter."}, []string{"Second page."}),
		cmapPDF(f),
		selfKidPDF(),
		hugeCountPDF(),
		manyPagesPDF(25),
		bombPDF(f, " ", 2<<20),
		bombPDF(f, "(Pump water.) Tj ", 256<<10),
		onePagePDF("/Parent 3 0 R /Contents 4 0 R", streamObj("", []byte("BT (x) Tj <41"))),
		onePagePDF("/Contents 4 0 R /X "+strings.Repeat("[", 2000), streamObj("", []byte("BT (x) Tj ET"))),
	}
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
		f.Add(s[:len(s)*9/10])
		// Break one structural byte: a digit of the first offset in the
		// cross-reference table, and a bracket.
		if i := bytes.Index(s, []byte("xref\n0 ")); i > 0 {
			m := bytes.Clone(s)
			m[i+30] ^= 1
			f.Add(m)
		}
		if i := bytes.IndexByte(s, '['); i > 0 {
			m := bytes.Clone(s)
			m[i] = '('
			f.Add(m)
		}
	}
	lim := Limits{
		MaxTextBytes:     16 << 10,
		MaxInflatedBytes: 256 << 10,
		MaxPages:         16,
		MaxDepth:         8,
	}.withDefaults()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := newPDFParse(context.Background(), lim)
		docs, err := p.parse("fuzz.pdf", data)
		if err != nil {
			if strings.Contains(err.Error(), "runtime error") {
				t.Errorf("a bug, not a bad file: %v", err)
			}
			return
		}
		if len(docs) != 1 || docs[0].Text == "" || docs[0].Title == "" || !utf8.ValidString(docs[0].Text) {
			t.Errorf("docs %+v", docs)
		}
		if p.pages > lim.MaxPages || p.nodes > p.maxNodes() {
			t.Errorf("%d pages, %d nodes", p.pages, p.nodes)
		}
		if p.inflated > lim.MaxInflatedBytes || len(p.text) > lim.MaxTextBytes {
			t.Errorf("inflated %d, text %d bytes: over the limits and no error", p.inflated, len(p.text))
		}
	})
}
