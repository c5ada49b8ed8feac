package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SnippetBytes is the target length of a snippet's source text.
const SnippetBytes = 240

// MaxSpanMatches is how many matches of the query terms a Span lists at
// most: enough to mark a chunk, bounded because a chunk of one repeated
// word would otherwise list thousands.
const MaxSpanMatches = 100

// Snippet is a passage of a chunk to show under a result: plain text, not
// markup, with the places where the query terms matched.
//
// Offsets, here and in Span, are UTF-8 byte offsets: Text[m[0]:m[1]] is a
// matched word in Go, and a JavaScript client converts them with
// TextEncoder (web/ui/dom.js does). Bytes are the store's own unit, so a
// span costs nothing to compute and is exact for every script and emoji.
type Snippet struct {
	// Text is the passage: runs of white space are one space, and "…"
	// stands where the chunk was cut.
	Text string
	// Matches are [start, end) byte offsets into Text of the words that
	// matched a query term, ascending and disjoint.
	Matches [][2]int
}

// Span is where a result's chunk lies in its document's text.
type Span struct {
	// Start and End are byte offsets into the document's text: the chunk
	// is Text[Start:End].
	Start, End int
	// Matches are [start, end) byte offsets into the document's text of
	// the query terms' matches inside the chunk, ascending, at most
	// MaxSpanMatches of them.
	Matches [][2]int
}

// termMatches returns the tokens of text whose term is one of terms, in
// order.
func termMatches(text string, terms []string) []token {
	if len(terms) == 0 {
		return nil
	}
	want := make(map[string]bool, len(terms))
	for _, t := range terms {
		want[t] = true
	}
	var marks []token
	scanTokens(text, func(t token) {
		if want[t.term] {
			marks = append(marks, t)
		}
	})
	return marks
}

// MakeSnippet returns a window of about SnippetBytes of text around the
// place where the query terms (from Terms) are densest, cut at a sentence
// boundary where one is near and otherwise between words, with the
// matched words' offsets. With no match it returns the start of the text.
func MakeSnippet(text string, terms []string) Snippet {
	return snippetOf(text, termMatches(text, terms))
}

func snippetOf(text string, marks []token) Snippet {
	start, end := 0, min(len(text), SnippetBytes)
	first, last := -1, -1 // the window's first and last match
	if len(marks) > 0 {
		// Densest window: the run of matches, starting at some match, that
		// fits in SnippetBytes and holds the most distinct terms, then most matches.
		best, bestDistinct, bestCount, bestLast := 0, -1, -1, 0
		for i := range marks {
			seen := map[string]bool{}
			j := i
			for ; j < len(marks) && marks[j].end-marks[i].start <= SnippetBytes; j++ {
				seen[marks[j].term] = true
			}
			if j == i {
				j = i + 1 // one overlong match still counts
				seen[marks[i].term] = true
			}
			if len(seen) > bestDistinct || (len(seen) == bestDistinct && j-i > bestCount) {
				best, bestDistinct, bestCount, bestLast = i, len(seen), j-i, j-1
			}
		}
		first, last = marks[best].start, marks[bestLast].end
		span := last - first
		start = max(0, first-(SnippetBytes-span)/2)
		end = min(len(text), start+max(SnippetBytes, span))
		if end == len(text) {
			start = max(0, end-max(SnippetBytes, span))
		}
		start = min(start, first)
	}
	start, end = sentenceBounds(text, start, end, first, last)
	start, end = wordBounds(text, start, end)

	var b strings.Builder
	var out Snippet
	if start > 0 {
		b.WriteString("…")
	}
	pos := start
	for _, m := range marks {
		if m.start < start || m.end > end {
			continue
		}
		writePlain(&b, text[pos:m.start])
		s := b.Len()
		b.WriteString(text[m.start:m.end])
		out.Matches = append(out.Matches, [2]int{s, b.Len()})
		pos = m.end
	}
	writePlain(&b, text[pos:end])
	out.Text = strings.TrimRight(b.String(), " ")
	if end < len(text) {
		out.Text += "…"
	}
	return out
}

// sentenceSlack is how far (in bytes) sentenceBounds moves a cut to reach
// a sentence boundary.
const sentenceSlack = 60

// sentenceBounds moves the window's ends to sentence boundaries within
// sentenceSlack bytes, never past the first or last match (-1: none), so
// a snippet reads from the start of a sentence to the end of one.
func sentenceBounds(text string, start, end, first, last int) (int, int) {
	if start > 0 {
		lo, hi := max(0, start-sentenceSlack), start+sentenceSlack
		if first >= 0 {
			hi = min(hi, first)
		}
		best := -1
		for i := max(lo, 1); i <= min(hi, len(text)); i++ {
			if sentenceStart(text, i) && (best < 0 || abs(i-start) < abs(best-start)) {
				best = i
			}
		}
		if best >= 0 {
			start = best
		}
	}
	if end < len(text) {
		lo, hi := max(start+1, end-sentenceSlack), min(len(text), end+sentenceSlack)
		if last >= 0 {
			lo = max(lo, last)
		}
		best := -1
		for i := lo; i <= hi; i++ {
			if sentenceEnd(text, i) && (best < 0 || abs(i-end) < abs(best-end)) {
				best = i
			}
		}
		if best >= 0 {
			end = best
		}
	}
	return start, end
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// sentenceEnd reports whether a sentence ends at byte offset i: after
// ".", "!", "?" or "…" (and any closing quote or bracket) followed by
// white space or the end of the text, or at a line break.
func sentenceEnd(text string, i int) bool {
	if i <= 0 || i > len(text) {
		return false
	}
	if i < len(text) {
		next, _ := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsSpace(next) {
			return false
		}
	}
	j := i
	for j > 0 {
		r, n := utf8.DecodeLastRuneInString(text[:j])
		switch r {
		case '"', '\'', ')', ']', '”', '’':
			j -= n
			continue
		case '.', '!', '?', '…', '。', '！', '？':
			return true
		case '\n':
			return j == i
		}
		return false
	}
	return false
}

// sentenceStart reports whether a sentence starts at byte offset i: at a
// letter or digit after a sentence's end and white space.
func sentenceStart(text string, i int) bool {
	if i >= len(text) || !utf8.RuneStart(text[i]) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(text[i:])
	if unicode.IsSpace(r) {
		return false
	}
	j := i
	for j > 0 {
		p, n := utf8.DecodeLastRuneInString(text[:j])
		if !unicode.IsSpace(p) {
			break
		}
		if p == '\n' {
			return true
		}
		j -= n
	}
	return j < i && sentenceEnd(text, j)
}

// SpanOf returns the span of a chunk at [start, end) of its document
// whose text is chunkText, with the matches of terms in it.
func SpanOf(chunkText string, start, end int, terms []string) Span {
	return spanOf(start, end, termMatches(chunkText, terms))
}

func spanOf(start, end int, marks []token) Span {
	sp := Span{Start: start, End: end}
	for _, m := range marks {
		if len(sp.Matches) == MaxSpanMatches {
			break
		}
		sp.Matches = append(sp.Matches, [2]int{start + m.start, start + m.end})
	}
	return sp
}

// wordBounds moves a cut off the middle of a word (and of a UTF-8
// sequence): start forward past the broken word, end back before it. Only
// a cut between two word characters moves, so a match at the edge stays.
func wordBounds(text string, start, end int) (int, int) {
	for start > 0 && start < len(text) && !utf8.RuneStart(text[start]) {
		start++
	}
	for end < len(text) && end > 0 && !utf8.RuneStart(text[end]) {
		end--
	}
	inWord := func(i int) bool { // is byte offset i between two word runes?
		prev, _ := utf8.DecodeLastRuneInString(text[:i])
		next, _ := utf8.DecodeRuneInString(text[i:])
		return isWordRune(prev) && isWordRune(next)
	}
	for s := start; start > 0 && start < end && inWord(start) && start-s < 40; {
		_, n := utf8.DecodeRuneInString(text[start:])
		start += n
	}
	for e := end; end < len(text) && end > start && inWord(end) && e-end < 40; {
		_, n := utf8.DecodeLastRuneInString(text[:end])
		end -= n
	}
	return start, end
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// writePlain writes s with each run of white space as one space, except
// at the very start of the snippet or right after its leading "…".
func writePlain(b *strings.Builder, s string) {
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 && b.String() != "…" {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	if space && b.Len() > 0 && b.String() != "…" {
		b.WriteByte(' ')
	}
}
