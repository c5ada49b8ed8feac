package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFullDiskAnswers507AndKeepsWhatWasStored runs the server with its data
// directory on a small tmpfs, fills the disk, and checks that a write then
// answers 507 with a message saying what happened (not 500 "internal
// error"), that the documents stored before are intact, also after a
// restart, and that writes work again once space is freed. Mounting needs
// root, which CI has; elsewhere the test skips.
func TestFullDiskAnswers507AndKeepsWhatWasStored(t *testing.T) {
	disk := mountTmpfs(t, "4m")
	data := filepath.Join(disk, "data")
	srv, base := startServe(t, data)

	post := func(id, text string) (int, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"id": id, "text": text})
		resp, err := http.Post(base+"/documents", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("before", "Stored before the disk filled up."); code != http.StatusCreated {
		t.Fatalf("first document: %d %s", code, body)
	}
	// Leave less room than the next document's text needs.
	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler, 48<<10)
	big := strings.Repeat("The disk of this small appliance is nearly full, so this long text cannot be written. ", 1200)
	code, body := post("big", big)
	if code != http.StatusInsufficientStorage || !strings.Contains(body, "disk") || !strings.Contains(body, "full") {
		t.Fatalf("write to a full disk: %d %s; want 507 saying the disk is full", code, body)
	}
	var d struct{ ID, Text string }
	getJSON(t, base+"/documents/before", &d)
	if d.Text != "Stored before the disk filled up." {
		t.Fatalf("document stored before the disk filled: %+v", d)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code, body := post("big", big); code != http.StatusCreated {
		t.Fatalf("write after space was freed: %d %s", code, body)
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	_, base = startServe(t, data)
	for _, id := range []string{"before", "big"} {
		getJSON(t, base+"/documents/"+id, &d)
		if d.ID != id {
			t.Errorf("after restart: document %q is %+v", id, d)
		}
	}
}

// mountTmpfs mounts a tmpfs of the given size on a temp directory for the
// test. Without root the test skips, except in CI, which runs as root and
// must not skip.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") == "" && os.Geteuid() != 0 {
			t.Skipf("mounting a tmpfs needs root: %v %s", err, out)
		}
		t.Fatalf("mount a tmpfs of %s on %s: %v %s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes path until the file system has about free bytes left.
func fillDisk(t *testing.T, path string, free int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	if avail <= free {
		t.Fatalf("only %d bytes free before filling", avail)
	}
	if err := os.WriteFile(path, make([]byte, avail-free), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestImportStopsOnAFullDisk pins that an import whose disk fills up stops
// with one message saying so, rather than failing every remaining file, and
// leaves the store readable with what was stored before.
func TestImportStopsOnAFullDisk(t *testing.T) {
	model := modelPath(t)
	disk := mountTmpfs(t, "4m")
	data := filepath.Join(disk, "data")
	docs := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(docs, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("first.txt", "Stored before the disk filled up.")
	if r := runBinary(t, "", []string{"EDGESEARCH_MODEL=" + model}, "import", docs, "--data", data); r.code != 0 {
		t.Fatalf("first import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	fillDisk(t, filepath.Join(disk, "filler"), 48<<10)
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		write(name, strings.Repeat("A long note about "+name+" that will not fit on the full disk. ", 500))
	}
	r := runBinary(t, "", []string{"EDGESEARCH_MODEL=" + model}, "import", docs, "--data", data)
	if r.code == 0 || !strings.Contains(r.stderr, "no space left") || strings.Count(r.stdout+r.stderr, "no space left") > 2 {
		t.Fatalf("import to a full disk: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, "", []string{"EDGESEARCH_MODEL=" + model}, "search", "disk filled", "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, "first") {
		t.Fatalf("search after the failed import: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
