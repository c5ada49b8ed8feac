package indexer

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"strings"
	"testing"
)

// predictorPDF has one page whose content stream is inflated with a PNG
// predictor of rows columns wide; columns is written as given, so it may
// be a reference.
func predictorPDF(columns string, extra ...string) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte("\x00BT /F1 12 Tf (Hello.) Tj ET"))
	zw.Close()
	var b pdfBuilder
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	b.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	b.add("<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>")
	b.stream(fmt.Sprintf("/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns %s >>", columns), z.Bytes())
	b.add(helvetica)
	for _, o := range extra {
		b.add(o)
	}
	return b.bytes(1, 0)
}

func TestParsePDFRefusesWidePredictorRows(t *testing.T) {
	// The library makes two rows of /Columns bytes before it inflates a
	// byte: 2^40 ended a 64-bit process out of memory (no panic to
	// recover), 2^30 asked a 32-bit one for 2 GiB.
	for _, columns := range []string{"1099511627776", "1073741824", "-5", "99999999999999999999"} {
		_, _, err := parsePDF(context.Background(), "c.pdf", predictorPDF(columns), testLimits)
		if err == nil || !strings.Contains(err.Error(), "/Columns") {
			t.Errorf("/Columns %s: %v, want the rows refused", columns, err)
		}
	}
	// Escaped in the name, as the library reads it; two spaces go so
	// the offsets in the cross-reference table still hold.
	esc := bytes.Replace(predictorPDF("1099511627776"), []byte("<< /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns"),
		[]byte("<</Filter /FlateDecode /DecodeParms <</Predictor 12 /Col#75mns"), 1)
	if _, _, err := parsePDF(context.Background(), "c.pdf", esc, testLimits); err == nil || !strings.Contains(err.Error(), "/Columns") {
		t.Errorf("/Col#75mns: %v, want the rows refused", err)
	}
	// Through a reference, which only the library resolves: object 6.
	ref := predictorPDF("6 0 R", "1099511627776")
	if _, _, err := parsePDF(context.Background(), "c.pdf", ref, testLimits); err == nil || !strings.Contains(err.Error(), "/Columns") {
		t.Errorf("/Columns 6 0 R: %v, want the rows refused", err)
	}
	// A real width reaches the library, which finds these rows malformed.
	if _, _, err := parsePDF(context.Background(), "c.pdf", predictorPDF("4"), testLimits); err == nil || strings.Contains(err.Error(), "/Columns") {
		t.Errorf("/Columns 4: %v, want the library's error", err)
	}
}
