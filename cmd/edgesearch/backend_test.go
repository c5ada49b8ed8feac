package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/search/weaviate"
)

func TestParseBackend(t *testing.T) {
	type O = weaviate.Options
	d := defaultBackendTimeout
	for _, tt := range []struct {
		raw  string
		want backendConfig
		err  string
	}{
		{"", backendConfig{}, ""},
		{"local", backendConfig{}, ""},
		{"weaviate://10.0.0.5:8080", backendConfig{Weaviate: O{URL: "http://10.0.0.5:8080"}, Timeout: d}, ""},
		{"weaviate://wv.lan:8080/?consistency=quorum&replication=3",
			backendConfig{Weaviate: O{URL: "http://wv.lan:8080", Consistency: weaviate.Quorum, ReplicationFactor: 3}, Timeout: d}, ""},
		{"weaviate://[::1]:8080?consistency=ALL&timeout=2s", backendConfig{Weaviate: O{URL: "http://[::1]:8080", Consistency: weaviate.All}, Timeout: 2 * time.Second}, ""},
		{"http://wv:8080", backendConfig{}, "want local or weaviate://HOST:PORT"},
		{"weaviate://wv", backendConfig{}, "want local or weaviate://HOST:PORT"},
		{"weaviate://wv:8080/v1", backendConfig{}, "want local or weaviate://HOST:PORT"},
		{"weaviate://u:p@wv:8080", backendConfig{}, "want local or weaviate://HOST:PORT"},
		{"weaviate://wv:8080?consistency=SOME", backendConfig{}, "want ONE, QUORUM or ALL"},
		{"weaviate://wv:8080?replication=0", backendConfig{}, "replication=0"},
		{"weaviate://wv:8080?timeout=0s", backendConfig{}, "timeout=0s"},
		{"weaviate://wv:8080?timeout=1h", backendConfig{}, "at most 10m"},
		{"weaviate://wv:8080?outbox_entries=5000&outbox_bytes=64MiB",
			backendConfig{Weaviate: O{URL: "http://wv:8080"}, Timeout: d, OutboxEntries: 5000, OutboxBytes: 64 << 20}, ""},
		{"weaviate://wv:8080?outbox_bytes=1073741824", backendConfig{Weaviate: O{URL: "http://wv:8080"}, Timeout: d, OutboxBytes: 1 << 30}, ""},
		{"weaviate://wv:8080?outbox_entries=0", backendConfig{}, "outbox_entries=0: want a whole number from 1"},
		{"weaviate://wv:8080?outbox_entries=lots", backendConfig{}, "outbox_entries=lots"},
		{"weaviate://wv:8080?outbox_bytes=2GiB", backendConfig{}, "outbox_bytes=2GiB: want a size from 1MiB to 1GiB"},
		{"weaviate://wv:8080?outbox_bytes=1000", backendConfig{}, "outbox_bytes=1000"},
		{"weaviate://wv:8080?shards=2", backendConfig{}, `unknown parameter "shards"`},
		{"qdrant", backendConfig{}, "want local or weaviate://HOST:PORT"},
		{"weaviate://wv:8080?documents=local", backendConfig{Weaviate: O{URL: "http://wv:8080"}, Timeout: d, Documents: "local"}, ""},
		{"weaviate://wv:8080?documents=shelf_2-b", backendConfig{Weaviate: O{URL: "http://wv:8080"}, Timeout: d, Documents: "shelf_2-b"}, ""},
		{"weaviate://wv:8080?documents=a.b", backendConfig{}, "documents=a.b: want local or a collection name"},
		{"weaviate://wv:8080?documents=", backendConfig{}, "documents=: want local or a collection name"},
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
	if err != nil || cfg.Backend.Weaviate.URL != "http://wv:8080" {
		t.Fatalf("from the environment: %+v, %v", cfg.Backend.Weaviate, err)
	}
	cfg, err = resolveConfig(serveFlags(t, "--backend", "local"), envOf(map[string]string{"EDGESEARCH_BACKEND": "weaviate://wv:8080", "EDGESEARCH_MODEL": "/m.gguf", "EDGESEARCH_DATA": "/d"}))
	if err != nil || cfg.Backend.Weaviate.URL != "" {
		t.Fatalf("--backend local over the environment: %+v, %v", cfg.Backend.Weaviate, err)
	}
	err = resolveBad(t, nil, map[string]string{"EDGESEARCH_BACKEND": "weaviate:/wv"})
	if !strings.Contains(err.Error(), "EDGESEARCH_BACKEND") {
		t.Fatalf("%q does not name EDGESEARCH_BACKEND", err)
	}
}
