package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/web"
)

// crashAck is a document the server answered 201 for, and its made-up word.
type crashAck struct{ id, word string }

// crashDoc is the document the crash test writes as number n of round r.
// Its text holds a made-up word found nowhere else, so a keyword search
// for that word must return exactly this document.
func crashDoc(r, n int) (id, word, body string) {
	id = fmt.Sprintf("crash-%d-%03d", r, n)
	var w strings.Builder
	w.WriteString("zq")
	for x := r*1000 + n; ; x /= 26 {
		w.WriteByte(byte('a' + x%26))
		if x < 26 {
			break
		}
	}
	word = w.String()
	text := fmt.Sprintf("Field note %s, round %d: the river gauge read %d centimetres after the storm.", word, r, n)
	b, _ := json.Marshal(map[string]string{"id": id, "title": "note " + word, "text": text})
	return id, word, string(b)
}

// TestKillDuringWritesLosesNoAcknowledgedDocument pins the durability
// promise of POST /documents: a 201 means the document is on disk. A client
// writes documents one at a time while the server is killed with SIGKILL at
// a different moment in each round; the restarted server must open the same
// data directory, hold every acknowledged document, and find them by search.
func TestKillDuringWritesLosesNoAcknowledgedDocument(t *testing.T) {
	data := t.TempDir()
	// Kill after this many acknowledgements, then after this delay, so the
	// signal lands at different points of a request (embedding, commit,
	// answer) from round to round.
	rounds := []struct {
		acks  int
		delay time.Duration
	}{{3, 0}, {10, 4 * time.Millisecond}, {20, 11 * time.Millisecond}}

	var acked []crashAck
	for r, round := range rounds {
		srv, base := startServe(t, data)
		checkAcked(t, base, acked) // what earlier rounds acknowledged survived their kill

		var (
			mu    sync.Mutex
			got   []crashAck
			sent  = make(chan struct{}, 1000) // one tick per acknowledgement
			done  = make(chan struct{})
			stray error
		)
		go func() {
			defer close(done)
			client := &http.Client{Timeout: 10 * time.Second}
			for n := 0; ; n++ {
				id, word, body := crashDoc(r, n)
				resp, err := client.Post(base+"/documents", "application/json", strings.NewReader(body))
				if err != nil {
					return // the server is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					mu.Lock()
					stray = fmt.Errorf("POST %s: status %d", id, resp.StatusCode)
					mu.Unlock()
					return
				}
				mu.Lock()
				got = append(got, crashAck{id, word})
				mu.Unlock()
				sent <- struct{}{}
			}
		}()
		for i := 0; i < round.acks; i++ {
			select {
			case <-sent:
			case <-done:
				t.Fatalf("round %d: the client stopped after %d acknowledgements: %v", r, i, stray)
			}
		}
		time.Sleep(round.delay)
		if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		srv.Wait()
		<-done
		mu.Lock()
		if stray != nil {
			t.Fatalf("round %d: %v", r, stray)
		}
		acked = append(acked, got...)
		t.Logf("round %d: killed after %d acknowledged documents", r, len(got))
		mu.Unlock()
	}

	srv, base := startServe(t, data)
	defer srv.Process.Signal(syscall.SIGTERM)
	checkAcked(t, base, acked)

	// At most one document per round was in flight when the server died:
	// it may or may not have been committed, nothing else may appear.
	var h struct{ Documents int }
	getJSON(t, base+"/health", &h)
	if h.Documents < len(acked) || h.Documents > len(acked)+len(rounds) {
		t.Errorf("/health counts %d documents after %d acknowledged in %d rounds", h.Documents, len(acked), len(rounds))
	}

	// The graph and keyword index are rebuilt after a kill; both must
	// answer. The made-up word finds its document by keyword, and the
	// hybrid search of a document's whole sentence ranks it first.
	for _, a := range []crashAck{acked[0], acked[len(acked)-1]} {
		var kw web.SearchResponse
		getJSON(t, base+"/search?mode=keyword&k=1&q="+url.QueryEscape(a.word), &kw)
		if len(kw.Results) != 1 || kw.Results[0].ID != a.id {
			t.Errorf("keyword search for %q: %+v, want %s", a.word, kw.Results, a.id)
		}
		var doc struct{ Text string }
		getJSON(t, base+"/documents/"+a.id, &doc)
		var hy web.SearchResponse
		getJSON(t, base+"/search?k=3&q="+url.QueryEscape(doc.Text), &hy)
		if len(hy.Results) == 0 || hy.Results[0].ID != a.id {
			t.Errorf("hybrid search for the text of %s: %+v", a.id, hy.Results)
		}
	}
}

// checkAcked fails the test for every acknowledged document the server at
// base does not return whole.
func checkAcked(t *testing.T, base string, acked []crashAck) {
	t.Helper()
	for _, a := range acked {
		resp, err := http.Get(base + "/documents/" + a.id)
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ ID, Text string }
		err = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || d.ID != a.id || !strings.Contains(d.Text, a.word) {
			t.Errorf("acknowledged document %s: status %d, %v, %+v", a.id, resp.StatusCode, err, d)
		}
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
