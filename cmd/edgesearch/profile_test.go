package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/embedder/model"
	"github.com/edgesearch/edgesearch/search"
)

func TestAutoProfileIsSmallOn32BitArmAndSmallMachines(t *testing.T) {
	for _, tc := range []struct {
		asked, goarch string
		mem           int64
		want, why     string
	}{
		{"auto", "arm", 8 << 30, profileSmall, "32-bit arm"},
		{"", "arm", 0, profileSmall, "wazero interprets"},
		{"auto", "amd64", 1 << 30, profileSmall, "1024 MiB"},
		{"auto", "arm64", 512 << 20, profileSmall, "512 MiB"},
		{"auto", "arm64", 8 << 30, profileStandard, "enough memory"},
		{"auto", "amd64", 0, profileStandard, ""}, // no /proc/meminfo (macOS)
		{"standard", "arm", 512 << 20, profileStandard, "asked for"},
		{"small", "amd64", 64 << 30, profileSmall, "asked for"},
	} {
		got, why, err := chooseProfile(tc.asked, tc.goarch, tc.mem)
		if err != nil || got != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("chooseProfile(%q, %s, %d MiB) = %q, %q, %v; want %q, why with %q",
				tc.asked, tc.goarch, tc.mem>>20, got, why, err, tc.want, tc.why)
		}
	}
	if _, _, err := chooseProfile("tiny", "amd64", 0); err == nil {
		t.Error("an unknown profile was accepted")
	}
}

func TestSmallProfileSetsWhatTheUserLeftAlone(t *testing.T) {
	env := map[string]string{"HOME": "/home/pi"}
	c, err := resolveConfig(serveFlags(t, "--profile", "small"), envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != profileSmall || c.Threads != 1 || c.Queue != 256 || c.BulkQueue != 64 ||
		c.HNSW != smallHNSW || c.MemoryLimit != smallMemoryLimit || !c.QuantizedModel || !c.StoreFloat16 ||
		c.ModelPath != filepath.Join(model.CacheDir(), "all-MiniLM-L6-v2-q8_0.gguf") {
		t.Errorf("small profile: %+v", c)
	}
	// What the user set stays theirs.
	c, err = resolveConfig(serveFlags(t, "--profile", "small", "--threads", "3", "--model", "/m.gguf"),
		envOf(map[string]string{"HOME": "/home/pi", "EDGESEARCH_QUEUE": "900"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Threads != 3 || c.Queue != 900 || c.ModelPath != "/m.gguf" || c.QuantizedModel {
		t.Errorf("small profile with threads, queue and model given: threads %d, queue %d, model %q, quantized %v",
			c.Threads, c.Queue, c.ModelPath, c.QuantizedModel)
	}
	c, err = resolveConfig(serveFlags(t, "--profile", "standard"), envOf(env))
	if err != nil || c.Threads != 0 || c.HNSW != (search.Params{}) || c.MemoryLimit != 0 ||
		c.ModelPath != filepath.Join(model.CacheDir(), "all-MiniLM-L6-v2-f16.gguf") {
		t.Errorf("standard profile: %+v, %v", c, err)
	}
}
