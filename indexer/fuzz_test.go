package indexer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/edgesearch/edgesearch/embedder"
)

// fuzzLimits keep each fuzzed parse small: a low depth so the fuzzer
// reaches the bounds, a text limit it can cross.
var fuzzLimits = Limits{MaxDepth: 8, MaxTextBytes: 1 << 16, MaxRows: 1000}

// addSeeds adds the named testdata files and the given strings as seeds.
func addSeeds(f *testing.F, files []string, extra ...string) {
	for _, name := range files {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// checkDocs asserts what every successful parse promises: documents with
// ids, the file's name as source, and tidy, non-empty UTF-8 text within
// the text limit; row errors that are *RowError with a line.
func checkDocs(t *testing.T, name string, docs []Doc, rows []error, err error) {
	t.Helper()
	if err != nil {
		if len(docs) > 0 {
			t.Fatalf("error %v with %d documents", err, len(docs))
		}
		return
	}
	for i, d := range docs {
		switch {
		case d.ID == "" || !utf8.ValidString(d.ID):
			t.Fatalf("document %d: id %q", i, d.ID)
		case d.Source != name:
			t.Fatalf("document %d: source %q, want %q", i, d.Source, name)
		case d.Text == "" || !utf8.ValidString(d.Text) || strings.TrimSpace(d.Text) != d.Text:
			t.Fatalf("document %d: text %q", i, d.Text)
		case len(d.Text) > fuzzLimits.MaxTextBytes:
			t.Fatalf("document %d: %d bytes of text, limit %d", i, len(d.Text), fuzzLimits.MaxTextBytes)
		}
	}
	for _, r := range rows {
		if re, ok := errors.AsType[*RowError](r); !ok || re.Line < 1 || re.Path != name {
			t.Fatalf("row error %#v", r)
		}
	}
}

func FuzzParseMarkdown(f *testing.F) {
	addSeeds(f, []string{"guide.md"},
		"# T\n\n> > - 1. x\n", strings.Repeat(">", 40)+" x", strings.Repeat("- ", 20)+"x",
		"[[[[a]]]](b)", strings.Repeat("[a](", 50)+" x", "\t\t\t- x\n  > y\n", "* * *\n1) a\n   2. b\n",
		"a\n=\n|x|y|\n|-|-|\n|1|2|\n", "```\n> code\n```\n", "\\[a](b) \\\\[c]", "<div>\n*x*\n</div>\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, rows, err := Parse(context.Background(), "f.md", bytes.NewReader(data), fuzzLimits)
		checkDocs(t, "f.md", docs, rows, err)
		if err == nil && len(docs) != 1 {
			t.Fatalf("%d documents", len(docs))
		}
		if d := containerDepth(boundMarkdown(data, fuzzLimits.MaxDepth)); d > fuzzLimits.MaxDepth {
			t.Fatalf("nests %d deep after boundMarkdown, limit %d", d, fuzzLimits.MaxDepth)
		}
	})
}

func FuzzParseHTML(f *testing.F) {
	addSeeds(f, []string{"messy.html"},
		"<title>T</title><p>x", strings.Repeat("<div>", 600)+"x", strings.Repeat("<b><i>a</b></i>", 30),
		"<script>x</script><pre>  a\n b</pre>", "<table><tr><td>a<td>b</table>", "<svg><p>x</svg>y",
		strings.Repeat("<section>", 20)+"<style>s</style>deep", "<img alt='pic'><br>&amp;&nbsp;")
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, rows, err := Parse(context.Background(), "f.html", bytes.NewReader(data), fuzzLimits)
		checkDocs(t, "f.html", docs, rows, err)
		if err == nil && len(docs) != 1 {
			t.Fatalf("%d documents", len(docs))
		}
	})
}

func FuzzParseCSV(f *testing.F) {
	addSeeds(f, []string{"rows.csv"},
		"text,lang\nhe said \"hi\" there,en\nok,en\n", "text\n\"open\nx\n", "id,text\n1,a\n1,b\n,c\n",
		"\uFEFFText , TITLE\n a , b \n", "text,a,a\nx,1,2\n", "text\n\"a\"\"b\"\n\"c\"d\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, rows, err := Parse(context.Background(), "f.csv", bytes.NewReader(data), fuzzLimits)
		checkDocs(t, "f.csv", docs, rows, err)
		for _, r := range rows {
			if re, _ := errors.AsType[*RowError](r); re.Line < 2 && !errors.Is(r, ErrLimit) {
				t.Fatalf("row error on the header line: %v", r)
			}
		}
	})
}

func FuzzParseJSONL(f *testing.F) {
	addSeeds(f, []string{"rows.jsonl"},
		`{"text":"a","id":1}`+"\n"+`{"text":"b","_id":"x","m":{"k":[1]}}`, "\n\n{}\n[1]\n\"s\"\n", `{"text":null}`,
		`{"text":"\ud800"}`, `{"text":"a","":"empty key"}`, "{\"text\":\"a\"}\r\n{\"text\":\"b\"}")
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, rows, err := Parse(context.Background(), "f.jsonl", bytes.NewReader(data), fuzzLimits)
		checkDocs(t, "f.jsonl", docs, rows, err)
		if err != nil {
			return
		}
		// Every non-blank line is a document or a row error.
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(docs)+len(rows) != lines {
			t.Fatalf("%d documents and %d row errors from %d lines", len(docs), len(rows), lines)
		}
	})
}

// fakeTokens splits text the way a WordPiece tokenizer does in shape:
// white space and control characters separate words, punctuation is a
// piece of its own, and a word is cut into pieces of at most 3 runes with
// no gap between them.
func fakeTokens(text string) []embedder.Token {
	var toks []embedder.Token
	start, runes := -1, 0
	end := func(at int) {
		if start >= 0 {
			toks = append(toks, embedder.Token{Start: start, End: at})
		}
		start, runes = -1, 0
	}
	for i, r := range text {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError:
			end(i)
		case unicode.IsPunct(r):
			end(i)
			toks = append(toks, embedder.Token{Start: i, End: i + utf8.RuneLen(r)})
		default:
			if runes == 3 {
				end(i)
			}
			if start < 0 {
				start = i
			}
			runes++
		}
	}
	end(len(text))
	return toks
}

func FuzzChunk(f *testing.F) {
	f.Add(longText(300), uint8(20))
	f.Add("One. Two three four.\n\nFive six seven eight nine ten.", uint8(3))
	f.Add(strings.Repeat("水是生命之源", 20), uint8(4))
	f.Add(strings.Repeat("word ", 100), uint8(1))
	f.Add("  \t\n ", uint8(5))
	f.Add("a.b.c.d.e.f.g.h", uint8(2))
	f.Fuzz(func(t *testing.T, text string, max uint8) {
		maxPieces := int(max%32) + 1
		toks := fakeTokens(text)
		spans := Chunk(text, toks, maxPieces)
		if len(toks) == 0 {
			if spans != nil {
				t.Fatalf("spans %v for a text without pieces", spans)
			}
			return
		}
		if len(spans) == 0 || spans[0].Start != 0 || spans[len(spans)-1].End != len(text) {
			t.Fatalf("spans %v do not cover [0, %d)", spans, len(text))
		}
		for i, s := range spans {
			inside := 0
			for _, tk := range toks {
				if tk.Start >= s.Start && tk.End <= s.End {
					inside++
				}
			}
			switch {
			case s.Start >= s.End || s.End > len(text):
				t.Fatalf("span %d = %+v, text of %d bytes", i, s, len(text))
			case s.Pieces > maxPieces || s.Pieces < 1:
				t.Fatalf("span %d holds %d pieces, limit %d", i, s.Pieces, maxPieces)
			case inside != s.Pieces:
				t.Fatalf("span %d = %+v holds %d pieces", i, s, inside)
			case i > 0 && (s.Start <= spans[i-1].Start || s.Start > spans[i-1].End):
				t.Fatalf("span %d = %+v after %+v: out of order or a gap", i, s, spans[i-1])
			}
		}
	})
}
