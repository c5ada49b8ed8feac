package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// startQdrantServe runs serve with --qdrant-addr on loopback (and extra
// arguments) and returns the main and the Qdrant-compatible base URLs.
func startQdrantServe(t *testing.T, dataDir string, extra ...string) (*exec.Cmd, string, string) {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--qdrant-addr", "127.0.0.1:0", "--log-format", "json", "--data", dataDir}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "MODEL_PATH=" + modelPath(t)}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := bufio.NewScanner(stderr)
	mainRE := regexp.MustCompile(`"msg":"starting".*"addr":"(127\.0\.0\.1:\d+)"`)
	qdrantRE := regexp.MustCompile(`"msg":"serving the Qdrant-compatible API".*"addr":"(127\.0\.0\.1:\d+)"`)
	var main, qdrant string
	var seen []string
	for logs.Scan() {
		line := logs.Text()
		seen = append(seen, line)
		if m := mainRE.FindStringSubmatch(line); m != nil {
			main = m[1]
		}
		if m := qdrantRE.FindStringSubmatch(line); m != nil {
			qdrant = m[1]
		}
		if strings.Contains(line, `"msg":"documents loaded"`) {
			break
		}
	}
	if main == "" || qdrant == "" {
		t.Fatalf("serve did not log both addresses:\n%s", strings.Join(seen, "\n"))
	}
	go io.Copy(io.Discard, stderr)
	return cmd, "http://" + main, "http://" + qdrant
}

// qdrantCall sends a JSON request to the Qdrant-compatible API and decodes
// its "result".
func qdrantCall(t *testing.T, method, url string, body any, result any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Status string          `json:"status"`
	}
	if err := json.Unmarshal(data, &env); err != nil || env.Status != "ok" {
		t.Fatalf("%s %s: %s (%v)", method, url, data, err)
	}
	if result != nil {
		if err := json.Unmarshal(env.Result, result); err != nil {
			t.Fatalf("%s %s: result %s: %v", method, url, env.Result, err)
		}
	}
}

// TestQdrantAPIThroughServeSurvivesKill9 is the article's edge-RAG flow
// against the real binary: embeddings from POST /embed, upserted into a
// collection over --qdrant-addr, searched; then kill -9 and a restart keep
// every acknowledged point.
func TestQdrantAPIThroughServeSurvivesKill9(t *testing.T) {
	data := t.TempDir()
	srv, base, qd := startQdrantServe(t, data)
	records := []string{
		"Patient reports pressure errors on the infusion pump; fixed by re-seating the tubing.",
		"Annual flu vaccination scheduled for the ward staff in October.",
		"The MRI room door must stay closed while the magnet is on.",
	}
	embed := func(text string) []float32 {
		req, _ := http.NewRequest("POST", base+"/embed", strings.NewReader(fmt.Sprintf(`{"text":%q}`, text)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Embedding []float32 `json:"embedding"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Embedding) != 384 {
			t.Fatalf("POST /embed: %v, %d dims", err, len(out.Embedding))
		}
		return out.Embedding
	}
	qdrantCall(t, "PUT", qd+"/collections/patient_records", map[string]any{"vectors": map[string]any{"size": 384, "distance": "Cosine"}}, nil)
	var points []map[string]any
	for i, r := range records {
		points = append(points, map[string]any{"id": i + 1, "vector": embed(r), "payload": map[string]any{"text": r}})
	}
	qdrantCall(t, "PUT", qd+"/collections/patient_records/points?wait=true", map[string]any{"points": points}, nil)
	var hits []struct {
		ID      any            `json:"id"`
		Score   float64        `json:"score"`
		Payload map[string]any `json:"payload"`
	}
	qdrantCall(t, "POST", qd+"/collections/patient_records/points/search",
		map[string]any{"vector": embed("How to fix pressure errors?"), "limit": 2, "with_payload": true}, &hits)
	if len(hits) != 2 || hits[0].ID != 1.0 || !strings.Contains(fmt.Sprint(hits[0].Payload["text"]), "pressure errors") {
		t.Fatalf("search: %+v", hits)
	}

	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	srv, base, qd = startQdrantServe(t, data)
	defer srv.Process.Signal(syscall.SIGTERM)
	var count struct {
		Count int `json:"count"`
	}
	qdrantCall(t, "POST", qd+"/collections/patient_records/points/count", map[string]any{"exact": true}, &count)
	if count.Count != len(records) {
		t.Errorf("after kill -9: %d points, want %d", count.Count, len(records))
	}
	qdrantCall(t, "POST", qd+"/collections/patient_records/points/search",
		map[string]any{"vector": embed("How to fix pressure errors?"), "limit": 1}, &hits)
	if len(hits) != 1 || hits[0].ID != 1.0 {
		t.Errorf("search after the restart: %+v", hits)
	}
}

// TestQdrantJSClientRunsTheArticle runs the original article's JavaScript
// example with the official client (@qdrant/js-client-rest, pinned in
// web/qdranttest/js) against the binary, only the URLs changed.
func TestQdrantJSClientRunsTheArticle(t *testing.T) {
	dir := filepath.Join("..", "..", "web", "qdranttest", "js")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@qdrant", "js-client-rest")); err != nil {
		if out, err := exec.Command("npm", "ci", "--prefix", dir, "--no-audit", "--no-fund", "--silent").CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	srv, base, qd := startQdrantServe(t, t.TempDir())
	defer srv.Process.Signal(syscall.SIGTERM)
	cmd := exec.Command("node", "article.mjs", base, qd)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Fatalf("node article.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
