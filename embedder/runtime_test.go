package embedder

import (
	"context"
	"strings"
	"testing"
)

func TestUnknownRuntimeIsAnErrorNamingTheKnownOnes(t *testing.T) {
	_, err := New(context.Background(), Options{ModelPath: modelPath(t), Runtime: "no-such-runtime", CacheDir: "-"})
	if err == nil {
		t.Fatal("New accepted an unknown runtime")
	}
	if !strings.Contains(err.Error(), `"no-such-runtime"`) || !strings.Contains(err.Error(), "wazero") {
		t.Errorf("error %q should name the runtime asked for and the known ones", err)
	}
}
