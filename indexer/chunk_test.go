package indexer

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
)

// longText makes a document of about words words in sentences of 3 to 40
// words and paragraphs of 1 to 6 sentences, the same every run.
func longText(words int) string {
	vocab := strings.Fields("the pump valve filter pressure gauge should be checked before every season because sediment builds up quickly in hard water and lowers flow rates dramatically unless maintained carefully by owners")
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	n, inPara := 0, 0
	for n < words {
		k := 3 + r.IntN(38)
		for i := range k {
			w := vocab[r.IntN(len(vocab))]
			if i == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			if i < k-1 {
				b.WriteByte(' ')
			}
		}
		b.WriteByte('.')
		n += k
		if inPara++; inPara >= 1+r.IntN(6) {
			b.WriteString("\n\n")
			inPara = 0
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}

func TestChunkKeepsEveryChunkUnderTheLimitAndCoversTheText(t *testing.T) {
	p := testPool(t)
	ctx := context.Background()
	limit := p.Info().MaxTokens - 2
	for _, tc := range []struct {
		name         string
		text         string
		minSentences float64 // share of cuts that must fall after a sentence
	}{
		{"10000 words", longText(10000), 0.95},
		{"no white space", strings.Repeat("水是生命之源", 200), 0},
		{"one long line", strings.Repeat("word ", 2000), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			toks, err := tokenize(ctx, p, tc.text)
			if err != nil {
				t.Fatal(err)
			}
			spans := Chunk(tc.text, toks, limit)
			if len(spans) < 2 {
				t.Fatalf("%d chunks for %d pieces", len(spans), len(toks))
			}
			if spans[0].Start != 0 || spans[len(spans)-1].End != len(tc.text) {
				t.Errorf("spans run [%d, %d), text has %d bytes", spans[0].Start, spans[len(spans)-1].End, len(tc.text))
			}
			atSentence := 0
			for i, s := range spans {
				got, err := p.Tokenize(ctx, tc.text[s.Start:s.End])
				if err != nil {
					t.Fatal(err)
				}
				if len(got) > limit || len(got) != s.Pieces {
					t.Errorf("chunk %d [%d,%d): %d pieces re-tokenized, Chunk said %d, limit %d", i, s.Start, s.End, len(got), s.Pieces, limit)
				}
				if i == 0 {
					continue
				}
				prev := spans[i-1]
				if s.Start >= prev.End {
					t.Errorf("chunk %d starts at %d, chunk %d ends at %d: no overlap", i, s.Start, i-1, prev.End)
				}
				if s.Start <= prev.Start {
					t.Errorf("chunk %d starts at %d, not after chunk %d at %d", i, s.Start, i-1, prev.Start)
				}
				if strings.HasSuffix(strings.TrimSpace(tc.text[prev.Start:prev.End]), ".") {
					atSentence++
				}
			}
			if share := float64(atSentence) / float64(len(spans)-1); share < tc.minSentences {
				t.Errorf("%.0f%% of cuts fall after a sentence, want ≥ %.0f%%", 100*share, 100*tc.minSentences)
			}
		})
	}
}

func TestChunkLeavesAShortTextWhole(t *testing.T) {
	p := testPool(t)
	text := "  Short note. Two sentences.\n"
	toks, err := p.Tokenize(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	spans := Chunk(text, toks, 254)
	if len(spans) != 1 || spans[0] != (Span{0, len(text), len(toks)}) {
		t.Errorf("Chunk = %+v, want one span of the whole text", spans)
	}
	if got := Chunk("   ", nil, 254); got != nil {
		t.Errorf("Chunk of white space = %+v, want none", got)
	}
}

// TestChunkWithALimitOfOnePiece pins a case the fuzzer found: with a
// limit of one piece and a sentence end at the chunk's start, Chunk once
// made an empty chunk and looped forever.
func TestChunkWithALimitOfOnePiece(t *testing.T) {
	text := "!30!0!0!0!\x80\x00!!"
	toks := fakeTokens(text)
	spans := Chunk(text, toks, 1)
	if len(spans) != len(toks) {
		t.Fatalf("%d spans for %d pieces: %+v", len(spans), len(toks), spans)
	}
	for i, s := range spans {
		if s.Pieces != 1 || s.Start >= s.End {
			t.Errorf("span %d = %+v", i, s)
		}
	}
}
