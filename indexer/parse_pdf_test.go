package indexer

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ledongthuc/pdf"
)

// pdfBuilder writes a PDF of numbered objects (1, 2, …) with a correct
// cross-reference table, so tests can make any page tree, hostile or not.
type pdfBuilder struct {
	objs [][]byte
}

// add appends an object and returns its number.
func (b *pdfBuilder) add(body string) int {
	b.objs = append(b.objs, []byte(body))
	return len(b.objs)
}

// set replaces object n, for references made before the object is known.
func (b *pdfBuilder) set(n int, body string) { b.objs[n-1] = []byte(body) }

// stream appends a stream object with dictionary entries dict (without
// /Length) and data, and returns its number.
func (b *pdfBuilder) stream(dict string, data []byte) int {
	var o bytes.Buffer
	fmt.Fprintf(&o, "<< %s /Length %d >>\nstream\n", dict, len(data))
	o.Write(data)
	o.WriteString("\nendstream")
	b.objs = append(b.objs, o.Bytes())
	return len(b.objs)
}

// bytes is the file with catalog object root and, when info > 0, the
// information dictionary info.
func (b *pdfBuilder) bytes(root, info int) []byte {
	var out bytes.Buffer
	out.WriteString("%PDF-1.4\n")
	offs := make([]int, len(b.objs))
	for i, o := range b.objs {
		offs[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n", i+1)
		out.Write(o)
		out.WriteString("\nendobj\n")
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(b.objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root %d 0 R", len(b.objs)+1, root)
	if info > 0 {
		fmt.Fprintf(&out, " /Info %d 0 R", info)
	}
	fmt.Fprintf(&out, " >>\nstartxref\n%d\n%%%%EOF\n", xref)
	return out.Bytes()
}

// helvetica is a font dictionary the library decodes with PDFDocEncoding.
const helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"

// textPDF is a document of one page per entry of pages, each showing its
// lines in Helvetica.
func textPDF(title string, pages ...[]string) []byte {
	var b pdfBuilder
	catalog := b.add("")
	tree := b.add("")
	font := b.add(helvetica)
	var kids []string
	for _, lines := range pages {
		var c bytes.Buffer
		c.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
		for _, l := range lines {
			fmt.Fprintf(&c, "(%s) Tj T*\n", l)
		}
		c.WriteString("ET")
		content := b.stream("", c.Bytes())
		kids = append(kids, fmt.Sprintf("%d 0 R", b.add(fmt.Sprintf(
			"<< /Type /Page /Parent %d 0 R /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>", tree, content, font))))
	}
	b.set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", tree))
	b.set(tree, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(kids)))
	info := b.add(fmt.Sprintf("<< /Title (%s) >>", title))
	return b.bytes(catalog, info)
}

// selfKidPDF is the review's 244-byte file: a page tree whose root lists
// itself as its only kid. The library's Page walk never ends on it.
func selfKidPDF() []byte {
	var b pdfBuilder
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	b.add("<< /Type /Pages /Kids [2 0 R] /Count 1 >>")
	return b.bytes(1, 0)
}

// hugeCountPDF claims 2,000,000,000 pages and has two: NumPage believes
// the claim and the old parser looked up every one of them.
func hugeCountPDF() []byte {
	var b pdfBuilder
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	b.add("<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2000000000 >>")
	b.add("<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 7 0 R >> >> >>")
	b.stream("", []byte("BT /F1 12 Tf (First page.) Tj ET"))
	b.add("<< /Type /Page /Parent 2 0 R /Contents 6 0 R /Resources << /Font << /F1 7 0 R >> >> >>")
	b.stream("", []byte("BT /F1 12 Tf (Second page.) Tj ET"))
	b.add(helvetica)
	return b.bytes(1, 0)
}

// deflated compresses n bytes of repeated unit with zlib at its best
// compression, without holding the n bytes.
func deflated(tb testing.TB, unit string, n int) []byte {
	tb.Helper()
	var out bytes.Buffer
	w, _ := zlib.NewWriterLevel(&out, zlib.BestCompression)
	chunk := []byte(strings.Repeat(unit, max(1, (64<<10)/len(unit))))
	for written := 0; written < n; written += len(chunk) {
		if _, err := w.Write(chunk[:min(len(chunk), n-written)]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// bombPDF is a one-page document whose content stream is n bytes of unit,
// deflated: spaces make an inflate bomb, "(text) Tj " a text bomb.
func bombPDF(tb testing.TB, unit string, n int) []byte {
	var b pdfBuilder
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	b.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	b.add("<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>")
	b.stream("/Filter /FlateDecode", deflated(tb, unit, n))
	b.add(helvetica)
	return b.bytes(1, 0)
}

// manyPagesPDF is a flat page tree of n pages sharing one content stream.
func manyPagesPDF(n int) []byte {
	var b pdfBuilder
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	b.add("")
	content := b.stream("", []byte("BT /F1 12 Tf (A page.) Tj ET"))
	font := b.add(helvetica)
	var kids []string
	for i := 0; i < n; i++ {
		kids = append(kids, fmt.Sprintf("%d 0 R", b.add(fmt.Sprintf(
			"<< /Type /Page /Parent 2 0 R /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>", content, font))))
	}
	b.set(2, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	return b.bytes(1, 0)
}

// testLimits are low limits that keep the hostile tests fast.
var testLimits = Limits{
	MaxTextBytes:     64 << 10,
	MaxInflatedBytes: 1 << 20,
	MaxPages:         20,
	MaxDepth:         16,
}.withDefaults()

func TestParsePDFReadsPagesTitleAndFonts(t *testing.T) {
	docs, _, err := parsePDF(context.Background(), "/docs/manual.pdf",
		textPDF("Pump manual", []string{"Prime the pump.", "Clean the filter."}, []string{"Second page."}), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	d := docs[0]
	if d.Title != "Pump manual" || d.Source != "/docs/manual.pdf" || d.ID != "" {
		t.Errorf("title %q source %q id %q", d.Title, d.Source, d.ID)
	}
	if want := "Prime the pump.\nClean the filter.\n\nSecond page."; d.Text != want {
		t.Errorf("text %q, want %q", d.Text, want)
	}
}

func TestParsePDFRefusesPageTreeThatLoops(t *testing.T) {
	_, _, err := parsePDF(context.Background(), "loop.pdf", selfKidPDF(), testLimits)
	if err == nil || !strings.Contains(err.Error(), "loops back on itself") {
		t.Fatalf("err = %v, want a page tree that loops back on itself", err)
	}

	// A two-node cycle, and a subtree reached twice, fail the same way.
	var b pdfBuilder
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	b.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	b.add("<< /Type /Pages /Kids [2 0 R] /Count 1 >>")
	if _, _, err := parsePDF(context.Background(), "cycle.pdf", b.bytes(1, 0), testLimits); err == nil ||
		!strings.Contains(err.Error(), "loops back on itself") {
		t.Errorf("two-node cycle: err = %v", err)
	}
	b = pdfBuilder{}
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	b.add("<< /Type /Pages /Kids [3 0 R 3 0 R] /Count 2 >>")
	b.add("<< /Type /Pages /Kids [4 0 R] /Count 1 >>")
	b.add("<< /Type /Page /Parent 3 0 R >>")
	if _, _, err := parsePDF(context.Background(), "shared.pdf", b.bytes(1, 0), testLimits); err == nil ||
		!strings.Contains(err.Error(), "same node twice") {
		t.Errorf("shared subtree: err = %v", err)
	}
}

func TestParsePDFIgnoresPageCount(t *testing.T) {
	docs, _, err := parsePDF(context.Background(), "count.pdf", hugeCountPDF(), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if want := "First page.\n\nSecond page."; docs[0].Text != want {
		t.Errorf("text %q, want %q", docs[0].Text, want)
	}
}

func TestParsePDFStopsAtPageTreeLimits(t *testing.T) {
	_, _, err := parsePDF(context.Background(), "pages.pdf", manyPagesPDF(testLimits.MaxPages+1), testLimits)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "MaxPages") {
		t.Errorf("%d pages: err = %v, want ErrLimit naming MaxPages", testLimits.MaxPages+1, err)
	}
	if _, _, err := parsePDF(context.Background(), "pages.pdf", manyPagesPDF(testLimits.MaxPages), testLimits); err != nil {
		t.Errorf("%d pages: %v", testLimits.MaxPages, err)
	}

	// A chain of page-tree nodes deeper than MaxDepth.
	var b pdfBuilder
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	for i := 0; i < testLimits.MaxDepth+1; i++ {
		b.add(fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", i+3))
	}
	b.add("<< /Type /Page >>")
	_, _, err = parsePDF(context.Background(), "deep.pdf", b.bytes(1, 0), testLimits)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "MaxDepth") {
		t.Errorf("deep tree: err = %v, want ErrLimit naming MaxDepth", err)
	}

	// Many nodes without pages use up the node budget.
	b = pdfBuilder{}
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	b.add("<< /Type /Pages /Kids [" + strings.Repeat("null ", 3*testLimits.MaxPages) + "] /Count 0 >>")
	_, _, err = parsePDF(context.Background(), "empty.pdf", b.bytes(1, 0), testLimits)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "nodes") {
		t.Errorf("empty nodes: err = %v, want ErrLimit on nodes", err)
	}
}

func TestParsePDFStopsInflateBomb(t *testing.T) {
	bomb := bombPDF(t, " ", 8<<20)
	_, _, err := parsePDF(context.Background(), "bomb.pdf", bomb, testLimits)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "inflate past") ||
		!strings.Contains(err.Error(), "MaxInflatedBytes") {
		t.Fatalf("err = %v, want ErrLimit on inflated bytes", err)
	}
	// The same stream under the limit is read (and has no text).
	lim := testLimits
	lim.MaxInflatedBytes = 9 << 20
	if _, _, err := parsePDF(context.Background(), "bomb.pdf", bomb, lim); !errors.Is(err, ErrNoText) {
		t.Errorf("under the limit: err = %v, want ErrNoText", err)
	}
}

func TestParsePDFStopsTextBomb(t *testing.T) {
	// 1 MiB of stream, under the inflate limit, shows 700 KiB of text.
	_, _, err := parsePDF(context.Background(), "text.pdf", bombPDF(t, "(Pump water.) Tj ", 1<<20), testLimits)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "MaxTextBytes") {
		t.Fatalf("err = %v, want ErrLimit naming MaxTextBytes", err)
	}
}

func TestParsePDFStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, data := range map[string][]byte{
		"good":  textPDF("t", []string{"Some text."}),
		"loop":  selfKidPDF(),
		"bomb":  bombPDF(t, " ", 2<<20),
		"pages": manyPagesPDF(5),
	} {
		if _, _, err := parsePDF(ctx, name+".pdf", data, testLimits); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", name, err)
		}
	}

	// A context that ends in the middle of a stream stops it there.
	ctx, cancelCause := context.WithCancelCause(context.Background())
	stop := errors.New("stop")
	p := &pdfParse{ctx: ctx, lim: testLimits}
	r := &inflateReader{p: p, r: strings.NewReader(strings.Repeat(" ", 1<<20))}
	buf := make([]byte, 1<<20)
	if n, err := r.Read(buf); n != inflateChunk || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	cancelCause(stop)
	if _, err := r.Read(buf); !errors.Is(err, stop) {
		t.Errorf("read after cancel: %v, want the cause", err)
	}
}

// TestPDFObjKey pins the library behaviour pdfObjKey rests on: a Value
// for a missing key carries the object number of its dictionary, so two
// reads of one object are the same key and two objects with equal content
// are not.
func TestPDFObjKey(t *testing.T) {
	var b pdfBuilder
	b.add("<< /Type /Catalog /Pages 2 0 R /A 3 0 R /B 4 0 R >>")
	b.add("<< /Type /Pages /Kids [] /Count 0 >>")
	b.add("<< /Same (content) >>")
	b.add("<< /Same (content) >>")
	data := b.bytes(1, 0)
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	root := r.Trailer().Key("Root")
	a1, ok1 := pdfKeyOf(root.Key("A"))
	a2, ok2 := pdfKeyOf(root.Key("A"))
	bk, ok3 := pdfKeyOf(root.Key("B"))
	if !ok1 || !ok2 || !ok3 {
		t.Fatal("pdfKeyOf failed on plain dictionaries")
	}
	if a1 != a2 {
		t.Error("two reads of object 3 have different keys")
	}
	if a1 == bk {
		t.Error("objects 3 and 4, equal in content, have the same key")
	}
}

// cmapPDF shows "Pumps" in a Type0 font with Identity-H encoding, its
// content split over two streams (the second deflated), its text given by a
// ToUnicode CMap with bfchar, a bfrange to a string and one to an array.
func cmapPDF(tb testing.TB) []byte {
	var b pdfBuilder
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	b.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	b.add("<< /Type /Page /Parent 2 0 R /Contents [4 0 R 5 0 R] /Resources << /Font << /F1 6 0 R >> >> >>")
	b.stream("", []byte("BT /F1 12 Tf <0001 0002> Tj [<0003> -20"))
	tail := "<0004 0005>] TJ ET"
	b.stream("/Filter /FlateDecode", deflated(tb, tail, len(tail)))
	b.add("<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /ToUnicode 7 0 R >>")
	b.stream("", []byte(`/CIDInit /ProcSet findresource begin 12 dict begin begincmap
1 begincodespacerange <0000> <FFFF> endcodespacerange
2 beginbfchar <0001> <0050> <0002> <0075> endbfchar
2 beginbfrange <0003> <0003> <006D> <0004> <0005> [<0070> <0073>] endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end`))
	return b.bytes(1, 0)
}

func TestParsePDFDecodesToUnicodeCMap(t *testing.T) {
	docs, _, err := parsePDF(context.Background(), "cmap.pdf", cmapPDF(t), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if docs[0].Text != "Pumps" {
		t.Errorf("text %q, want %q", docs[0].Text, "Pumps")
	}
}

// onePagePDF is a document of one page with the given page dictionary
// entries (besides /Type and /Parent) and extra objects from number 4 on.
func onePagePDF(page string, objs ...string) []byte {
	var b pdfBuilder
	b.add("<< /Type /Catalog /Pages 2 0 R >>")
	b.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	b.add("<< /Type /Page /Parent 2 0 R " + page + " >>")
	for _, o := range objs {
		b.add(o)
	}
	return b.bytes(1, 0)
}

// streamObj is the text of a stream object holding data.
func streamObj(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

func TestParsePDFSurvivesHostileStructures(t *testing.T) {
	cmapFont := "<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /ToUnicode 6 0 R >>"
	long := strings.Repeat("0041", maxCMapDst/2)
	for _, c := range []struct {
		name string
		data []byte
		text string // the text, when it parses
		err  string // else part of the error
	}{
		{"page is its own parent", onePagePDF("/Parent 3 0 R /Contents 4 0 R",
			streamObj("", []byte("BT (Still read.) Tj ET"))), "Still read.", ""},
		{"unterminated hex string", onePagePDF("/Contents 4 0 R",
			streamObj("", []byte("BT (Before.) Tj <41"))), "Before.", ""},
		{"unterminated literal and array", onePagePDF("/Contents 4 0 R",
			streamObj("", []byte("BT (Before.) Tj [[[ (x"))), "Before.", ""},
		{"deep arrays in an object", onePagePDF("/Contents 4 0 R /X "+strings.Repeat("[", 1<<20),
			streamObj("", []byte("BT (x) Tj ET"))), "", "nesting exceeds"},
		{"deep arrays in content", onePagePDF("/Contents 4 0 R",
			streamObj("", []byte("BT (Text.) Tj "+strings.Repeat("[", 512<<10)+" ET"))), "Text.", ""},
		{"operand flood", onePagePDF("/Contents 4 0 R",
			streamObj("/Filter /FlateDecode", deflated(t, "1 ", 900<<10))), "", "no text"},
		{"inflate bomb in ToUnicode", onePagePDF("/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >>",
			streamObj("", []byte("BT /F1 1 Tf <0001> Tj ET")), cmapFont,
			streamObj("/Filter /FlateDecode", deflated(t, " ", 4<<20))), "", "MaxInflatedBytes"},
		{"ToUnicode mapping every code", onePagePDF("/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >>",
			streamObj("", []byte("BT /F1 1 Tf <0001> Tj ET")), cmapFont,
			streamObj("", []byte("1 beginbfrange <00000000> <FFFFFFFF> <0041> endbfrange"))), "", "maps more than"},
		{"ToUnicode text bomb", onePagePDF("/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >>",
			streamObj("/Filter /FlateDecode", deflated(t, "BT /F1 1 Tf <0001> Tj ET ", 512<<10)), cmapFont,
			streamObj("", []byte("1 beginbfchar <0001> <"+long+"> endbfchar"))), "", "MaxTextBytes"},
		{"contents array of the same stream", onePagePDF("/Contents ["+strings.Repeat("4 0 R ", 100_000)+"]",
			streamObj("/Filter /FlateDecode", deflated(t, " ", 64<<10))), "", "MaxInflatedBytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPDFParse(context.Background(), testLimits)
			docs, err := p.parse("hostile.pdf", c.data)
			if c.err == "" {
				if err != nil || docs[0].Text != c.text {
					t.Fatalf("docs %+v, err %v; want text %q", docs, err, c.text)
				}
			} else if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want one with %q", err, c.err)
			}
			// Whatever happened stayed within the limits: a refused
			// stream or text goes over by one step at most.
			if p.inflated > testLimits.MaxInflatedBytes+inflateChunk {
				t.Errorf("inflated %d bytes, limit %d", p.inflated, testLimits.MaxInflatedBytes)
			}
			if len(p.text) > testLimits.MaxTextBytes+showChunk*maxCMapDst*3/2 {
				t.Errorf("held %d bytes of text, limit %d", len(p.text), testLimits.MaxTextBytes)
			}
		})
	}
}

// withXref edits the cross-reference table of a builder's file: subsection
// is added before the trailer, trailer inside the trailer dictionary.
func withXref(data []byte, subsection, trailer string) []byte {
	s := string(data)
	xref := strings.Index(s, "\nxref\n") + 1
	s = strings.Replace(s, "trailer\n<< ", subsection+"trailer\n<< "+strings.ReplaceAll(trailer, "XREF", fmt.Sprint(xref))+" ", 1)
	return []byte(s)
}

func TestParsePDFRefusesHostileXref(t *testing.T) {
	good := textPDF("t", []string{"Text."})
	// The library makes a 32-byte entry for every number up to the
	// highest: 12.5 GB for this one.
	huge := withXref(good, "400000000 1\n0000000009 00000 n \n", "")
	if _, _, err := parsePDF(context.Background(), "huge.pdf", huge, testLimits); err == nil ||
		!strings.Contains(err.Error(), "past the") {
		t.Errorf("object 400000000: err = %v", err)
	}
	// A /Prev chain back to itself, which the library follows forever.
	loop := withXref(good, "", "/Prev XREF")
	if _, _, err := parsePDF(context.Background(), "prev.pdf", loop, testLimits); err == nil ||
		!strings.Contains(err.Error(), "form a loop") {
		t.Errorf("/Prev loop: err = %v", err)
	}
	// A file that uses its numbers is read.
	if _, _, err := parsePDF(context.Background(), "ok.pdf", withXref(good, "100 1\n0000000009 00000 n \n", ""), testLimits); err != nil {
		t.Errorf("object 100: %v", err)
	}
}
