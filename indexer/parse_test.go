package indexer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePDF writes a minimal one-page PDF showing lines with the standard
// Helvetica font, with a correct cross-reference table, and an information
// dictionary titled title.
func writePDF(t testing.TB, path, title string, lines ...string) {
	t.Helper()
	var content bytes.Buffer
	content.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
	for _, l := range lines {
		fmt.Fprintf(&content, "(%s) Tj T*\n", l)
	}
	content.WriteString("ET\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		fmt.Sprintf("<< /Title (%s) >>", title),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseFileKeepsReadableTextAndTitle(t *testing.T) {
	pdfPath := filepath.Join(t.TempDir(), "manual.pdf")
	writePDF(t, pdfPath, "Pump manual", "Prime the pump before first use.", "Clean the filter monthly.")
	for _, tc := range []struct {
		path    string
		title   string
		want    []string // substrings of the text
		wantNot []string
	}{
		{"testdata/notes.txt", "Watering the greenhouse", []string{"Tomatoes need deep watering", "fine mist"}, nil},
		{"testdata/guide.md", "Pruning apple trees",
			[]string{"Pruning apple trees", "Cut in late winter, when the tree is dormant.", "the orchard notes", "Remove dead wood first.", "Loppers | thick branches", "saw --sharp"},
			[]string{"**", "#", "](", "generated header", "http://example.com"}},
		{"testdata/messy.html", "Bee keeping basics",
			[]string{"Hives", "A strong colony has one queen\n\nand many workers.", "Unclosed bold text", "Smoke calms the bees & makes inspection safer.", "a frame of honey", "Spring inspect weekly"},
			[]string{"do not index", "color: red", "Home", "About", "<"}},
		{pdfPath, "Pump manual", []string{"Prime the pump before first use.", "Clean the filter monthly."}, nil},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			docs, rows, err := ParseFile(context.Background(), tc.path, Limits{})
			if err != nil || len(rows) != 0 || len(docs) != 1 {
				t.Fatalf("ParseFile = %d docs, rows %v, err %v", len(docs), rows, err)
			}
			d := docs[0]
			if d.Title != tc.title {
				t.Errorf("title %q, want %q", d.Title, tc.title)
			}
			data, err := os.ReadFile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if d.Source != abs(t, tc.path) || d.ID != fileID(data) {
				t.Errorf("source %q id %q, want the absolute path and the fileID of the bytes", d.Source, d.ID)
			}
			for _, w := range tc.want {
				if !strings.Contains(d.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, d.Text)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(d.Text, w) {
					t.Errorf("text holds %q:\n%s", w, d.Text)
				}
			}
		})
	}
}

func TestParseRowsMakesOneDocumentPerRowAndReportsBadRows(t *testing.T) {
	for _, tc := range []struct {
		path     string
		want     []Doc
		badLines []int
	}{
		{"testdata/rows.csv", []Doc{
			{ID: "c1", Title: "Compost", Text: "Mix greens and browns, then turn the pile weekly.", Metadata: map[string]string{"author": "Ann", "year": "2021"}},
			{ID: "c2", Title: "Mulch, bark", Text: "Bark mulch keeps soil moist, and suppresses weeds.", Metadata: map[string]string{"author": "Bo", "year": "2022"}},
			{Title: "No id", Text: "Rainwater barrels save water in summer.", Metadata: map[string]string{"author": "Di", "year": "2024"}},
		}, []int{4}},
		{"testdata/rows.jsonl", []Doc{
			{ID: "j1", Title: "Bees", Text: "Bees pollinate fruit trees.", Metadata: map[string]string{"tags": `["bees","fruit"]`, "stars": "5"}},
			{ID: "42", Title: "Soil", Text: "Test soil pH every spring.", Metadata: map[string]string{"lang": "en"}},
		}, []int{4, 5}},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			docs, rows, err := ParseFile(context.Background(), tc.path, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != len(tc.want) {
				t.Fatalf("%d docs, want %d: %+v", len(docs), len(tc.want), docs)
			}
			for i, w := range tc.want {
				g := docs[i]
				if w.ID == "" {
					// Derived from the row's own content, not the file.
					w.ID = contentID(Doc{Title: w.Title, Text: w.Text, Metadata: w.Metadata})
				}
				if g.ID != w.ID || g.Title != w.Title || g.Text != w.Text || fmt.Sprint(g.Metadata) != fmt.Sprint(w.Metadata) || g.Source != abs(t, tc.path) {
					t.Errorf("row %d = %+v\nwant %+v", i, g, w)
				}
			}
			var lines []int
			for _, r := range rows {
				re, ok := errors.AsType[*RowError](r)
				if !ok {
					t.Fatalf("row error %v is not a *RowError", r)
				}
				lines = append(lines, re.Line)
			}
			if fmt.Sprint(lines) != fmt.Sprint(tc.badLines) {
				t.Errorf("bad rows at lines %v, want %v (%v)", lines, tc.badLines, rows)
			}
		})
	}
}

func TestParseFileRefusesWhatItCannotRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		path string
		want error
	}{
		{"binary text file", write("image.txt", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")), ErrBinary},
		{"unknown extension", write("photo.jpg", []byte("whatever")), ErrUnsupported},
		{"empty file", write("empty.md", []byte("  \n\n")), ErrNoText},
		{"not a PDF", write("fake.pdf", []byte("hello")), ErrBinary},
		{"csv without text column", write("nocol.csv", []byte("id,title\n1,x\n")), ErrNoText},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ParseFile(context.Background(), tc.path, Limits{}); !errors.Is(err, tc.want) {
				t.Errorf("ParseFile(%s) = %v, want %v", filepath.Base(tc.path), err, tc.want)
			}
		})
	}
	// A truncated PDF is an error, not a panic.
	good := filepath.Join(dir, "good.pdf")
	writePDF(t, good, "x", "some text")
	data, _ := os.ReadFile(good)
	if _, _, err := ParseFile(context.Background(), write("cut.pdf", data[:len(data)/2]), Limits{}); err == nil {
		t.Error("ParseFile of a truncated PDF succeeded")
	}
}
