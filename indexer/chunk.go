package indexer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
)

// Span is one chunk of a document: bytes [Start, End) of its text holding
// Pieces word pieces of the model ([CLS] and [SEP] not counted).
type Span struct {
	Start, End int
	Pieces     int
}

// overlapPieces bounds the overlap between neighbouring chunks: the last
// sentence of a chunk opens the next one when it is this short, else the
// last words up to this many pieces do.
const overlapPieces = 32

// tokenizeSegment is the most text tokenized in one guest call: the guest
// needs scratch memory of about 13 bytes per byte of text, and a long book
// should not grow every worker's memory for good.
const tokenizeSegment = 64 << 10

// Chunk cuts text into spans of at most maxPieces word pieces, given its
// pieces as the embedder's Tokenize returns them (in order, byte offsets
// into text). Cuts fall between words, at a paragraph or sentence end where
// one lies in the second half of the window, and a cut inside a word happens
// only for a run of more than maxPieces pieces without white space (long
// CJK text, say). Each chunk after the first repeats the last sentence of
// the one before (or its last words, about overlapPieces), so a passage cut
// in two is still found whole. The spans cover the whole text: the first
// starts at 0, the last ends at len(text), and each starts before or where
// the one before ended. A text with at most maxPieces pieces is one chunk;
// one with no pieces (only white space or control characters) is none.
func Chunk(text string, toks []embedder.Token, maxPieces int) []Span {
	n := len(toks)
	if n == 0 || maxPieces <= 0 {
		return nil
	}
	if n <= maxPieces {
		return []Span{{Start: 0, End: len(text), Pieces: n}}
	}
	// cut[i] ranks a cut before piece i (0 < i < n): 0 inside a word,
	// 1 between words, 2 after a sentence, 3 at a paragraph break.
	cut := make([]uint8, n)
	for i := 1; i < n; i++ {
		gap := text[toks[i-1].End:toks[i].Start]
		switch {
		case gap == "":
			cut[i] = 0
		case strings.Contains(gap, "\n\n"):
			cut[i] = 3
		case strings.Contains(gap, "\n") || endsSentence(text[toks[i-1].Start:toks[i-1].End]):
			cut[i] = 2
		default:
			cut[i] = 1
		}
	}
	var spans []Span
	start := 0 // first piece of the current chunk
	for {
		if n-start <= maxPieces {
			spans = append(spans, Span{Start: toks[start].Start, End: len(text), Pieces: n - start})
			break
		}
		limit := start + maxPieces // the chunk is pieces [start, end) with end <= limit
		// At least one piece: with a limit of one, half of it is none, and
		// a chunk that ends where it starts would never let the loop end.
		end := best(cut, start+max(1, maxPieces/2), limit, 2)
		if end < 0 {
			end = best(cut, start+1, limit, 1)
		}
		if end < 0 {
			end = limit
		}
		spans = append(spans, Span{Start: toks[start].Start, End: toks[end].Start, Pieces: end - start})
		// The next chunk opens with the last sentence if it is short,
		// else with the last words.
		next := best(cut, max(start+1, end-overlapPieces), end-1, 2)
		if next < 0 {
			next = first(cut, max(start+1, end-overlapPieces), end-1, 1)
		}
		if next < 0 && cut[end] == 0 {
			// Text without white space: overlap by pieces.
			next = first(cut, max(start+1, end-overlapPieces), end-1, 0)
		}
		if next < 0 {
			next = end
		}
		start = next
	}
	spans[0].Start = 0
	return spans
}

// best returns the last i in [lo, hi] with cut[i] >= rank, preferring the
// highest rank present, or -1.
func best(cut []uint8, lo, hi int, rank uint8) int {
	bestAt, bestRank := -1, rank
	for i := hi; i >= lo && i > 0; i-- {
		if cut[i] > bestRank || (cut[i] == bestRank && bestAt < 0) {
			bestAt, bestRank = i, cut[i]
		}
	}
	return bestAt
}

// first returns the first i in [lo, hi] with cut[i] >= rank, or -1.
func first(cut []uint8, lo, hi int, rank uint8) int {
	for i := max(lo, 1); i <= hi; i++ {
		if cut[i] >= rank {
			return i
		}
	}
	return -1
}

// endsSentence reports whether a piece is a sentence's closing mark.
func endsSentence(piece string) bool {
	switch piece {
	case ".", "!", "?", "。", "！", "？", "…", ";":
		return true
	}
	return false
}

// tokenize returns the word pieces of text, asking the embedder for at most
// tokenizeSegment bytes at a time and cutting only at white space, where
// the tokenizer itself would split, so the result is the same as in one call.
func tokenize(ctx context.Context, emb *embedder.Pool, text string) ([]embedder.Token, error) {
	var all []embedder.Token
	for off := 0; off < len(text); {
		end := len(text)
		if end-off > tokenizeSegment {
			end = off + tokenizeSegment
			if i := strings.LastIndexAny(text[off:end], " \n\t"); i > 0 {
				end = off + i
			} else {
				// One word of 64 KiB: cut at a rune boundary.
				for end > off && end < len(text) && text[end]&0xC0 == 0x80 {
					end--
				}
			}
		}
		var toks []embedder.Token
		err := retry(ctx, func() error {
			var err error
			toks, err = emb.Tokenize(ctx, text[off:end])
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("tokenize: %w", err)
		}
		for _, t := range toks {
			all = append(all, embedder.Token{ID: t.ID, Start: t.Start + off, End: t.End + off})
		}
		off = end
	}
	return all, nil
}

// retry runs fn again while the embedder's queue is full, as it is when a
// server's searches and imports share it; other errors end it.
func retry(ctx context.Context, fn func() error) error {
	wait := 5 * time.Millisecond
	for {
		err := fn()
		if !errors.Is(err, embedder.ErrOverloaded) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}
