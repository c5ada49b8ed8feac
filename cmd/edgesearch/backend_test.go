package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/search/weaviate"
)

func TestParseBackend(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want weaviate.Options
		err  string
	}{
		{"", weaviate.Options{}, ""},
		{"local", weaviate.Options{}, ""},
		{"weaviate://10.0.0.5:8080", weaviate.Options{URL: "http://10.0.0.5:8080"}, ""},
		{"weaviate://wv.lan:8080/?consistency=quorum&replication=3",
			weaviate.Options{URL: "http://wv.lan:8080", Consistency: weaviate.Quorum, ReplicationFactor: 3}, ""},
		{"weaviate://[::1]:8080?consistency=ALL", weaviate.Options{URL: "http://[::1]:8080", Consistency: weaviate.All}, ""},
		{"http://wv:8080", weaviate.Options{}, "want local or weaviate://HOST:PORT"},
		{"weaviate://wv", weaviate.Options{}, "want local or weaviate://HOST:PORT"},
		{"weaviate://wv:8080/v1", weaviate.Options{}, "want local or weaviate://HOST:PORT"},
		{"weaviate://u:p@wv:8080", weaviate.Options{}, "want local or weaviate://HOST:PORT"},
		{"weaviate://wv:8080?consistency=SOME", weaviate.Options{}, "want ONE, QUORUM or ALL"},
		{"weaviate://wv:8080?replication=0", weaviate.Options{}, "replication=0"},
		{"weaviate://wv:8080?shards=2", weaviate.Options{}, `unknown parameter "shards"`},
		{"qdrant", weaviate.Options{}, "want local or weaviate://HOST:PORT"},
	} {
		got, err := parseBackend(tt.raw)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("parseBackend(%q): %v", tt.raw, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseBackend(%q) = %v, want an error with %q", tt.raw, err, tt.err)
		case !reflect.DeepEqual(got, tt.want):
			t.Errorf("parseBackend(%q) = %+v, want %+v", tt.raw, got, tt.want)
		}
	}
}

func TestBackendSettingIsFlagThenEnv(t *testing.T) {
	cfg, err := resolveConfig(serveFlags(t), envOf(map[string]string{"EDGESEARCH_BACKEND": "weaviate://wv:8080", "EDGESEARCH_MODEL": "/m.gguf", "EDGESEARCH_DATA": "/d"}))
	if err != nil || cfg.Weaviate.URL != "http://wv:8080" {
		t.Fatalf("from the environment: %+v, %v", cfg.Weaviate, err)
	}
	cfg, err = resolveConfig(serveFlags(t, "--backend", "local"), envOf(map[string]string{"EDGESEARCH_BACKEND": "weaviate://wv:8080", "EDGESEARCH_MODEL": "/m.gguf", "EDGESEARCH_DATA": "/d"}))
	if err != nil || cfg.Weaviate.URL != "" {
		t.Fatalf("--backend local over the environment: %+v, %v", cfg.Weaviate, err)
	}
	err = resolveBad(t, nil, map[string]string{"EDGESEARCH_BACKEND": "weaviate:/wv"})
	if !strings.Contains(err.Error(), "EDGESEARCH_BACKEND") {
		t.Fatalf("%q does not name EDGESEARCH_BACKEND", err)
	}
}
