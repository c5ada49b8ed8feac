package indexer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

func TestParseCSVQuoteInAFieldIsARowError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		csv      string
		texts    []string // of the documents kept
		badLines []int
	}{
		// A bare quote inside an unquoted first field once made parseCSV
		// panic (FieldPos after a failed Read); the reader resyncs on the
		// next line.
		{"bare quote", "text,lang\nhe said \"hi\" there,en\nfine row,en\n", []string{"fine row"}, []int{2}},
		{"bare quote in a later field", "lang,text\nen,he said \"hi\"\nen,fine row\n", []string{"fine row"}, []int{2}},
		{"text after a closing quote", "text,lang\n\"quoted\"tail,en\nfine row,en\n", []string{"fine row"}, []int{2}},
		// A quote that never closes takes the rest of the file with it.
		{"unclosed quote", "text,lang\nfirst,en\n\"never closed,en\nlost row,en\n", []string{"first"}, []int{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, rows, err := Parse(context.Background(), "/data/rows.csv", strings.NewReader(tc.csv), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, d := range docs {
				texts = append(texts, d.Text)
			}
			var lines []int
			for _, r := range rows {
				re, ok := errors.AsType[*RowError](r)
				if !ok {
					t.Fatalf("row error %v is not a *RowError", r)
				}
				lines = append(lines, re.Line)
			}
			if fmt.Sprint(texts) != fmt.Sprint(tc.texts) || fmt.Sprint(lines) != fmt.Sprint(tc.badLines) {
				t.Errorf("kept %q, bad lines %v (%v); want %q, %v", texts, lines, rows, tc.texts, tc.badLines)
			}
		})
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestParseRefusesFilesOverItsLimits(t *testing.T) {
	ctx := context.Background()
	rows := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "{\"text\": \"row %d\"}\n", i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, file, data string
		lim              Limits
		want             string // in the message
	}{
		{"file bytes", "big.txt", strings.Repeat("word ", 1000), Limits{MaxFileBytes: 100}, "MaxFileBytes"},
		{"text bytes", "long.md", "# Title\n\n" + strings.Repeat("word ", 100), Limits{MaxTextBytes: 100}, "MaxTextBytes"},
		{"JSONL rows", "rows.jsonl", rows(11), Limits{MaxRows: 10}, "MaxRows"},
		{"JSONL bad rows count too", "rows.jsonl", strings.Repeat("not json\n", 11), Limits{MaxRows: 10}, "MaxRows"},
		{"CSV rows", "rows.csv", "text\n" + strings.Repeat("a row\n", 11), Limits{MaxRows: 10}, "MaxRows"},
		{"time", "notes.txt", "some text", Limits{Timeout: time.Nanosecond}, "Timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &countingReader{r: strings.NewReader(tc.data)}
			_, _, err := Parse(ctx, tc.file, r, tc.lim)
			if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("Parse = %v, want ErrLimit naming %s and the file", err, tc.want)
			}
			if tc.lim.MaxFileBytes > 0 && r.n > tc.lim.MaxFileBytes+1 {
				t.Errorf("read %d bytes with a limit of %d", r.n, tc.lim.MaxFileBytes)
			}
		})
	}

	// Within the limits, a row over the text limit is a row error only.
	docs, bad, err := Parse(ctx, "rows.jsonl", strings.NewReader(`{"text": "short"}`+"\n"+`{"text": "`+strings.Repeat("long ", 30)+`"}`), Limits{MaxTextBytes: 100})
	if err != nil || len(docs) != 1 || len(bad) != 1 || !errors.Is(bad[0], ErrLimit) {
		t.Errorf("row over MaxTextBytes: %d docs, rows %v, %v", len(docs), bad, err)
	}

	// A file far over the limit is refused by its size, unread.
	huge := filepath.Join(t.TempDir(), "huge.txt")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(10 << 30); err != nil { // sparse: no disk used
		t.Skipf("cannot make a sparse file: %v", err)
	}
	f.Close()
	if _, _, err := ParseFile(ctx, huge, Limits{}); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "10737418240 bytes") {
		t.Errorf("ParseFile of 10 GiB = %v, want ErrLimit naming its size", err)
	}

	// A context that ended is the error, whatever the parse found.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := Parse(cancelled, "rows.jsonl", strings.NewReader(rows(1000)), Limits{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Parse with a cancelled context = %v", err)
	}
	if _, _, err := Parse(ctx, "x.txt", strings.NewReader("x"), Limits{MaxRows: -1}); err == nil {
		t.Error("Parse accepted a negative limit")
	}
}

// containerDepth is the deepest nesting of block quotes and list items in
// the Markdown tree goldmark makes of src.
func containerDepth(src []byte) int {
	deepest := 0
	var walk func(n ast.Node, d int)
	walk = func(n ast.Node, d int) {
		switch n.Kind() {
		case ast.KindBlockquote, ast.KindListItem:
			d++
		}
		deepest = max(deepest, d)
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if c.Type() == ast.TypeBlock {
				walk(c, d)
			}
		}
	}
	walk(markdown.Parser().Parse(text.NewReader(src)), 0)
	return deepest
}

// hostileMarkdown are shapes whose parse took time quadratic in their size
// before boundMarkdown (see /work/notes/parse.md), at about 100 kB each.
var hostileMarkdown = map[string]string{
	"nested quotes":       strings.Repeat(">", 100_000) + " deep words\n",
	"spaced quotes":       strings.Repeat("> ", 50_000) + "deep words\n",
	"nested list markers": strings.Repeat("- ", 50_000) + "deep words\n",
	"ordered markers":     strings.Repeat("1. ", 30_000) + "deep words\n",
	"list then quote":     strings.Repeat("- > ", 25_000) + "deep words\n",
	"indented lists": func() string {
		var b strings.Builder
		for i := range 300 {
			b.WriteString(strings.Repeat("  ", i) + "- deep words\n")
		}
		return b.String()
	}(),
	"quote per line": func() string {
		var b strings.Builder
		for i := range 400 {
			b.WriteString(strings.Repeat(">", i) + " deep words\n")
		}
		return b.String()
	}(),
	"open brackets":    strings.Repeat("[", 50_000) + "deep words" + strings.Repeat("]", 50_000),
	"bracket parens":   strings.Repeat("[a](", 25_000) + " deep words",
	"angle dest":       strings.Repeat("[a](<", 20_000) + " deep words",
	"brackets by line": strings.Repeat("[\n", 50_000) + "deep words" + strings.Repeat("]\n", 50_000),
}

func TestBoundMarkdownCapsNestingAndKeepsTheText(t *testing.T) {
	for name, src := range hostileMarkdown {
		t.Run(name, func(t *testing.T) {
			for _, depth := range []int{4, DefaultMaxDepth} {
				out := boundMarkdown([]byte(src), depth)
				if d := containerDepth(out); d > depth {
					t.Errorf("MaxDepth %d: goldmark nests %d deep", depth, d)
				}
				docs, _, err := Parse(context.Background(), "hostile.md", bytes.NewReader([]byte(src)), Limits{MaxDepth: depth})
				if err != nil || len(docs) != 1 || !strings.Contains(docs[0].Text, "deep words") {
					t.Fatalf("MaxDepth %d: Parse = %d docs, %v", depth, len(docs), err)
				}
			}
		})
	}
}

func TestBoundMarkdownLeavesOrdinaryMarkdownAlone(t *testing.T) {
	src, err := os.ReadFile("testdata/guide.md")
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, "\n> a quote\n> > nested\n\n1. one\n   - two\n     > three [link](http://example.com/a_(b)) ![img](data:image/png;base64,AAAA)\n"...)
	if out := boundMarkdown(src, DefaultMaxDepth); !bytes.Equal(out, src) {
		t.Errorf("boundMarkdown changed ordinary Markdown:\n%s", out)
	}
}

func TestParseHTMLKeepsTheTextOfDeepPages(t *testing.T) {
	for _, tc := range []struct {
		name, html string
		lim        Limits
	}{
		// More than html.Parse's 512 open elements: read token by token.
		{"100k unclosed divs", "<title>Deep</title>" + strings.Repeat("<div>x ", 100_000) + "<script>hidden()</script>deep words", Limits{}},
		{"misnested b i", strings.Repeat("<b><i>a</b></i>", 100_000) + "<p>deep words", Limits{}},
		{"past MaxDepth", strings.Repeat("<section><p>", 40) + "deep <b>words</b><style>p{}</style>", Limits{MaxDepth: 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, _, err := Parse(context.Background(), "deep.html", strings.NewReader(tc.html), tc.lim)
			if err != nil || len(docs) != 1 {
				t.Fatalf("Parse = %d docs, %v", len(docs), err)
			}
			if d := docs[0].Text; !strings.Contains(d, "deep words") || strings.Contains(d, "hidden") || strings.Contains(d, "p{}") {
				t.Errorf("text %.200q...%q", d, d[max(0, len(d)-100):])
			}
		})
	}
}

func TestParseIDsComeFromContentNotNames(t *testing.T) {
	ctx := context.Background()
	parse := func(name, data string) []Doc {
		t.Helper()
		docs, rows, err := Parse(ctx, name, strings.NewReader(data), Limits{})
		if err != nil || len(rows) > 0 {
			t.Fatalf("Parse(%s) = %v, %v", name, rows, err)
		}
		return docs
	}
	readme := "# Tool\n\nRun it with --help."
	a, b := parse("/home/a/README.md", readme), parse("README.md", readme)
	c := parse("/home/a/README.md", readme+"\n\nNew section.")
	if a[0].ID != b[0].ID || a[0].ID == c[0].ID || a[0].ID != fileID([]byte(readme)) || !strings.HasPrefix(a[0].ID, "f") || len(a[0].ID) != 21 {
		t.Errorf("ids: same bytes %q and %q, other bytes %q", a[0].ID, b[0].ID, c[0].ID)
	}
	if b[0].Source != "README.md" || a[0].Source != "/home/a/README.md" {
		t.Errorf("sources %q, %q", a[0].Source, b[0].Source)
	}

	// The same bytes through ParseFile and through Parse under another name.
	p := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(p, []byte("Greenhouse\n\nWater at dawn."), 0o644); err != nil {
		t.Fatal(err)
	}
	fromDisk, _, err := ParseFile(ctx, p, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if up := parse("upload.txt", "Greenhouse\n\nWater at dawn."); up[0].ID != fromDisk[0].ID {
		t.Errorf("upload id %q, import id %q", up[0].ID, fromDisk[0].ID)
	}

	// Rows: a named id stays; an unnamed row's id is its content's,
	// whatever the file is called.
	rows1 := parse("/x/data.jsonl", `{"id": "k1", "text": "one"}`+"\n"+`{"text": "two", "lang": "en"}`+"\n")
	rows2 := parse("/y/data.jsonl", `{"text": "two", "lang": "en"}`+"\n"+`{"text": "two", "lang": "fr"}`+"\n"+`{"title": "t", "text": "two"}`+"\n")
	if rows1[0].ID != "k1" || rows1[1].ID != rows2[0].ID || !strings.HasPrefix(rows1[1].ID, "r") {
		t.Errorf("row ids %q and %q", []string{rows1[0].ID, rows1[1].ID}, []string{rows2[0].ID, rows2[1].ID, rows2[2].ID})
	}
	seen := map[string]bool{}
	for _, d := range rows2 {
		seen[d.ID] = true
	}
	if len(seen) != 3 {
		t.Errorf("rows differing in metadata or title share ids: %+v", rows2)
	}
	csv := parse("other.csv", "lang,text\nen,two\n")
	if csv[0].ID != rows1[1].ID {
		t.Errorf("the same row in CSV got %q, in JSONL %q", csv[0].ID, rows1[1].ID)
	}
}

func TestContentIDSeparatesFieldsAndIgnoresOrderAndSource(t *testing.T) {
	same := [][2]Doc{
		{{Text: "t", Metadata: map[string]string{"a": "1", "b": "2"}}, {Text: "t", Metadata: map[string]string{"b": "2", "a": "1"}, Source: "elsewhere"}},
		{{Text: "t"}, {Text: "t", Metadata: map[string]string{}}},
	}
	for _, p := range same {
		if contentID(p[0]) != contentID(p[1]) {
			t.Errorf("%+v and %+v got different ids", p[0], p[1])
		}
	}
	differ := [][2]Doc{
		{{Title: "ab", Text: "c"}, {Title: "a", Text: "bc"}},
		{{Text: "t", Metadata: map[string]string{"ab": "c"}}, {Text: "t", Metadata: map[string]string{"a": "bc"}}},
		{{Text: "t", Metadata: map[string]string{"a": ""}}, {Text: "t"}},
		{{Title: "x", Text: "t"}, {Text: "t", Metadata: map[string]string{"title": "x"}}},
	}
	for _, p := range differ {
		if contentID(p[0]) == contentID(p[1]) {
			t.Errorf("%+v and %+v share an id", p[0], p[1])
		}
	}
}
