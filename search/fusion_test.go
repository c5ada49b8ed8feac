package search

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestFuseRRF(t *testing.T) {
	a := []Hit{{ID: 1}, {ID: 2}, {ID: 3}}
	b := []Hit{{ID: 3}, {ID: 4}, {ID: 3}} // repeated 3 counts once
	got := Fuse(a, b)
	want := map[uint64]float64{1: 1.0 / 61, 2: 1.0 / 62, 3: 1.0/63 + 1.0/61, 4: 1.0 / 62}
	if ids := hitIDs(got); !slices.Equal(ids, []uint64{3, 1, 2, 4}) {
		t.Fatalf("order = %v, want [3 1 2 4]", ids)
	}
	for _, h := range got {
		if math.Abs(float64(h.Score)-want[h.ID]) > 1e-7 {
			t.Errorf("id %d score %v, want %v", h.ID, h.Score, want[h.ID])
		}
	}
	if len(Fuse()) != 0 {
		t.Error("Fuse() of nothing should be empty")
	}
}

func TestParseMode(t *testing.T) {
	cases := []struct {
		in   string
		want Mode
		err  error
	}{
		{"", Hybrid, nil}, {"hybrid", Hybrid, nil}, {"Semantic", Semantic, nil},
		{" keyword ", Keyword, nil}, {"fuzzy", Hybrid, ErrUnknownMode},
	}
	for _, c := range cases {
		got, err := ParseMode(c.in)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("ParseMode(%q) = %v, %v; want %v, %v", c.in, got, err, c.want, c.err)
		}
	}
	var m Mode
	if err := m.UnmarshalText([]byte("keyword")); err != nil || m != Keyword || m.String() != "keyword" {
		t.Errorf("UnmarshalText(keyword) = %v, %v", m, err)
	}
}

func TestIndexSearchModes(t *testing.T) {
	vecs := clustered(11, 50, 16, 4, 0.4)
	h, _ := New(Params{M: 8})
	b := NewBM25()
	for i, v := range vecs {
		h.Add(uint64(i), v)
		b.Add(uint64(i), "filler text")
	}
	b.Add(7, "the special zebra") // keyword-only signal for id 7
	ix := Index{Vectors: h, Keywords: b}

	sem, err := ix.Search(Semantic, vecs[3], "", 5, nil)
	if err != nil || sem[0].ID != 3 {
		t.Fatalf("semantic = %v, %v; want 3 first", sem, err)
	}
	kw, err := ix.Search(Keyword, nil, "zebra", 5, nil)
	if err != nil || !slices.Equal(hitIDs(kw), []uint64{7}) {
		t.Fatalf("keyword = %v, %v; want [7]", kw, err)
	}
	hy, err := ix.Search(Hybrid, vecs[3], "zebra", 5, nil)
	if err != nil || len(hy) != 5 || !slices.Contains(hitIDs(hy[:2]), 3) || !slices.Contains(hitIDs(hy[:2]), 7) {
		t.Fatalf("hybrid = %v, %v; want 3 and 7 on top", hy, err)
	}
	for _, c := range []struct {
		mode Mode
		vec  []float32
		text string
	}{{Semantic, nil, "zebra"}, {Keyword, vecs[0], "the"}, {Hybrid, nil, ""}} {
		if _, err := ix.Search(c.mode, c.vec, c.text, 5, nil); !errors.Is(err, ErrNoQuery) {
			t.Errorf("%v without its input: err = %v, want ErrNoQuery", c.mode, err)
		}
	}
}
