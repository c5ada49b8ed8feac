package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// TestHeadAnswersTheReadRoutes pins that monitors can probe with HEAD: every
// GET route but /backup answers HEAD with its GET status and no body.
func TestHeadAnswersTheReadRoutes(t *testing.T) {
	l := openLibrary(t, t.TempDir())
	s, base := start(t, web.Config{UI: web.UI()}, pool(t))
	s.SetEngine(l.engine)
	addDocs(t, base, map[string]any{"id": "bees", "text": "Bees make honey."})
	for path, want := range map[string]int{
		"/health": 200, "/": 200, "/metrics": 200, "/v1/models": 200, "/documents": 200,
		"/documents/bees": 200, "/documents/none": 404, "/documents/bees/similar": 200,
		"/search?q=honey": 200, "/ui/v1/app.js": 200, "/backup": 405,
	} {
		r := call(t, "HEAD", base+path, nil, nil)
		if r.status != want || len(r.body) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes of body, want %d and none", path, r.status, len(r.body), want)
		}
	}
}

// TestStalledRequestBodyIsCut pins Config.IOTimeout on reads: a client that
// sends headers and part of a body, then nothing, loses its connection
// instead of holding it (and a goroutine) forever.
func TestStalledRequestBodyIsCut(t *testing.T) {
	l := openLibrary(t, t.TempDir())
	s, base := start(t, web.Config{IOTimeout: 200 * time.Millisecond}, pool(t))
	s.SetEngine(l.engine)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100000\r\n\r\n{\"text\":\"a body that never ends")
	// The bound is the test's, not the server's speed: without the timeout
	// the server waits for the rest of the body as long as the client likes.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Fatalf("stalled body answered %d, want a 4xx or a closed connection", resp.StatusCode)
		}
		return
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server still held the stalled request after 20 s")
	}
}

// TestStalledBackupIsCutAndReleasesTheStore pins Config.IOTimeout on writes:
// a client that starts GET /backup and stops reading no longer holds the
// store's read transaction (which keeps the file from growing under writers)
// until it goes away; the backup is cut and counted as failed.
func TestStalledBackupIsCutAndReleasesTheStore(t *testing.T) {
	l := openLibrary(t, t.TempDir())
	// More than loopback's socket buffers hold, so the server must block.
	fillStore(t, l, 3000, 8<<10)
	s, base := start(t, web.Config{IOTimeout: 300 * time.Millisecond}, pool(t))
	s.SetEngine(l.engine)

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /backup HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	head := make([]byte, 64)
	if _, err := io.ReadFull(conn, head); err != nil || !strings.HasPrefix(string(head), "HTTP/1.1 200") {
		t.Fatalf("backup did not start: %v %q", err, head)
	}
	// Now read nothing; the server must give up on its own.
	for deadline := time.Now().Add(30 * time.Second); ; {
		r := call(t, "GET", base+"/metrics", nil, nil)
		if strings.Contains(string(r.body), "\nedgesearch_backup_failures_total 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a backup whose client stopped reading was still running after 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	addDocs(t, base, map[string]any{"id": "after", "text": "Written after the stalled backup was cut."})
}

// fillStore puts n documents of size bytes with made-up vectors straight
// into the library, to make a large file fast.
func fillStore(t *testing.T, l *library, n, size int) {
	t.Helper()
	text := strings.Repeat("x", size)
	vec := make([]float32, l.st.Dims())
	vec[0] = 1
	for lo := 0; lo < n; lo += 500 {
		var docs []store.Document
		for i := lo; i < min(n, lo+500); i++ {
			docs = append(docs, store.Document{ID: fmt.Sprintf("filler-%d", i), Text: text,
				Chunks: []store.Chunk{{Start: 0, End: len(text), Tokens: 10, Vector: vec}}})
		}
		if _, err := l.engine.Write(context.Background(), store.Change{Put: docs}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestShutdownAnswersWhatItAccepted pins the order of a shutdown under
// load: a request still embedding when the grace period ends is cancelled
// and answered (503 with Retry-After, nothing stored) rather than dropped,
// and Serve returns only after its handler has, so the store can be closed.
func TestShutdownAnswersWhatItAccepted(t *testing.T) {
	l := openLibrary(t, t.TempDir())
	s, err := web.New(web.Config{ShutdownTimeout: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.SetEmbedder(pool(t))
	s.SetEngine(l.engine)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	var docs []map[string]any
	for i := range 300 {
		docs = append(docs, map[string]any{"id": fmt.Sprintf("d%d", i),
			"text": strings.Repeat(fmt.Sprintf("Document %d is about bees, honey and the hive in winter. ", i), 30)})
	}
	body, _ := json.Marshal(docs)
	type answer struct {
		r   reply
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/documents", "application/json", bytes.NewReader(body))
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answered <- answer{reply{status: resp.StatusCode, header: resp.Header, body: b}, err}
	}()
	time.Sleep(500 * time.Millisecond) // let the request reach the embedder
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if n := s.InFlight(); n != 0 {
		t.Fatalf("Serve returned with %d handlers still running", n)
	}
	a := <-answered
	if a.err != nil {
		t.Fatalf("the request in flight at shutdown got no answer: %v", a.err)
	}
	r := a.r
	switch r.status {
	case http.StatusServiceUnavailable:
		r.wantError(t, http.StatusServiceUnavailable, "shutting down")
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		if n, _, _ := l.st.Count(); n != 0 {
			t.Errorf("a cancelled request stored %d documents", n)
		}
	case http.StatusCreated:
		// The machine was fast enough to finish within the grace period.
	default:
		t.Fatalf("request in flight at shutdown: %d %s", r.status, r.body)
	}
}
