package main

import (
	"debug/elf"
	"os/exec"
	"regexp"
	"runtime"
	"testing"
)

// maxBinaryBytes is shared/DESIGN.md's target for the binary a person
// copies onto a Pi: 25 MB.
const maxBinaryBytes = 25_000_000

// TestBinaryFitsTheSizeTarget measures the tests' own build of edgesearch
// (with the release tags) as `make build` would ship it: the sections
// loaded into memory, which is what -ldflags '-s -w' keeps (the symbol
// table and DWARF are what it drops; the two differ by a few kilobytes).
// A dependency that drags a large library in fails here, not on a Pi.
func TestBinaryFitsTheSizeTarget(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("reads ELF sections; this is %s", runtime.GOOS)
	}
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var size uint64
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Type != elf.SHT_NOBITS {
			size += s.Size
		}
	}
	t.Logf("%s/%s: %d bytes loaded (the stripped binary's size, within a few kilobytes)", runtime.GOOS, runtime.GOARCH, size)
	if size > maxBinaryBytes {
		t.Errorf("edgesearch is %d bytes stripped, over the %d-byte target: see what grew with `go version -m` and `go tool nm -size -sort size`", size, maxBinaryBytes)
	}
	// The tags did what they are for.
	out, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range []string{`github\.com/ugorji/go`, `github\.com/quic-go/quic-go`, `go\.mongodb\.org/mongo-driver`} {
		if regexp.MustCompile(`\tdep\t` + dep).Match(out) {
			t.Errorf("the binary links %s, which edgesearch never uses", dep)
		}
	}
}
