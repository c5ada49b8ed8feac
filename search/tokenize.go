package search

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
)

// maxTermBytes drops tokens longer than any real word (base64, hashes):
// they would only bloat the term table.
const maxTermBytes = 64

// token is one indexable word of a text: its byte span and its term (the
// lower-cased, stemmed form that BM25 indexes).
type token struct {
	start, end int
	term       string
}

// scanTokens calls fn for each indexable token of text in order. Words are
// runs of Unicode letters, digits and combining marks; ideographic and
// kana/hangul characters are words on their own, because those scripts do
// not separate words with spaces. English stop words are skipped and ASCII
// words are reduced with the Snowball (Porter2) English stemmer, so "run",
// "runs" and "running" share the term "run".
func scanTokens(text string, fn func(token)) {
	start := -1
	emit := func(end int) {
		if start < 0 {
			return
		}
		w := text[start:end]
		s := start
		start = -1
		if len(w) > maxTermBytes {
			return
		}
		if t, ok := termOf(w); ok {
			fn(token{s, end, t})
		}
	}
	for i, r := range text {
		switch {
		case isSelfWord(r):
			emit(i)
			end := i + utf8.RuneLen(r)
			if r == utf8.RuneError {
				end = i + 1
			}
			fn(token{i, end, string(unicode.ToLower(r))})
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			if start < 0 {
				start = i
			}
		default:
			emit(i)
		}
	}
	emit(len(text))
}

func isSelfWord(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// termOf lower-cases and stems one word; ok is false for stop words.
func termOf(w string) (string, bool) {
	w = strings.ToLower(w)
	if english.IsStopWord(w) {
		return "", false
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c >= 0x80 {
			// The English stemmer would mangle other languages; an
			// unstemmed word still matches itself.
			return w, true
		}
	}
	return stem(w), true
}

// The Snowball stemmer costs microseconds a word while real text repeats a
// small vocabulary, so stems are memoised. The cache is bounded: past
// stemCacheMax distinct words new ones are stemmed but not stored.
const stemCacheMax = 1 << 17

var (
	stemCache  sync.Map
	stemCached atomic.Int64
)

func stem(w string) string {
	if v, ok := stemCache.Load(w); ok {
		return v.(string)
	}
	s := english.Stem(w, true)
	if stemCached.Add(1) <= stemCacheMax {
		stemCache.Store(strings.Clone(w), s)
	}
	return s
}

// TextTerms returns every index term of a text in order, repeats kept:
// what the keyword index counts for a passage (term frequencies and
// length), for a copy of the index kept elsewhere.
func TextTerms(text string) []string {
	var out []string
	scanTokens(text, func(t token) { out = append(out, t.term) })
	return out
}

// Terms returns the distinct index terms of a query in order of first
// appearance: what BM25 looks up, and what Snippet marks in a passage.
func Terms(query string) []string {
	var out []string
	seen := map[string]bool{}
	scanTokens(query, func(t token) {
		if !seen[t.term] {
			seen[t.term] = true
			out = append(out, t.term)
		}
	})
	return out
}
