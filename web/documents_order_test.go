package web_test

import (
	"net/http"
	"slices"
	"testing"
)

// TestListDocumentsNewestFirst pins order=newest: the document stored last
// comes first, whatever its id, and a replacement keeps its place (its
// id was first stored earlier); the default stays id order.
func TestListDocumentsNewestFirst(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	for _, id := range []string{"m", "z", "a"} {
		addDocs(t, base, map[string]any{"id": id, "text": "A note called " + id + "."})
	}
	addDocs(t, base, map[string]any{"id": "z", "text": "The note z, edited."})
	list := func(q string) []string {
		t.Helper()
		var l struct {
			Documents []struct{ ID string } `json:"documents"`
			Total     int                   `json:"total"`
		}
		r := call(t, "GET", base+"/documents"+q, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET /documents%s: %d %s", q, r.status, r.body)
		}
		r.decode(t, &l)
		var ids []string
		for _, d := range l.Documents {
			ids = append(ids, d.ID)
		}
		return ids
	}
	if got := list("?order=newest"); !slices.Equal(got, []string{"a", "z", "m"}) {
		t.Errorf("order=newest: %v, want a z m (last stored first)", got)
	}
	if got := list("?order=newest&offset=1&limit=1"); !slices.Equal(got, []string{"z"}) {
		t.Errorf("order=newest, second page of one: %v, want z", got)
	}
	if got := list(""); !slices.Equal(got, []string{"a", "m", "z"}) {
		t.Errorf("default order: %v, want id order", got)
	}
	if r := call(t, "GET", base+"/documents?order=random", nil, nil); r.status != http.StatusBadRequest {
		t.Errorf("order=random: status %d, want 400", r.status)
	}
}
