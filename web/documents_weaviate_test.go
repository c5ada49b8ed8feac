package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
	"github.com/edgesearch/edgesearch/web"
)

// documentsOnWeaviate serves the document routes over a library whose
// chunks a one-node Weaviate of the test's own indexes.
func documentsOnWeaviate(t *testing.T) (*library, string, *weaviatetest.Cluster, *weaviate.Chunks) {
	t.Helper()
	node := weaviatetest.StartNode(t)
	client, err := weaviate.New(weaviate.Options{URL: node.URL(0), HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	chunks := weaviate.NewChunks(client, "documents-test", pool(t).Info().Dims)
	l := openLibraryWith(t, t.TempDir(), chunks)
	s, base := start(t, web.Config{}, pool(t))
	s.SetEngine(l.engine)
	return l, base, node, chunks
}

// settled waits until the engine's backend holds every write, or fails
// after a minute.
func settled(t *testing.T, e *search.Engine) func() {
	return func() {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for s := e.BackendState(); !s.Compared || s.Pending > 0; s = e.BackendState() {
			if time.Now().After(deadline) {
				t.Fatalf("backend still behind after a minute: %+v", s)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// The document routes answer as over a local index when the chunks live
// in Weaviate: the same test body.
func TestDocumentRoutesOnWeaviate(t *testing.T) {
	l, base, _, _ := documentsOnWeaviate(t)
	testDocumentRoutes(t, base, settled(t, l.engine))
	r := call(t, "GET", base+"/search?q=wasps&mode=keyword", nil, nil)
	if r.header.Get(web.PendingHeader) != "0" {
		t.Fatalf("%s = %q on a settled backend, want 0", web.PendingHeader, r.header.Get(web.PendingHeader))
	}
}

// While Weaviate is down, documents are still accepted (they are on the
// device's disk), searches answer 503 with Retry-After, and once it is
// back the writes reach it and are found.
func TestDocumentsOnWeaviateOutlastAnOutage(t *testing.T) {
	l, base, node, _ := documentsOnWeaviate(t)
	settle := settled(t, l.engine)
	addDocs(t, base, sampleDocs[0])
	settle()

	if err := node.Stop(0, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a := addDocs(t, base, sampleDocs[1:])
	if len(a.IDs) != 2 {
		t.Fatalf("documents added while Weaviate is down: %+v", a)
	}
	r := call(t, "GET", base+"/search?q=lug+nuts&mode=keyword", nil, nil)
	r.wantError(t, http.StatusServiceUnavailable, "unreachable")
	if r.header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After: %v", r.header)
	}
	if n, _ := strconv.Atoi(r.header.Get(web.PendingHeader)); n < 2 {
		t.Fatalf("%s = %q while two documents wait, want ≥ 2", web.PendingHeader, r.header.Get(web.PendingHeader))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := node.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	settle()
	got := searchGet(t, base, url.Values{"q": {"lug nuts"}, "mode": {"keyword"}})
	if !slices.Equal(got.ids(), []string{"tires"}) {
		t.Fatalf("a document written during the outage: %+v", got)
	}
}
