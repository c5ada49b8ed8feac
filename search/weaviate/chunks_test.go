package weaviate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/embedder/model"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
	"github.com/edgesearch/edgesearch/store"
)

// The documents on a Weaviate class: the same documents written through
// an engine with the Chunks backend and through a local engine answer the
// same searches, and the backend catches up with what was written while it
// was down.

var (
	modelOnce sync.Once
	modelPool *embedder.Pool
	modelErr  error
)

// embed returns the real model's vectors of texts.
func embed(t *testing.T, texts []string) []embedder.Embedding {
	t.Helper()
	modelOnce.Do(func() {
		path := model.DefaultPath()
		if _, modelErr = os.Stat(path); modelErr != nil {
			modelErr = fmt.Errorf("model %s is missing: run `make model` or set EDGESEARCH_MODEL: %w", path, modelErr)
			return
		}
		modelPool, modelErr = embedder.New(context.Background(), embedder.Options{ModelPath: path, Workers: 2})
	})
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	embs, err := modelPool.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	return embs
}

// backendCorpus: id, topic, paragraphs (one chunk each).
var backendCorpus = []struct {
	id, topic string
	paras     []string
}{
	{"bread", "food", []string{"Mix flour, water and a lively starter, then let the dough ferment overnight.", "Bake the shaped loaf in a covered pot until the crust turns deep brown."}},
	{"bees", "nature", []string{"A beekeeper inspects the hive every week in spring, looking for the queen and capped brood."}},
	{"tires", "cars", []string{"Loosen the lug nuts before lifting the car with the jack.", "Swap in the spare wheel and tighten the nuts in a star pattern."}},
	{"volcano", "science", []string{"Magma rises through cracks in the crust; when dissolved gases escape violently the mountain explodes in ash and lava."}},
	{"chess", "games", []string{"Control the centre squares early, develop knights and bishops before moving the queen, and castle."}},
	{"tax", "money", []string{"Gather salary statements and receipts for deductible expenses before the income tax deadline."}},
	{"sleep", "health", []string{"Go to bed at the same hour every day and avoid caffeine in the afternoon.", "Screens late in the evening delay the release of melatonin."}},
	{"git", "software", []string{"To take back the last commit but keep its changes, reset the branch with the soft option."}},
	{"whale", "nature", []string{"Humpback whales feed on krill in polar seas and migrate to tropical waters in winter to give birth."}},
	{"coffee", "food", []string{"Grind the beans finely and pull a double espresso shot at nine bar in about twenty-five seconds."}},
	{"roman", "history", []string{"In 476 the last western Roman emperor was deposed by Odoacer."}},
	{"solar", "energy", []string{"Photovoltaic panels on a roof convert sunlight into current that an inverter turns into household power."}},
	{"moon", "science", []string{"The Moon's lit half grows from new moon to full moon over about twenty-nine days."}},
	{"vaccine", "health", []string{"A vaccine shows the immune system a harmless piece of a pathogen so memory cells form."}},
}

var backendDocsOnce sync.Once
var backendDocs []store.Document

// corpusDocuments returns the corpus embedded, fresh copies each call.
func corpusDocuments(t *testing.T) []store.Document {
	backendDocsOnce.Do(func() {
		for _, c := range backendCorpus {
			backendDocs = append(backendDocs, document(t, c.id, c.topic, c.paras))
		}
	})
	out := slices.Clone(backendDocs)
	for i := range out {
		out[i].Chunks = slices.Clone(out[i].Chunks)
		for j := range out[i].Chunks {
			out[i].Chunks[j].ID = 0
		}
	}
	return out
}

func document(t *testing.T, id, topic string, paras []string) store.Document {
	embs := embed(t, paras)
	d := store.Document{ID: id, Title: strings.ToUpper(id[:1]) + id[1:], Text: strings.Join(paras, "\n\n"),
		Source: "corpus/" + id + ".txt", Metadata: map[string]string{"topic": topic, "year": fmt.Sprint(2000 + len(id))}}
	off := 0
	for i, p := range paras {
		d.Chunks = append(d.Chunks, store.Chunk{Start: off, End: off + len(p), Tokens: embs[i].Tokens, Vector: embs[i].Vector})
		off += len(p) + 2
	}
	return d
}

// engineOver opens a store in dir and an engine over it, with backend b
// (nil: local indexes).
func engineOver(t *testing.T, dir string, b search.ChunkBackend) (*search.Engine, *store.Store) {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "edgesearch.db"), store.Options{Model: "all-MiniLM-L6-v2", Dims: 384})
	if err != nil {
		t.Fatal(err)
	}
	e, err := search.Open(context.Background(), st, search.EngineOptions{Dir: dir, Backend: b, Params: search.Params{Seed: 1}})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return e, st
}

// waitSent waits until e's backend holds every write (compared, nothing
// pending), or fails after a minute.
func waitSent(t *testing.T, e *search.Engine) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s := e.BackendState()
		if s.Compared && s.Pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend still behind after a minute: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func resultIDs(rs []search.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// backendIDs lists the chunk ids b holds.
func backendIDs(t *testing.T, b search.ChunkBackend) []uint64 {
	t.Helper()
	var ids []uint64
	if err := b.IDs(ctxFor(t), func(page []uint64) error { ids = append(ids, page...); return nil }); err != nil {
		t.Fatal(err)
	}
	return ids
}

// tableIDs lists the chunk ids of every document in st.
func tableIDs(t *testing.T, st *store.Store) []uint64 {
	t.Helper()
	var ids []uint64
	if _, err := st.ForEachChunk(context.Background(), func(c store.Chunk) error { ids = append(ids, c.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// freshChunks is a Chunks backend over an empty class of the test node
// named name (dropped now and after the test).
func freshChunks(t *testing.T, ctx context.Context, name string, dims int) *weaviate.Chunks {
	t.Helper()
	c := client(t, weaviate.Options{})
	c.Drop(ctx, name)
	t.Cleanup(func() { c.Drop(context.Background(), name) })
	return weaviate.NewChunks(c, name, dims)
}

// TestChunksKeepTermFrequencies: the copy of a chunk's text is every
// analyzed term, repeats kept, so Weaviate's BM25 ranks a chunk that says
// a word three times above one that says it once, as ours does (the copy
// held each term once before, which threw that away).
func TestChunksKeepTermFrequencies(t *testing.T) {
	ctx := ctxFor(t)
	b := freshChunks(t, ctx, "documents-frequencies", 4)
	chunk := func(id uint64, text string) search.BackendChunk {
		return search.BackendChunk{ID: id, Vector: []float32{1, 0, 0, 0}, Payload: search.ChunkPayload(fmt.Sprint(id), "", "", nil, 0, text)}
	}
	if err := b.Put(ctx, []search.BackendChunk{
		chunk(1, "The river bank: rivers flood the river meadows."),
		chunk(2, "The bank lends money; a bank account pays interest on the river side."),
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		first uint64
	}{{"river", 1}, {"bank", 2}} { // chunk 1: river three times, bank once; chunk 2: bank twice, river once
		hits, err := b.Search(ctx, search.Keyword, nil, tc.query, nil, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 2 || hits[0].ID != tc.first || !(hits[0].Score > hits[1].Score) {
			t.Fatalf("keyword %s: %+v, want chunk %d strictly above the other", tc.query, hits, tc.first)
		}
	}
}

func TestChunksBackendAnswersAsTheLocalEngine(t *testing.T) {
	ctx := ctxFor(t)
	b := freshChunks(t, ctx, "documents-answers", 384)

	local, lst := engineOver(t, t.TempDir(), nil)
	defer lst.Close()
	defer local.Close()
	remote, rst := engineOver(t, t.TempDir(), b)
	defer rst.Close()
	defer remote.Close()
	for _, e := range []*search.Engine{local, remote} {
		if _, err := e.Write(ctx, store.Change{Put: corpusDocuments(t)}); err != nil {
			t.Fatal(err)
		}
	}
	waitSent(t, remote)
	if got, want := backendIDs(t, b), tableIDs(t, rst); !slices.Equal(got, want) {
		t.Fatalf("backend holds chunks %v, the store %v", got, want)
	}

	queries := []string{"how do I fix a flat tyre", "baking bread at home", "whale migration", "getting better sleep", "undo my last commit", "erupting mountains"}
	want := map[string]string{queries[0]: "tires", queries[1]: "bread", queries[2]: "whale", queries[3]: "sleep", queries[4]: "git", queries[5]: "volcano"}
	for _, q := range queries {
		vec := embed(t, []string{q})[0].Vector
		for _, mode := range []search.Mode{search.Semantic, search.Hybrid, search.Keyword} {
			query := search.Query{Text: q, Vector: vec, K: 5, Mode: mode}
			if mode == search.Keyword {
				query = search.Query{Text: strings.Fields(q)[len(strings.Fields(q))-1], K: 5, Mode: mode}
			}
			lr, err := local.Search(ctx, query)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := remote.Search(ctx, query)
			if err != nil {
				t.Fatalf("%q %v: %v", q, mode, err)
			}
			switch mode {
			case search.Semantic:
				// Both walk an HNSW graph over 20 chunks: exact here.
				if !slices.Equal(resultIDs(lr), resultIDs(rr)) {
					t.Errorf("semantic %q: local %v, backend %v", q, resultIDs(lr), resultIDs(rr))
				}
				for i := range rr {
					if d := rr[i].Score - lr[i].Score; d > 1e-4 || d < -1e-4 {
						t.Errorf("semantic %q #%d: score %v, local %v", q, i, rr[i].Score, lr[i].Score)
					}
				}
			case search.Hybrid:
				if len(rr) == 0 || rr[0].ID != want[q] {
					t.Errorf("hybrid %q: backend %v, want %s first (local %v)", q, resultIDs(rr), want[q], resultIDs(lr))
				}
			case search.Keyword:
				// Weaviate's BM25 and ours score alike but not equally: the
				// same documents match a one-word query.
				l, r := resultIDs(lr), resultIDs(rr)
				slices.Sort(l)
				slices.Sort(r)
				if !slices.Equal(l, r) {
					t.Errorf("keyword %q: local %v, backend %v", query.Text, l, r)
				}
			}
			for _, r := range rr {
				if r.Snippet.Text == "" || r.Title == "" || r.Metadata["topic"] == "" {
					t.Errorf("%q %v: result %s lacks its snippet, title or metadata: %+v", q, mode, r.ID, r)
				}
			}
		}
	}

	// Filters: key=value, a Where filter, and a numeric metadata value.
	vec := embed(t, []string{"nature and animals"})[0].Vector
	where, err := search.ParseFilter([]byte(`{"must_not":[{"key":"id","match":{"value":"bees"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []search.Query{
		{Vector: vec, K: 10, Mode: search.Semantic, Filter: map[string]string{"topic": "nature"}},
		{Vector: vec, K: 10, Mode: search.Semantic, Filter: map[string]string{"topic": "nature"}, Where: where},
		{Vector: vec, K: 10, Mode: search.Semantic, Filter: map[string]string{"year": "2005"}},
		{Vector: vec, K: 10, Mode: search.Semantic, Filter: map[string]string{"source": "corpus/moon.txt"}},
	} {
		lr, err := local.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		rr, err := remote.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(lr) == 0 || !slices.Equal(resultIDs(lr), resultIDs(rr)) {
			t.Errorf("filter %v %v: local %v, backend %v", q.Filter, q.Where, resultIDs(lr), resultIDs(rr))
		}
	}

	// The documents as points.
	pq := search.PointQuery{Vector: vec, Limit: 5, WithPayload: true}
	lp, err := local.QueryPoints(ctx, pq)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := remote.QueryPoints(ctx, pq)
	if err != nil {
		t.Fatal(err)
	}
	if len(lp) != len(rp) {
		t.Fatalf("query points: local %d, backend %d", len(lp), len(rp))
	}
	for i := range rp {
		// Chunk ids are the stores' own; compare what they hold.
		if string(lp[i].Payload) != string(rp[i].Payload) {
			t.Errorf("query points #%d: local %s, backend %s", i, lp[i].Payload, rp[i].Payload)
		}
	}

	// Replace one document and delete another: the backend follows.
	for _, e := range []*search.Engine{local, remote} {
		repl := document(t, "tires", "cars", []string{"Electric cars need no oil changes, only tyre rotations."})
		if _, err := e.Write(ctx, store.Change{Put: []store.Document{repl}, Delete: []string{"whale"}}); err != nil {
			t.Fatal(err)
		}
	}
	waitSent(t, remote)
	if got, want := backendIDs(t, b), tableIDs(t, rst); !slices.Equal(got, want) {
		t.Fatalf("after replace and delete the backend holds %v, the store %v", got, want)
	}
	rr, err := remote.Search(ctx, search.Query{Vector: embed(t, []string{"whale migration"})[0].Vector, K: 3, Mode: search.Semantic})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(resultIDs(rr), "whale") {
		t.Fatalf("deleted document found: %v", resultIDs(rr))
	}
}

func TestChunksBackendCatchesUpAfterAnOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cl := weaviatetest.StartNode(t)
	c, err := weaviate.New(weaviate.Options{URL: cl.URL(0), HTTPClient: nil})
	if err != nil {
		t.Fatal(err)
	}
	b := weaviate.NewChunks(c, "documents-outage", 384)
	dir := t.TempDir()
	docs := corpusDocuments(t)

	e, st := engineOver(t, dir, b)
	if _, err := e.Write(ctx, store.Change{Put: docs[:6]}); err != nil {
		t.Fatal(err)
	}
	waitSent(t, e)

	// Down: writes are still acknowledged (they are in the store), searches
	// say the backend is unreachable, and the sender counts what it owes.
	if err := cl.Stop(0, 9); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Write(ctx, store.Change{Put: docs[6:], Delete: []string{"bread"}}); err != nil {
		t.Fatalf("a write while the backend is down: %v", err)
	}
	_, err = e.Search(ctx, search.Query{Text: "whales", Mode: search.Keyword})
	if !errors.Is(err, search.ErrBackendUnavailable) {
		t.Fatalf("search while down: %v, want ErrBackendUnavailable", err)
	}
	// The sender meets the outage at its next attempt.
	deadline := time.Now().Add(30 * time.Second)
	for s := e.BackendState(); s.LastError == nil; s = e.BackendState() {
		if time.Now().After(deadline) {
			t.Fatalf("while down: %+v, want an error within 30 s", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := e.BackendState(); s.Pending == 0 || !errors.Is(s.LastError, search.ErrBackendUnavailable) {
		t.Fatalf("while down: %+v, want pending chunks and ErrBackendUnavailable", s)
	}
	// Closing loses the sender's memory of what it owes, as a crash would.
	e.Close()
	st.Close()

	if err := cl.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	e, st = engineOver(t, dir, b)
	defer st.Close()
	defer e.Close()
	waitSent(t, e)
	if got, want := backendIDs(t, b), tableIDs(t, st); !slices.Equal(got, want) {
		t.Fatalf("after the outage the backend holds %v, the store %v", got, want)
	}
	rs, err := e.Search(ctx, search.Query{Vector: embed(t, []string{"whale migration"})[0].Vector, K: 3, Mode: search.Semantic})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 || rs[0].ID != "whale" {
		t.Fatalf("a document written during the outage: got %v, want whale first", resultIDs(rs))
	}
}
