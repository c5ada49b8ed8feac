package search

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SnippetBytes is the target length of a snippet's source text.
const SnippetBytes = 240

// Snippet returns a window of about SnippetBytes of text around the place
// where the query terms (from Terms) are densest, as HTML: words whose
// term matches are wrapped in <mark>…</mark>, everything else is escaped,
// runs of white space become one space, and "…" marks a cut. With no match
// it returns the start of the text.
func Snippet(text string, terms []string) string {
	want := make(map[string]bool, len(terms))
	for _, t := range terms {
		want[t] = true
	}
	var marks []token
	if len(want) > 0 {
		scanTokens(text, func(t token) {
			if want[t.term] {
				marks = append(marks, t)
			}
		})
	}
	start, end := 0, min(len(text), SnippetBytes)
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
		span := marks[bestLast].end - marks[best].start
		start = max(0, marks[best].start-(SnippetBytes-span)/2)
		end = min(len(text), start+max(SnippetBytes, span))
		if end == len(text) {
			start = max(0, end-max(SnippetBytes, span))
		}
		start = min(start, marks[best].start)
	}
	start, end = wordBounds(text, start, end)
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	pos := start
	for _, m := range marks {
		if m.start < start || m.end > end {
			continue
		}
		writePlain(&b, text[pos:m.start])
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(text[m.start:m.end]))
		b.WriteString("</mark>")
		pos = m.end
	}
	writePlain(&b, text[pos:end])
	if end < len(text) {
		b.WriteString("…")
	}
	return strings.TrimSpace(b.String())
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

func writePlain(b *strings.Builder, s string) {
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteString(html.EscapeString(string(r)))
	}
	if space {
		b.WriteByte(' ')
	}
}
