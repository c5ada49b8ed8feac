package search

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// words returns the text of each match of s, checking that every offset
// pair is inside Text, ascending, disjoint and on UTF-8 boundaries.
func words(t *testing.T, s Snippet) []string {
	t.Helper()
	var out []string
	prev := 0
	for _, m := range s.Matches {
		if m[0] < prev || m[0] >= m[1] || m[1] > len(s.Text) {
			t.Fatalf("snippet %q: match %v out of order or range", s.Text, m)
		}
		w := s.Text[m[0]:m[1]]
		if !utf8.ValidString(w) {
			t.Fatalf("snippet %q: match %v cuts a character: %q", s.Text, m, w)
		}
		out = append(out, w)
		prev = m[1]
	}
	return out
}

func TestSnippetTextAndMatchOffsets(t *testing.T) {
	cases := []struct {
		name, text, query, want string
		marked                  []string
	}{
		{"marks stems", "I was running; she runs.", "run", "I was running; she runs.", []string{"running", "runs"}},
		{"keeps markup as text", `<b>fox</b> & "dog"`, "fox", `<b>fox</b> & "dog"`, []string{"fox"}},
		{"no match gives start", "alpha beta", "zebra", "alpha beta", nil},
		{"collapses space", "  a\n\n  fox\tb ", "fox", "a fox b", []string{"fox"}},
		{"accents", "Le café crème coûte cher; café noir.", "café", "Le café crème coûte cher; café noir.", []string{"café", "café"}},
		{"emoji before a match", "🐝🐝 the bees 🍯 make honey", "honey bees", "🐝🐝 the bees 🍯 make honey", []string{"bees", "honey"}},
		{"cjk", "東京は日本の首都です", "首", "東京は日本の首都です", []string{"首"}},
	}
	for _, c := range cases {
		got := MakeSnippet(c.text, Terms(c.query))
		if got.Text != c.want || !slices.Equal(words(t, got), c.marked) {
			t.Errorf("%s: MakeSnippet = %q marking %q, want %q marking %q", c.name, got.Text, words(t, got), c.want, c.marked)
		}
	}
}

// TestSnippetCutsBetweenSentences pins that a snippet out of the middle
// of a long text starts at a sentence's start and ends at one's end when
// one is near, and otherwise between words.
func TestSnippetCutsBetweenSentences(t *testing.T) {
	long := strings.Repeat("Filler words stand here. ", 40)
	text := long + "The raspberry pi needs a raspberry power supply of five volts. " + long
	got := MakeSnippet(text, Terms("raspberry power"))
	if !strings.HasPrefix(got.Text, "…") || !strings.HasSuffix(got.Text, "…") {
		t.Errorf("window in the middle should be cut both sides: %q", got.Text)
	}
	if n := len(words(t, got)); n != 3 || len(got.Text) > SnippetBytes+2*sentenceSlack {
		t.Errorf("want 3 matches within about %d bytes, got %d in %d bytes: %q", SnippetBytes, n, len(got.Text), got.Text)
	}
	if !strings.HasPrefix(got.Text, "…Filler") && !strings.HasPrefix(got.Text, "…The raspberry") {
		t.Errorf("snippet starts mid-sentence: %q", got.Text)
	}
	if !strings.HasSuffix(got.Text, ".…") {
		t.Errorf("snippet ends mid-sentence: %q", got.Text)
	}

	// No sentence in reach: the cut falls between words.
	words := strings.Repeat("lorem ipsum dolor sit amet ", 40)
	got = MakeSnippet(words+"target "+words, Terms("target"))
	if strings.Contains(got.Text, "…rem") || strings.Contains(got.Text, "…sum") || strings.Contains(got.Text, "lor…") {
		t.Errorf("cut inside a word: %q", got.Text)
	}
}

// TestSnippetNonASCIIOffsets checks every match offset of snippets cut
// out of text full of multi-byte characters: each names exactly a matched
// word, and a JavaScript client's conversion of it (UTF-16 code units)
// finds the same word.
func TestSnippetNonASCIIOffsets(t *testing.T) {
	unit := "Ωμέγα 🐝 déjà vu — naïve résumé 😀 café. "
	text := strings.Repeat(unit, 30) + "Die Bienen 🐝 lieben Blüten und café. " + strings.Repeat(unit, 30)
	got := MakeSnippet(text, Terms("café bienen"))
	ws := words(t, got)
	if !slices.Contains(ws, "Bienen") || !slices.Contains(ws, "café") {
		t.Fatalf("snippet %q marks %q, want Bienen and café", got.Text, ws)
	}
	for _, m := range got.Matches {
		// UTF-16 offsets of the same match, as a JS client computes them.
		u0, u1 := utf16Len(got.Text[:m[0]]), utf16Len(got.Text[:m[1]])
		units := utf16Units(got.Text)
		if w := string(runesOfUTF16(units[u0:u1])); w != got.Text[m[0]:m[1]] {
			t.Errorf("match %v is %q in UTF-16, %q in bytes", m, w, got.Text[m[0]:m[1]])
		}
	}
}

func utf16Len(s string) int { return len(utf16Units(s)) }

func utf16Units(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
		} else {
			out = append(out, uint16(r))
		}
	}
	return out
}

func runesOfUTF16(u []uint16) []rune {
	var out []rune
	for i := 0; i < len(u); i++ {
		if u[i] >= 0xD800 && u[i] < 0xDC00 && i+1 < len(u) {
			out = append(out, rune(u[i]-0xD800)<<10|rune(u[i+1]-0xDC00)+0x10000)
			i++
			continue
		}
		out = append(out, rune(u[i]))
	}
	return out
}

func TestSpanOfListsDocumentOffsets(t *testing.T) {
	doc := "Intro 🐝 text. The café serves café au lait. Outro."
	start := strings.Index(doc, "The café")
	end := strings.Index(doc, " Outro")
	sp := SpanOf(doc[start:end], start, end, Terms("café"))
	if sp.Start != start || sp.End != end || len(sp.Matches) != 2 {
		t.Fatalf("SpanOf = %+v, want [%d,%d) with 2 matches", sp, start, end)
	}
	for _, m := range sp.Matches {
		if doc[m[0]:m[1]] != "café" {
			t.Errorf("match %v is %q in the document, want café", m, doc[m[0]:m[1]])
		}
	}
	many := SpanOf(strings.Repeat("bee ", 1000), 0, 4000, Terms("bee"))
	if len(many.Matches) != MaxSpanMatches {
		t.Errorf("a chunk of 1000 matches lists %d, want the bound %d", len(many.Matches), MaxSpanMatches)
	}
}
