package search

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

// TestCollectionsSearchTheirPointsText: a collection whose points carry a
// text (under any of TextFields) answers keyword queries by BM25 and fuses
// them with vector search, under filters; payload updates, deletes and a
// reopen keep the keyword index in step; a collection without text ignores
// the text and needs a vector.
func TestCollectionsSearchTheirPointsText(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openPointStore(t, dir)
	c, _ := openColls(t, st, dir)
	vec := func(i int) []float32 {
		v := make([]float32, 4)
		v[i%4] = 1
		v[(i+1)%4] = 0.5
		return v
	}
	if _, err := c.Create(ctx, "notes", map[string]store.VectorParams{"": {Size: 4, Distance: store.Cosine}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Upsert(ctx, "notes", []store.Point{
		pt(num(1), vec(0), `{"text":"varroa mites weaken the colony","topic":"bees"}`),
		pt(num(2), vec(1), `{"page_content":"sourdough needs flour and water","topic":"baking"}`),
		pt(num(3), vec(2), `{"content":"mites can be counted with a sugar roll","topic":"bees"}`),
		pt(num(4), vec(3), `{"title":"no text field here","topic":"misc"}`),
	}); err != nil {
		t.Fatal(err)
	}
	ids := func(sp []ScoredPoint) []uint64 {
		var out []uint64
		for _, p := range sp {
			n, _ := p.ID.Num()
			out = append(out, n)
		}
		return out
	}
	query := func(q PointQuery) []uint64 {
		t.Helper()
		res, err := c.Query(ctx, "notes", q)
		if err != nil {
			t.Fatal(err)
		}
		return ids(res)
	}
	if got := query(PointQuery{Text: "mites"}); !slices.Equal(got, []uint64{1, 3}) && !slices.Equal(got, []uint64{3, 1}) {
		t.Errorf("keyword mites = %v, want 1 and 3", got)
	}
	if got := query(PointQuery{Text: "flour"}); !slices.Equal(got, []uint64{2}) {
		t.Errorf("keyword flour (page_content) = %v, want [2]", got)
	}
	bees := mustFilter(t, `{"must":[{"key":"topic","match":{"value":"bees"}}]}`)
	if got := query(PointQuery{Text: "mites sourdough", Filter: bees}); len(got) != 2 || slices.Contains(got, 2) {
		t.Errorf("keyword with a filter = %v, want only the bee notes", got)
	}
	// Hybrid: the vector favours point 4, the words point 3; both rank.
	hybrid := query(PointQuery{Vector: vec(3), Text: "sugar roll", Limit: 2})
	if !slices.Contains(hybrid, 3) || !slices.Contains(hybrid, 4) {
		t.Errorf("hybrid = %v, want 3 (by words) and 4 (by vector)", hybrid)
	}
	if got := query(PointQuery{Vector: vec(3), Limit: 1}); !slices.Equal(got, []uint64{4}) {
		t.Errorf("vector alone = %v, want [4]", got)
	}

	// The index follows the payload.
	if _, err := c.UpdatePayload(ctx, "notes", []store.PointID{num(2)}, nil, store.PayloadOp{Set: map[string]json.RawMessage{"page_content": json.RawMessage(`"rye bread with mites"`)}}); err != nil {
		t.Fatal(err)
	}
	if got := query(PointQuery{Text: "flour"}); len(got) != 0 {
		t.Errorf("after the payload changed, flour = %v, want none", got)
	}
	if got := query(PointQuery{Text: "mites"}); len(got) != 3 {
		t.Errorf("after the payload changed, mites = %v, want 3 points", got)
	}
	if _, err := c.Delete(ctx, "notes", []store.PointID{num(1)}); err != nil {
		t.Fatal(err)
	}
	if got := query(PointQuery{Text: "varroa"}); len(got) != 0 {
		t.Errorf("a deleted point still matches: %v", got)
	}
	if err := c.Upsert(ctx, "notes", []store.Point{pt(num(3), vec(2), `{"text":"a replaced note about honey"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := query(PointQuery{Text: "sugar"}); len(got) != 0 {
		t.Errorf("a replaced point's old text still matches: %v", got)
	}

	// Reopened (graph loaded from its file, payloads read again).
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, _ = openColls(t, st, dir)
	defer c.Close()
	if got := query(PointQuery{Text: "honey rye"}); len(got) != 2 {
		t.Errorf("after reopening, honey rye = %v, want 2 and 3", got)
	}

	// No text at all: Text is ignored beside a vector, and alone is refused.
	if _, err := c.Create(ctx, "plain", map[string]store.VectorParams{"": {Size: 4, Distance: store.Dot}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Upsert(ctx, "plain", []store.Point{pt(num(1), vec(0), `{"n":1}`), pt(num(2), vec(1), `{"n":2}`)}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Query(ctx, "plain", PointQuery{Vector: vec(1), Text: "anything", Limit: 1})
	if err != nil || len(res) != 1 || res[0].ID != num(2) || res[0].Score < 1 {
		t.Errorf("text beside a vector over points without text = %+v, %v; want point 2 with its dot product", res, err)
	}
	if _, err := c.Query(ctx, "plain", PointQuery{Text: "anything"}); !errors.Is(err, ErrNoQuery) {
		t.Errorf("text alone over points without text: %v, want ErrNoQuery", err)
	}
}

func TestPointText(t *testing.T) {
	for _, tc := range []struct {
		payload     map[string]any
		text, field string
	}{
		{map[string]any{"text": "a", "page_content": "b"}, "a", "text"},
		{map[string]any{"text": "", "page_content": "b"}, "b", "page_content"},
		{map[string]any{"text": 5, "body": "c"}, "c", "body"},
		{map[string]any{"title": "t"}, "", ""},
		{nil, "", ""},
	} {
		if text, field := PointText(tc.payload); text != tc.text || field != tc.field {
			t.Errorf("PointText(%v) = %q, %q; want %q, %q", tc.payload, text, field, tc.text, tc.field)
		}
	}
}
