package web_test

import (
	"net/http"
	"slices"
	"testing"
)

type similarAnswer struct {
	ID      string  `json:"id"`
	Chunk   *int    `json:"chunk"`
	TookMS  float64 `json:"took_ms"`
	Results []struct {
		ID       string            `json:"id"`
		Title    string            `json:"title"`
		Score    float64           `json:"score"`
		Snippet  string            `json:"snippet"`
		Metadata map[string]string `json:"metadata"`
		Chunk    int               `json:"chunk"`
	} `json:"results"`
}

func (a similarAnswer) ids() []string {
	var out []string
	for _, r := range a.Results {
		out = append(out, r.ID)
	}
	return out
}

// similarDocs are sampleDocs plus a near neighbour of each of two of them,
// and a long document whose chunks are about different things.
var similarDocs = append(slices.Clone(sampleDocs),
	map[string]any{"id": "wasps", "title": "Pollinators", "text": "Bumblebees and solitary bees pollinate the orchard; a honeybee colony in a hive needs flowers nearby.", "metadata": map[string]string{"topic": "nature"}},
	map[string]any{"id": "brakes", "title": "Brake pads", "text": "Replace worn brake pads on the car when the wheel squeals; check the discs for grooves.", "metadata": map[string]string{"topic": "cars"}},
)

func TestSimilarFindsNeighboursOfADocumentAndOfAChunk(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	addDocs(t, base, similarDocs)

	tests := []struct {
		name      string
		query     string
		wantFirst string
		wantChunk *int
		wantTopic string // every result's, when set
		wantLen   int    // 0: any
	}{
		{"whole document", "/documents/bees/similar", "wasps", nil, "", len(similarDocs) - 1},
		{"one chunk", "/documents/tires/similar?chunk=0", "brakes", ptr(0), "", 0},
		{"k", "/documents/tires/similar?k=2", "brakes", nil, "", 2},
		{"filter", "/documents/bees/similar?filter=topic=cars", "", nil, "cars", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "GET", base+tt.query, nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var a similarAnswer
			r.decode(t, &a)
			self := a.ID
			if slices.Contains(a.ids(), self) {
				t.Fatalf("%s is its own neighbour: %v", self, a.ids())
			}
			if tt.wantFirst != "" && (len(a.Results) == 0 || a.Results[0].ID != tt.wantFirst) {
				t.Fatalf("neighbours %v, want %s first", a.ids(), tt.wantFirst)
			}
			if tt.wantLen != 0 && len(a.Results) != tt.wantLen {
				t.Fatalf("%d neighbours %v, want %d", len(a.Results), a.ids(), tt.wantLen)
			}
			if (a.Chunk == nil) != (tt.wantChunk == nil) || (a.Chunk != nil && *a.Chunk != *tt.wantChunk) {
				t.Fatalf("chunk %v, want %v", a.Chunk, tt.wantChunk)
			}
			for i, res := range a.Results {
				if tt.wantTopic != "" && res.Metadata["topic"] != tt.wantTopic {
					t.Fatalf("result %s has topic %q, want %q", res.ID, res.Metadata["topic"], tt.wantTopic)
				}
				if res.Snippet == "" || res.Title == "" {
					t.Fatalf("result %+v lacks a title or snippet", res)
				}
				if i > 0 && res.Score > a.Results[i-1].Score {
					t.Fatalf("results not best first: %+v", a.Results)
				}
			}
		})
	}
}

func TestSimilarRefusesBadRequests(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	addDocs(t, base, sampleDocs)
	tests := []struct {
		query  string
		status int
		want   string
	}{
		{"/documents/nope/similar", 404, `no document with id "nope"`},
		{"/documents/bees/similar?k=0", 400, "k="},
		{"/documents/bees/similar?k=101", 400, "k="},
		{"/documents/bees/similar?k=many", 400, "k="},
		{"/documents/bees/similar?chunk=-1", 400, "chunk="},
		{"/documents/bees/similar?chunk=first", 400, "chunk="},
		{"/documents/bees/similar?chunk=5", 400, "chunks 0..0"},
		{"/documents/bees/similar?filter=topic", 400, "key=value"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			call(t, "GET", base+tt.query, nil, nil).wantError(t, tt.status, tt.want)
		})
	}
	embedOK(t, base, nil)
}

// TestSearchResultsNameTheirBestChunk: the UI asks for "more like this
// passage" with the chunk a search result names.
func TestSearchResultsNameTheirBestChunk(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	addDocs(t, base, sampleDocs)
	r := call(t, "GET", base+"/search?q=lug+nuts&mode=keyword", nil, nil)
	var a struct {
		Results []map[string]any `json:"results"`
	}
	r.decode(t, &a)
	if len(a.Results) == 0 || a.Results[0]["id"] != "tires" || a.Results[0]["chunk"] != float64(0) {
		t.Fatalf("results %s, want tires first with chunk 0", r.body)
	}
}

func ptr[T any](v T) *T { return &v }
