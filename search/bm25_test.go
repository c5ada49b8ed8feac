package search

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestTerms(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"Running runs RUN", []string{"run"}},
		{"the cat and the hat", []string{"cat", "hat"}},
		{"The, of; and!", nil},
		{"naïve café 2024", []string{"naïve", "café", "2024"}},
		{"東京タワー", []string{"東", "京", "タ", "ワ", "ー"}},
		{"connection connected connecting", []string{"connect"}},
	}
	for _, c := range cases {
		if got := Terms(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Terms(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func corpus(t *testing.T) *BM25 {
	b := NewBM25()
	docs := []string{
		1: "The quick brown fox jumps over the lazy dog",
		2: "A guide to running a marathon: runners run long distances",
		3: "Raspberry Pi setup: install the operating system and run updates",
		4: "Fox hunting was banned; the fox population recovered",
		5: "Cooking pasta: boil water, add salt, cook for ten minutes",
	}
	for id, d := range docs {
		if d != "" {
			if err := b.Add(uint64(id), d); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b
}

func TestBM25Ranking(t *testing.T) {
	b := corpus(t)
	cases := []struct {
		query string
		want  []uint64
	}{
		{"fox", []uint64{4, 1}},     // two mentions in a short text beat one
		{"running", []uint64{2, 3}}, // stems to run: runners/run, then run
		{"the of and", nil},         // stop words only
		{"raspberry updates", []uint64{3}},
		{"dog pasta", []uint64{1, 5}}, // equal idf and tf: the shorter text wins
	}
	for _, c := range cases {
		hits, err := b.Search(c.query, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := hitIDs(hits); !slices.Equal(got, c.want) {
			t.Errorf("Search(%q) = %v (%v), want %v", c.query, got, hits, c.want)
		}
	}
}

func TestBM25ScoreMatchesFormula(t *testing.T) {
	b := NewBM25()
	b.Add(1, "apple banana")
	b.Add(2, "cherry cherry cherry date")
	hits, _ := b.Search("apple", 1)
	// N=2, df=1, idf=ln(1+(2-1+.5)/(1+.5))=ln 2; tf=1, dl=2, avgdl=3.
	idf := 0.6931471805599453
	want := idf * 1 * 2.2 / (1 + 1.2*(1-0.75+0.75*2.0/3.0))
	if len(hits) != 1 || fmt.Sprintf("%.5f", hits[0].Score) != fmt.Sprintf("%.5f", want) {
		t.Fatalf("score = %v, want %.5f", hits, want)
	}
}

func TestBM25DeleteAndReplace(t *testing.T) {
	b := corpus(t)
	if !b.Delete(4) || b.Delete(4) {
		t.Fatal("Delete(4) should report true, then false")
	}
	if hits, _ := b.Search("fox", 10); !slices.Equal(hitIDs(hits), []uint64{1}) {
		t.Fatalf("after delete, fox = %v, want [1]", hits)
	}
	b.Add(1, "nothing about animals")
	if hits, _ := b.Search("fox", 10); len(hits) != 0 {
		t.Fatalf("after replacing 1, fox = %v, want none", hits)
	}
	if b.Len() != 4 {
		t.Fatalf("Len = %d, want 4", b.Len())
	}
	if _, err := b.Search("fox", 0); !errors.Is(err, ErrBadParams) {
		t.Fatalf("k=0: err = %v, want ErrBadParams", err)
	}
}

// TestBM25Compaction deletes enough documents to trigger compaction and
// checks the survivors still rank as before.
func TestBM25Compaction(t *testing.T) {
	b := NewBM25()
	for i := range 400 {
		b.Add(uint64(i), fmt.Sprintf("doc %d alpha%s", i, strings.Repeat(" beta", i%5)))
	}
	for i := range 300 {
		b.Delete(uint64(i))
	}
	if len(b.ids) >= 400 || len(b.ids)-b.nDead != 100 {
		t.Fatalf("expected compaction: %d dead, %d slots", b.nDead, len(b.ids))
	}
	hits, _ := b.Search("beta", 3)
	if len(hits) != 3 || hits[0].ID < 300 {
		t.Fatalf("beta after compaction = %v", hits)
	}
	for _, h := range hits {
		if h.ID%5 != 4 {
			t.Fatalf("beta best hits = %v, want ids with four betas", hits)
		}
	}
}
