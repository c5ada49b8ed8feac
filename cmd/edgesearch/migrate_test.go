package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
	"github.com/edgesearch/edgesearch/store"
)

// The source collections of the migration tests: alpha has the unnamed
// vector and ~3,000 points, beta.Two-vec two named vectors under Dot and
// Euclid. Both mix integer ids (0 and ones past 2^63 included) with UUIDs,
// and payloads with nested objects, arrays, unicode, big and fractional
// numbers, null, {} and none at all.
const (
	migAlpha      = "alpha"
	migBeta       = "beta.Two-vec"
	migAlphaCount = 3000
	migBetaCount  = 400
)

var migVectors = map[string]map[string]store.VectorParams{
	migAlpha: {"": {Size: 32, Distance: store.Cosine}},
	migBeta:  {"img": {Size: 8, Distance: store.Dot}, "txt": {Size: 12, Distance: store.Euclid}},
}

// startMigrateNode starts a one-node Weaviate for one test and returns its
// weaviate:// address and a client of it.
func startMigrateNode(t *testing.T) (string, *weaviate.Client) {
	t.Helper()
	node := weaviatetest.StartNode(t)
	client, err := weaviate.New(weaviate.Options{URL: node.URL(0)})
	if err != nil {
		t.Fatal(err)
	}
	return node.Backend(0), client
}

// migPayload is point i's payload: a rotation of shapes that exercise the
// copy's exactness.
func migPayload(i int, r *rand.Rand) []byte {
	switch i % 9 {
	case 0:
		return nil
	case 1:
		return []byte(`{}`)
	case 2:
		return fmt.Appendf(nil, `{"text":"Grüße aus Köln – 日本語のテキスト 🚀 #%d","lang":"de"}`, i)
	case 3:
		return fmt.Appendf(nil, `{"n":%d,"big":18446744073709551615,"neg":-9007199254740993,"f":%g,"ok":true,"nil":null}`, i, r.Float64()*1e6-5e5)
	case 4:
		return fmt.Appendf(nil, `{"tags":["a","b c","a"],"mixed":[1,"1",true,null,[2,3],{"k":"v"}],"empty":[]}`)
	case 5:
		return fmt.Appendf(nil, `{"meta":{"author":{"name":"Zoë \"Z\" O'Neil","ids":[%d,%d]},"rtl":"שלום עולם","deep":{"a":{"b":{"c":{"d":"e"}}}}}}`, i, i+1)
	case 6:
		return fmt.Appendf(nil, `{"body":"line one\nline two\ttabbed \\ backslash \u2028","price":%d.5}`, i)
	case 7:
		// White space inside is the payload's own and must survive.
		return fmt.Appendf(nil, `{ "spaced" : [ 1 , 2 ] , "i" : %d }`, i)
	}
	return fmt.Appendf(nil, `{"title":"point %d","score":%v,"when":"2026-11-29T11:00:00Z"}`, i, r.Float32())
}

// migPoints makes n deterministic points for a collection with vectors.
func migPoints(n int, vectors map[string]store.VectorParams, seed uint64) []store.Point {
	r := rand.New(rand.NewPCG(seed, 7))
	pts := make([]store.Point, 0, n)
	for i := range n {
		var id store.PointID
		switch {
		case i == 0:
			id = store.NumPointID(0)
		case i == 1:
			id = store.NumPointID(math.MaxUint64)
		case i%6 == 5:
			var b [16]byte
			for k := range b {
				b[k] = byte(r.UintN(256))
			}
			b[6] = b[6]&0x0f | 0x40 // a version 4 UUID: its first 8 bytes are never all zero
			b[8] = b[8]&0x3f | 0x80
			var err error
			if id, err = store.ParsePointID(fmt.Sprintf("%x-%x-%x-%x-%x", b[:4], b[4:6], b[6:8], b[8:10], b[10:])); err != nil {
				panic(err)
			}
		default:
			id = store.NumPointID(uint64(i) * 7)
		}
		p := store.Point{ID: id, Vectors: map[string][]float32{}, Payload: migPayload(i, r)}
		for name, vp := range vectors {
			v := make([]float32, vp.Size)
			for k := range v {
				v[k] = float32(r.NormFloat64())
			}
			p.Vectors[name] = v
		}
		pts = append(pts, p)
	}
	return pts
}

// migSource makes a data directory whose store holds alpha and beta.
func migSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(indexer.StorePath(dir), store.Options{Model: "test-model", Dims: 384})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, n := range map[string]int{migAlpha: migAlphaCount, migBeta: migBetaCount} {
		if _, err := st.CreateCollection(context.Background(), name, migVectors[name]); err != nil {
			t.Fatal(err)
		}
		pts := migPoints(n, migVectors[name], uint64(len(name)))
		for start := 0; start < len(pts); start += 500 {
			if err := st.UpsertPoints(context.Background(), name, pts[start:min(start+500, len(pts))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// localPoints reads every point of a local collection in id order.
func localPoints(t *testing.T, dir, name string) []store.Point {
	t.Helper()
	st, err := store.Open(indexer.StorePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var all []store.Point
	var from *store.PointID
	for {
		pts, next, err := st.ScrollPoints(name, from, 1000)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, pts...)
		if next == nil {
			return all
		}
		from = next
	}
}

// remotePoints reads every point of a collection on the cluster in id order.
func remotePoints(t *testing.T, c *weaviate.Client, name string) []store.Point {
	t.Helper()
	ctx := context.Background()
	var all []store.Point
	var from *store.PointID
	for {
		pts, next, err := c.Scroll(ctx, name, nil, from, 1000, true, true)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, pts...)
		if next == nil {
			return all
		}
		from = next
	}
}

// samePoints fails unless got holds exactly want's points, in the same id
// order (so no duplicates), vectors bit for bit and payloads byte for byte
// (less the white space around them).
func samePoints(t *testing.T, what string, want, got []store.Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d points, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID {
			t.Fatalf("%s: point %d is %v, want %v", what, i, got[i].ID, want[i].ID)
		}
		w, g := want[i], got[i]
		if len(g.Vectors) != len(w.Vectors) {
			t.Fatalf("%s: point %v has vectors %v, want %v", what, w.ID, slices.Collect(maps.Keys(g.Vectors)), slices.Collect(maps.Keys(w.Vectors)))
		}
		for name, v := range w.Vectors {
			if !slices.EqualFunc(v, g.Vectors[name], func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
				t.Fatalf("%s: point %v vector %q is %v, want %v", what, w.ID, name, g.Vectors[name], v)
			}
		}
		if !bytes.Equal(bytes.TrimSpace(g.Payload), bytes.TrimSpace(w.Payload)) {
			t.Fatalf("%s: point %v payload is %s, want %s", what, w.ID, g.Payload, w.Payload)
		}
	}
}

func TestMigrateToWeaviateAndBack(t *testing.T) {
	url, client := startMigrateNode(t)
	src := migSource(t)
	ctx := context.Background()

	r := runBinary(t, "", nil, "migrate", "--to", url, "--data", src)
	if r.code != 0 {
		t.Fatalf("migrate --to: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{migAlpha, migBeta} {
		if !strings.Contains(r.stdout, fmt.Sprintf("migrated collection %q", name)) {
			t.Errorf("no summary for %s in %q", name, r.stdout)
		}
		want := localPoints(t, src, name)
		samePoints(t, "cluster "+name, want, remotePoints(t, client, name))
		info, err := client.Info(ctx, name)
		if err != nil || !maps.Equal(info.Vectors, migVectors[name]) || info.Points != len(want) {
			t.Fatalf("cluster %s: %+v, %v", name, info, err)
		}
	}
	if !strings.Contains(r.stderr, "serve answers for a local collection first") {
		t.Errorf("no hint that the local copy still answers: %q", r.stderr)
	}

	// Again: the classes exist and no interrupted run made them.
	r = runBinary(t, "", nil, "migrate", "--to", url, "--collection", migBeta, "--data", src)
	if r.code != 1 || !strings.Contains(r.stderr, weaviate.ClassName(migBeta)) || !strings.Contains(r.stderr, "--into-existing") {
		t.Fatalf("migrate into an existing class: exit %d, stderr %q; want a refusal naming the class", r.code, r.stderr)
	}

	// Back into a data directory with no store: made for the model.
	dst := filepath.Join(t.TempDir(), "fresh")
	r = runBinary(t, "", []string{"MODEL_PATH=" + modelPath(t)}, "migrate", "--from", url, "--collection", migAlpha+","+migBeta, "--data", dst, "--page-size", "700")
	if r.code != 0 {
		t.Fatalf("migrate --from: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{migAlpha, migBeta} {
		samePoints(t, "copied back "+name, localPoints(t, src, name), localPoints(t, dst, name))
	}
	st, err := store.Open(indexer.StorePath(dst), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Collection(migBeta)
	st.Close()
	if err != nil || !maps.Equal(info.Vectors, migVectors[migBeta]) {
		t.Fatalf("copied back %s: %+v, %v", migBeta, info, err)
	}

	// --move: copied into the existing class again, checked, then the
	// local collection is gone and the cluster still has every point.
	want := localPoints(t, src, migAlpha)
	r = runBinary(t, "", nil, "migrate", "--to", url, "--collection", migAlpha, "--into-existing", "--move", "--data", src)
	if r.code != 0 || !strings.Contains(r.stdout, "deleted the local collection") {
		t.Fatalf("migrate --move: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	st, err = store.Open(indexer.StorePath(src), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Collection(migAlpha)
	st.Close()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("local %s after --move: %v, want not found", migAlpha, err)
	}
	samePoints(t, "cluster after --move", want, remotePoints(t, client, migAlpha))
}

// testMigrateOptions are the options the command line would give for url.
func testMigrateOptions(t *testing.T, url string, to bool, pageSize int, names ...string) migrateOptions {
	t.Helper()
	bc, err := parseBackend(url)
	if err != nil {
		t.Fatal(err)
	}
	return migrateOptions{toCluster: to, rawURL: url, backend: bc, collections: names, pageSize: pageSize,
		timeout: bc.Timeout, retries: 2, sample: defaultMigrateSample}
}

// cancelAfter is an afterPage hook that cancels after n pages.
func cancelAfter(n int64, cancel context.CancelFunc) func(string, int64) {
	return func(_ string, pages int64) {
		if pages == n {
			cancel()
		}
	}
}

// A migration stopped after some pages resumes from its record: the second
// run copies only the remaining pages, and the end is the source exactly.
// A source written between the runs makes the resume refuse; --restart
// then copies it all again into a new class.
func TestMigrateResumesFromItsRecord(t *testing.T) {
	url, client := startMigrateNode(t)
	src := migSource(t)
	cfg := config{DataDir: src}
	const page, stopAt = 100, 7
	key := transferKey(true, testMigrateOptions(t, url, true, page).backend, migAlpha)

	ctx, cancel := context.WithCancel(context.Background())
	o := testMigrateOptions(t, url, true, page, migAlpha)
	o.afterPage = cancelAfter(stopAt, cancel)
	var stderr bytes.Buffer
	_, err := runMigrate(ctx, cfg, o, io.Discard, &stderr)
	cancel()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("interrupted after %d of %d points", stopAt*page, migAlphaCount)) ||
		!strings.Contains(err.Error(), "run `edgesearch migrate --to "+url+" --collection alpha --data ") {
		t.Fatalf("interrupted migration: %v; want how far it got and the command that resumes", err)
	}
	want := localPoints(t, src, migAlpha)
	rec := readTransfer(t, src, key)
	if rec.Pages != stopAt || rec.Copied != stopAt*page || rec.Last == nil || *rec.Last != want[stopAt*page-1].ID || !rec.Created {
		t.Fatalf("resume record %+v; want %d pages, %d points, last %v, created", rec, stopAt, stopAt*page, want[stopAt*page-1].ID)
	}
	if n, err := client.Count(context.Background(), migAlpha, nil); err != nil || n != stopAt*page {
		t.Fatalf("cluster after the interruption: %d points, %v; want %d", n, err, stopAt*page)
	}

	o.afterPage = nil
	res, err := runMigrate(context.Background(), cfg, o, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pages := int64((migAlphaCount - stopAt*page + page - 1) / page)
	if len(res) != 1 || res[0].Earlier != stopAt*page || res[0].Copied != migAlphaCount-stopAt*page || res[0].Pages != pages {
		t.Fatalf("resumed run: %+v; want %d copied before, %d now in %d pages", res, stopAt*page, migAlphaCount-stopAt*page, pages)
	}
	if res[0].Source != migAlphaCount || res[0].Target != migAlphaCount || res[0].Sampled < defaultMigrateSample {
		t.Fatalf("resumed run's check: %+v", res[0])
	}
	samePoints(t, "cluster after resuming", want, remotePoints(t, client, migAlpha))
	if _, ok := lookupTransfer(t, src, key); ok {
		t.Fatal("the resume record outlived the finished migration")
	}

	// Interrupted again (beta this time), then the source changes.
	keyB := transferKey(true, o.backend, migBeta)
	ctx, cancel = context.WithCancel(context.Background())
	ob := testMigrateOptions(t, url, true, 50, migBeta)
	ob.afterPage = cancelAfter(2, cancel)
	if _, err := runMigrate(ctx, cfg, ob, io.Discard, io.Discard); err == nil {
		t.Fatal("interrupted migration of beta: no error")
	}
	cancel()
	st, err := store.Open(indexer.StorePath(src), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeletePoints(context.Background(), migBeta, []store.PointID{store.NumPointID(0)}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	ob.afterPage = nil
	if _, err := runMigrate(context.Background(), cfg, ob, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--restart") {
		t.Fatalf("resume after the source changed: %v; want a refusal advising --restart", err)
	}
	if rec := readTransfer(t, src, keyB); rec.Pages != 2 {
		t.Fatalf("the refused resume changed the record: %+v", rec)
	}
	ob.restart = true
	res, err = runMigrate(context.Background(), cfg, ob, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Earlier != 0 || res[0].Copied != migBetaCount-1 || res[0].Pages != (migBetaCount-1+49)/50 {
		t.Fatalf("--restart: %+v; want every point copied from the start", res[0])
	}
	samePoints(t, "cluster after --restart", localPoints(t, src, migBeta), remotePoints(t, client, migBeta))
}

// The reverse resumes the same way, into a store that exists.
func TestMigrateFromWeaviateResumes(t *testing.T) {
	url, client := startMigrateNode(t)
	ctx := context.Background()
	if _, err := client.Create(ctx, migBeta, migVectors[migBeta]); err != nil {
		t.Fatal(err)
	}
	src := migPoints(migBetaCount, migVectors[migBeta], 99)
	if err := client.Upsert(ctx, migBeta, src); err != nil {
		t.Fatal(err)
	}
	want := remotePoints(t, client, migBeta)
	dst := t.TempDir()
	st, err := store.Open(indexer.StorePath(dst), store.Options{Model: "test-model", Dims: 384})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfg := config{DataDir: dst}

	cctx, cancel := context.WithCancel(ctx)
	o := testMigrateOptions(t, url, false, 30, migBeta)
	o.afterPage = cancelAfter(3, cancel)
	if _, err := runMigrate(cctx, cfg, o, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--from") {
		t.Fatalf("interrupted migration: %v", err)
	}
	cancel()
	if got := localPoints(t, dst, migBeta); len(got) != 90 {
		t.Fatalf("%d points copied before the interruption, want 90", len(got))
	}
	o.afterPage = nil
	res, err := runMigrate(ctx, cfg, o, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Earlier != 90 || res[0].Copied != migBetaCount-90 {
		t.Fatalf("resumed run: %+v", res[0])
	}
	samePoints(t, "copied back", want, localPoints(t, dst, migBeta))
}

func readTransfer(t *testing.T, dir, key string) store.Transfer {
	t.Helper()
	rec, ok := lookupTransfer(t, dir, key)
	if !ok {
		t.Fatalf("no resume record %q", key)
	}
	return rec
}

func lookupTransfer(t *testing.T, dir, key string) (store.Transfer, bool) {
	t.Helper()
	st, err := store.Open(indexer.StorePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, ok, err := st.Transfer(key)
	if err != nil {
		t.Fatal(err)
	}
	return rec, ok
}

// The real thing: SIGINT stops the command between pages with the resume
// hint, and running it again finishes the copy from there.
func TestMigrateStopsOnSIGINTAndResumes(t *testing.T) {
	url, client := startMigrateNode(t)
	// Each write takes at least 10 ms: 600 pages outlast the first
	// progress line (a second) whatever the machine.
	via := viaProxy(t, url, &flakyProxy{delay: 10 * time.Millisecond})
	src := migSource(t)
	args := []string{"migrate", "--to", via, "--collection", migAlpha, "--data", src, "--page-size", "5"}
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	var seen []string
	for lines.Scan() {
		seen = append(seen, lines.Text())
		if strings.HasPrefix(lines.Text(), "migrate alpha: ") && strings.Contains(lines.Text(), "points/s") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("signal: %v (stderr so far %q)", err, seen)
	}
	rest, _ := io.ReadAll(stderr)
	err = cmd.Wait()
	msg := strings.Join(seen, "\n") + "\n" + string(rest)
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 1 {
		t.Fatalf("after SIGINT: %v, want exit 1; stderr:\n%s", err, msg)
	}
	if !strings.Contains(msg, "interrupted after") || !strings.Contains(msg, "the resume point is saved: run `edgesearch migrate --to") {
		t.Fatalf("after SIGINT, stderr:\n%s\nwant how far it got and how to resume", msg)
	}
	rec := readTransfer(t, src, transferKey(true, testMigrateOptions(t, via, true, 5).backend, migAlpha))
	if rec.Copied == 0 || rec.Copied >= migAlphaCount {
		t.Fatalf("resume record %+v: want a copy stopped part-way", rec)
	}

	r := runBinary(t, "", nil, args...)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("resumed: %d copied before", rec.Copied)) {
		t.Fatalf("resumed run: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	samePoints(t, "cluster", localPoints(t, src, migAlpha), remotePoints(t, client, migAlpha))
}

// Bad input is a clear message and a non-zero exit, and writes nothing.
func TestMigrateRefusesBadInput(t *testing.T) {
	src := migSource(t)
	// A port nothing listens on: reserved, then closed.
	dead := "weaviate://127.0.0.1:1"
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"neither direction", []string{"migrate", "--data", src}, 2, "exactly one of --to"},
		{"both directions", []string{"migrate", "--to", dead, "--from", dead, "--data", src}, 2, "exactly one of --to"},
		{"not weaviate", []string{"migrate", "--to", "http://127.0.0.1:8080", "--data", src}, 2, "weaviate://HOST:PORT"},
		{"no port", []string{"migrate", "--to", "weaviate://127.0.0.1", "--data", src}, 2, "weaviate://HOST:PORT"},
		{"local", []string{"migrate", "--to", "local", "--data", src}, 2, "weaviate://HOST:PORT"},
		{"from without a collection", []string{"migrate", "--from", dead, "--data", src}, 2, "--from needs --collection"},
		{"move from", []string{"migrate", "--from", dead, "--collection", "a", "--move", "--data", src}, 2, "--move is for --to"},
		{"page too big", []string{"migrate", "--to", dead, "--page-size", "10000", "--data", src}, 2, "--page-size 10000"},
		{"bad name", []string{"migrate", "--to", dead, "--collection", "a/b", "--retries", "0", "--data", src}, 2, "collection name"},
		{"no store", []string{"migrate", "--to", dead, "--data", t.TempDir()}, 1, "no store in"},
		{"unreachable", []string{"migrate", "--to", dead, "--retries", "1", "--data", src}, 1, "couldn't reach the Weaviate at " + dead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, "", nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, r.code, r.stderr, tt.code, tt.want)
			}
		})
	}

	url, _ := startMigrateNode(t)
	r := runBinary(t, "", nil, "migrate", "--to", url, "--collection", "nope", "--data", src)
	if r.code != 1 || !strings.Contains(r.stderr, `no collection "nope"`) || !strings.Contains(r.stderr, migAlpha+", "+migBeta) {
		t.Errorf("unknown collection: exit %d, stderr %q; want its name and the ones there are", r.code, r.stderr)
	}
	r = runBinary(t, "", nil, "migrate", "--to", url, "--collection", store.DocumentsCollection, "--data", src)
	if r.code != 1 || !strings.Contains(r.stderr, "documents' chunks") {
		t.Errorf("documents: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runBinary(t, "", nil, "migrate", "--from", url, "--collection", "nope", "--data", src)
	if r.code != 1 || !strings.Contains(r.stderr, weaviate.ClassName("nope")) {
		t.Errorf("--from an unknown collection: exit %d, stderr %q", r.code, r.stderr)
	}

	// The store held by another process (as serve holds it): at once, with advice.
	st, err := store.Open(indexer.StorePath(src), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, "", nil, "migrate", "--to", url, "--data", src)
	st.Close()
	if r.code != 1 || !strings.Contains(r.stderr, "store is locked; stop it") {
		t.Errorf("store in use: exit %d, stderr %q", r.code, r.stderr)
	}

	// None of it wrote a thing: no resume record, no collection changed.
	st, err = store.Open(indexer.StorePath(src), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, name := range []string{migAlpha, migBeta, "nope"} {
		for _, to := range []bool{true, false} {
			for _, u := range []string{url, dead} {
				bc, _ := parseBackend(u)
				if _, ok, err := st.Transfer(transferKey(to, bc, name)); ok || err != nil {
					t.Errorf("a refused migration left a resume record for %s (%v)", name, err)
				}
			}
		}
	}
	if n, _ := st.CountPoints(migAlpha); n != migAlphaCount {
		t.Errorf("alpha holds %d points, want %d", n, migAlphaCount)
	}
}

// The check at the end compares counts and points: a point changed on the
// cluster behind the copy's back, or one added there, is an error saying
// what differs, and the resume record stays so that a run after a fix
// checks again.
func TestMigrateCheckReportsWhatDiffers(t *testing.T) {
	url, client := startMigrateNode(t)
	src := migSource(t)
	cfg := config{DataDir: src}
	want := localPoints(t, src, migBeta)
	changed := want[len(want)-1]
	changed.Vectors = map[string][]float32{"img": slices.Clone(changed.Vectors["img"]), "txt": changed.Vectors["txt"]}
	changed.Vectors["img"][3] += 0.5

	o := testMigrateOptions(t, url, true, 100, migBeta)
	o.sample = migBetaCount // every point
	o.afterPage = func(_ string, pages int64) {
		if pages == int64((migBetaCount+99)/100) {
			if err := client.Upsert(context.Background(), migBeta, []store.Point{changed}); err != nil {
				t.Error(err)
			}
		}
	}
	_, err := runMigrate(context.Background(), cfg, o, io.Discard, io.Discard)
	wantMsg := fmt.Sprintf(`point %v: vector "img" differs at component 3`, changed.ID)
	if err == nil || !strings.Contains(err.Error(), wantMsg) {
		t.Fatalf("check after a point changed on the cluster: %v; want %q", err, wantMsg)
	}
	key := transferKey(true, o.backend, migBeta)
	if rec := readTransfer(t, src, key); rec.Copied != migBetaCount {
		t.Fatalf("record after a failed check: %+v", rec)
	}

	// Run again: nothing left to copy, and the check fails the same way
	// until the cluster is right; then an extra point there is the count.
	o.afterPage = nil
	if _, err := runMigrate(context.Background(), cfg, o, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), wantMsg) {
		t.Fatalf("second check: %v", err)
	}
	extra := migPoints(1, migVectors[migBeta], 5)[0]
	extra.ID = store.NumPointID(1 << 40)
	if err := client.Upsert(context.Background(), migBeta, []store.Point{want[len(want)-1], extra}); err != nil {
		t.Fatal(err)
	}
	_, err = runMigrate(context.Background(), cfg, o, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("holds %d points, class %s on %s %d", migBetaCount, weaviate.ClassName(migBeta), url, migBetaCount+1)) {
		t.Fatalf("check with an extra point on the cluster: %v", err)
	}
	if _, err := client.Delete(context.Background(), migBeta, []store.PointID{extra.ID}); err != nil {
		t.Fatal(err)
	}
	res, err := runMigrate(context.Background(), cfg, o, io.Discard, io.Discard)
	if err != nil || res[0].Copied != 0 || res[0].Sampled != migBetaCount {
		t.Fatalf("check once the cluster is right: %+v, %v", res, err)
	}
}

// flakyProxy passes requests to a Weaviate, but answers 503 to the batch
// writes fail picks, and delays each batch write.
type flakyProxy struct {
	proxy  *httputil.ReverseProxy
	delay  time.Duration
	mu     sync.Mutex
	writes int
	fail   func(write int) bool // by the number of the batch write, from 1; nil fails none
}

// viaProxy starts f in front of the Weaviate at url and returns its
// weaviate:// address.
func viaProxy(t *testing.T, url string, f *flakyProxy) string {
	t.Helper()
	target, err := neturl.Parse("http://" + strings.TrimPrefix(url, "weaviate://"))
	if err != nil {
		t.Fatal(err)
	}
	f.proxy = httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return "weaviate://" + strings.TrimPrefix(srv.URL, "http://")
}

func (f *flakyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/v1/batch/objects" {
		time.Sleep(f.delay)
		f.mu.Lock()
		f.writes++
		fail := f.fail != nil && f.fail(f.writes)
		f.mu.Unlock()
		if fail {
			http.Error(w, `{"error":[{"message":"node is shutting down"}]}`, http.StatusServiceUnavailable)
			return
		}
	}
	f.proxy.ServeHTTP(w, r)
}

// Calls answered 503 are retried with backoff up to --retries; past that
// the command stops with the resume hint, and resumes.
func TestMigrateRetriesThenStopsWithTheResumeHint(t *testing.T) {
	url, client := startMigrateNode(t)
	// Writes 2 and 3 fail: two retries carry page 2 through.
	flaky := &flakyProxy{fail: func(n int) bool { return n == 2 || n == 3 }}
	via := viaProxy(t, url, flaky)
	src := migSource(t)

	var stderr bytes.Buffer
	o := testMigrateOptions(t, via, true, 100, migBeta)
	o.retries = 2
	res, err := runMigrate(context.Background(), config{DataDir: src}, o, io.Discard, &stderr)
	if err != nil || res[0].Pages != 4 || !strings.Contains(stderr.String(), "HTTP 503") || !strings.Contains(stderr.String(), "retry 2 of 2 in 1s") {
		t.Fatalf("two 503s with 2 retries: %+v, %v; stderr %q", res, err, stderr.String())
	}
	samePoints(t, "cluster", localPoints(t, src, migBeta), remotePoints(t, client, migBeta))

	// From the 3rd write of alpha on, every write fails: it stops after
	// two pages, says so, and a run once the cluster is back finishes.
	flaky.mu.Lock()
	flaky.writes = 0
	flaky.fail = func(n int) bool { return n >= 3 }
	flaky.mu.Unlock()
	r := runBinary(t, "", nil, "migrate", "--to", via, "--collection", migAlpha, "--page-size", "100", "--retries", "1", "--data", src)
	if r.code != 1 || !strings.Contains(r.stderr, "stopped after 200 of 3000 points; the resume point is saved: run `edgesearch migrate --to "+via) ||
		!strings.Contains(r.stderr, "gave up after 1 retries") {
		t.Fatalf("cluster answering 503: exit %d, stderr %q", r.code, r.stderr)
	}
	flaky.mu.Lock()
	flaky.fail = func(int) bool { return false }
	flaky.mu.Unlock()
	r = runBinary(t, "", nil, "migrate", "--to", via, "--collection", migAlpha, "--page-size", "100", "--data", src)
	if r.code != 0 || !strings.Contains(r.stdout, "resumed: 200 copied before") {
		t.Fatalf("after the cluster came back: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	samePoints(t, "cluster", localPoints(t, src, migAlpha), remotePoints(t, client, migAlpha))
}

// BenchmarkMigrate copies a collection of 384-d points (3,000, or
// EDGESEARCH_MIGRATE_POINTS) with small payloads to a one-node Weaviate
// and back, and reports each direction's points/s:
//
//	go test ./cmd/edgesearch/ -run '^$' -bench Migrate -benchtime 1x
func BenchmarkMigrate(b *testing.B) {
	n := 3000
	if s := os.Getenv("EDGESEARCH_MIGRATE_POINTS"); s != "" {
		fmt.Sscan(s, &n)
	}
	bin := weaviatetest.Require(b)
	ctx := context.Background()
	node, err := weaviatetest.Start(ctx, weaviatetest.Config{Binary: bin, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close()
	url := node.Backend(0)
	client, err := weaviate.New(weaviate.Options{URL: node.URL(0)})
	if err != nil {
		b.Fatal(err)
	}
	const name = "bench"
	src, dst := b.TempDir(), b.TempDir()
	for _, dir := range []string{src, dst} {
		st, err := store.Open(indexer.StorePath(dir), store.Options{Model: "test-model", Dims: 384})
		if err != nil {
			b.Fatal(err)
		}
		if dir == src {
			if _, err := st.CreateCollection(ctx, name, map[string]store.VectorParams{"": {Size: 384, Distance: store.Cosine}}); err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			for start := 0; start < n; start += 1000 {
				var pts []store.Point
				for i := start; i < min(start+1000, n); i++ {
					v := make([]float32, 384)
					for k := range v {
						v[k] = float32(r.NormFloat64())
					}
					pts = append(pts, store.Point{ID: store.NumPointID(uint64(i)), Vectors: map[string][]float32{"": v},
						Payload: fmt.Appendf(nil, `{"text":"document %d about topic %d","n":%d,"tags":["t%d","u%d"],"meta":{"lang":"en"}}`, i, i%50, i, i%7, i%11)})
				}
				if err := st.UpsertPoints(ctx, name, pts); err != nil {
					b.Fatal(err)
				}
			}
		}
		st.Close()
	}
	opts := func(to bool, dir string) (config, migrateOptions) {
		bc, err := parseBackend(url)
		if err != nil {
			b.Fatal(err)
		}
		return config{DataDir: dir}, migrateOptions{toCluster: to, rawURL: url, backend: bc, collections: []string{name},
			pageSize: defaultMigratePage, timeout: bc.Timeout, retries: defaultMigrateRetries, sample: defaultMigrateSample}
	}
	var toTime, fromTime time.Duration
	for b.Loop() {
		client.Drop(ctx, name)
		cfg, o := opts(true, src)
		res, err := runMigrate(ctx, cfg, o, io.Discard, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		toTime += res[0].Elapsed
		cfg, o = opts(false, dst)
		st, err := store.Open(indexer.StorePath(dst), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		st.DeleteCollection(ctx, name)
		st.Close()
		if res, err = runMigrate(ctx, cfg, o, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
		fromTime += res[0].Elapsed
	}
	b.ReportMetric(float64(n)*float64(b.N)/toTime.Seconds(), "to-points/s")
	b.ReportMetric(float64(n)*float64(b.N)/fromTime.Seconds(), "from-points/s")
}
