package indexer

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// xrefStreamPDF is a file whose only cross-reference section is a stream
// with field widths w and no data.
func xrefStreamPDF(w string) []byte {
	head := "%PDF-1.5\n"
	obj := fmt.Sprintf("1 0 obj\n<< /Type /XRef /Size 2 /W [%s] /Length 0 >>\nstream\n\nendstream\nendobj\n", w)
	return []byte(head + obj + fmt.Sprintf("startxref\n%d\n%%%%EOF\n", len(head)))
}

func TestParsePDFRefusesWideXrefStreamFields(t *testing.T) {
	// The library allocates one entry's bytes, the sum of /W, before it
	// reads any: [1 1099511627776 1] ended a 64-bit process with "out of
	// memory" (not a panic it could recover from), [0 2147483647 0] asked a
	// 32-bit one for 2 GiB.
	for _, w := range []string{"1 1099511627776 1", "0 2147483647 0", "1 9 1", "1 -1 1"} {
		_, _, err := parsePDF(context.Background(), "w.pdf", xrefStreamPDF(w), testLimits)
		if err == nil || !strings.Contains(err.Error(), "wide") {
			t.Errorf("/W [%s]: %v, want the field width refused", w, err)
		}
	}
	// Widths a real file uses reach the library, which finds the stream
	// empty.
	for _, w := range []string{"1 2 1", "1 8 2", "0 4 0"} {
		_, _, err := parsePDF(context.Background(), "w.pdf", xrefStreamPDF(w), testLimits)
		if err == nil || strings.Contains(err.Error(), "wide") {
			t.Errorf("/W [%s]: %v, want the library's error", w, err)
		}
	}
}
