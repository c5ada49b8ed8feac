package main

import (
	"strings"
	"syscall"
	"testing"
)

// TestImportOverServerTwiceSaysTheFilesAreUnchanged: a second import of the
// same files through a server embeds nothing, and its summary says so as a
// local import's does ("imported 0 files ...; 2 unchanged"), not "imported
// 2 files (0 documents, 0 chunks)", which read as if the server had lost
// the chunks.
func TestImportOverServerTwiceSaysTheFilesAreUnchanged(t *testing.T) {
	srv, base := startServe(t, t.TempDir())
	defer srv.Process.Signal(syscall.SIGTERM)
	docs := tourDocs(t)
	r := runBinary(t, "", nil, "import", docs, "--server", base)
	if r.code != 0 || !strings.Contains(r.stdout, "imported 3 files (3 documents, 3 chunks)") {
		t.Fatalf("first import --server: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, "", nil, "import", docs, "--server", base)
	if r.code != 0 || !strings.Contains(r.stdout, "imported 0 files (0 documents, 0 chunks)") ||
		!strings.Contains(r.stdout, "; 3 unchanged,") || !strings.Contains(r.stdout, "left 3 documents already stored as they are") {
		t.Errorf("second import --server: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
