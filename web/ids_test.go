package web_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestEveryAcceptedIDIsReachable pins that a document stored under an id
// with "/", "?", "#", "%" or spaces — path-like ids from JSONL and CSV are
// common — can be fetched, compared and deleted with the id percent-encoded
// in the path, as the web UI sends it (encodeURIComponent); and that the
// ids no URL can address ("." and "..") are refused when stored.
func TestEveryAcceptedIDIsReachable(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	ids := []string{
		"notes/2024/plan.md", "/leading", "trailing/", "a//b", "a/similar",
		"what?", "x#y", "100%", "a b", "ünïcode/ß", "...", ".hidden", "a/./b", "a/../b",
	}
	for _, id := range ids {
		addDocs(t, base, map[string]any{"id": id, "text": "A document whose id is " + id + ", about keeping bees."})
	}
	addDocs(t, base, map[string]any{"id": "other", "text": "Another document, about honey."})
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			path := base + "/documents/" + url.PathEscape(id)
			r := call(t, "GET", path, nil, nil)
			var d struct{ ID string }
			if r.status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, r.status, r.body)
			}
			if r.decode(t, &d); d.ID != id {
				t.Fatalf("GET %s: id %q, want %q", path, d.ID, id)
			}
			if r := call(t, "GET", path+"/similar", nil, nil); r.status != http.StatusOK {
				t.Fatalf("GET %s/similar: %d %s", path, r.status, r.body)
			}
			if r := call(t, "DELETE", path, nil, nil); r.status != http.StatusNoContent {
				t.Fatalf("DELETE %s: %d %s", path, r.status, r.body)
			}
			if r := call(t, "GET", path, nil, nil); r.status != http.StatusNotFound {
				t.Fatalf("GET %s after DELETE: %d %s", path, r.status, r.body)
			}
		})
	}
	for _, id := range []string{".", ".."} {
		r := call(t, "POST", base+"/documents", map[string]any{"id": id, "text": "unreachable"}, nil)
		r.wantError(t, http.StatusBadRequest, "URL")
	}
}
