package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// The fuzz targets here send fuzzed bytes as the body (or the query) of a
// real request to a real server over a real store, engine and model, and
// check the answer: 2xx in the route's shape, or a 4xx whose body is the
// route's error shape ({"error":"…"}, OpenAI's error object on /v1); never
// a 5xx, a dropped connection or no answer within answerWithin.

// answerWithin bounds one request. It is generous: the point is that a
// request cannot hang, not how fast it is.
const answerWithin = 10 * time.Second

// fuzzServer serves every route over a fresh library in a temporary
// directory until f ends, and returns the base URL. Documents that fuzzing
// adds stay: later searches then have something to find.
func fuzzServer(f *testing.F) string {
	f.Helper()
	dir := f.TempDir()
	info := pool(f).Info()
	st, err := store.Open(indexer.StorePath(dir), store.Options{Model: info.Name, Dims: info.Dims})
	if err != nil {
		f.Fatal(err)
	}
	e, err := search.Open(context.Background(), st, search.EngineOptions{Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	s, err := web.New(web.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	s.SetEmbedder(pool(f))
	s.SetEngine(e)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	f.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.Errorf("Serve returned %v after shutdown", err)
		}
		e.Close()
		st.Close()
	})
	return "http://" + ln.Addr().String()
}

// send makes one request and returns its status and body, failing t when
// no answer comes within answerWithin or the connection breaks.
func send(t *testing.T, method, u, contentType string, body []byte) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), answerWithin)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		defer resp.Body.Close()
		var data []byte
		if data, err = io.ReadAll(resp.Body); err == nil {
			return resp.StatusCode, data
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s %s: no answer within %v", method, u, answerWithin)
	}
	t.Fatalf("%s %s: %v", method, u, err)
	return 0, nil
}

// checkAnswer fails t unless status and body are a success whose JSON
// object has the keys in okKeys, or a 4xx in the route's error shape.
func checkAnswer(t *testing.T, route string, status int, body []byte, okKeys ...string) {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		t.Fatalf("%s answered %d with a body that is not a JSON object: %v: %.300s", route, status, err, body)
	}
	switch {
	case status >= 200 && status < 300:
		for _, k := range okKeys {
			if _, ok := obj[k]; !ok {
				t.Fatalf("%s answered %d without %q: %.300s", route, status, k, body)
			}
		}
	case status >= 400 && status < 500:
		if len(obj) != 1 {
			t.Fatalf("%s answered %d with keys besides \"error\": %.300s", route, status, body)
		}
		if strings.HasPrefix(route, "/v1/") {
			var e struct {
				Error struct {
					Message *string `json:"message"`
					Type    *string `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			var fields map[string]json.RawMessage
			if json.Unmarshal(obj["error"], &fields) != nil || json.Unmarshal(body, &e) != nil ||
				e.Error.Message == nil || *e.Error.Message == "" || e.Error.Type == nil || *e.Error.Type == "" {
				t.Fatalf("%s answered %d without OpenAI's error object: %.300s", route, status, body)
			}
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := fields[k]; !ok {
					t.Fatalf("%s answered %d with an error object lacking %q: %.300s", route, status, k, body)
				}
			}
			return
		}
		var msg string
		if json.Unmarshal(obj["error"], &msg) != nil || msg == "" {
			t.Fatalf("%s answered %d without {\"error\":\"…\"}: %.300s", route, status, body)
		}
	default:
		t.Fatalf("%s answered %d: %.300s", route, status, body)
	}
}

// FuzzDocumentsBody posts JSON bodies to /documents: one document, an
// array, {"documents":[…]}, and whatever the fuzzer makes of them.
func FuzzDocumentsBody(f *testing.F) {
	for _, s := range []string{
		`{"text":"Tea is brewed from leaves."}`,
		`{"id":"a/b","title":"T","text":"Coffee.","metadata":{"lang":"en"},"source":"notes.md"}`,
		`[{"text":"one"},{"text":"two","id":"2"}]`,
		`{"documents":[{"text":"three"}]}`,
		`{"documents":null}`, `{"documents":{}}`, `[]`, `{}`, `null`, `"text"`,
		`{"text":""}`, `{"text":5}`, `{"text":"x","metadata":{"k":1}}`, `{"text":"x","metadata":[]}`,
		`{"text":"x","id":"` + strings.Repeat("i", 300) + `"}`, `{"text":"x","id":"\u0000"}`,
		`{"text":"x"} {"text":"y"}`, `{"text":"\ud800"}`, "{\"text\":\"\xff\"}", `[{"text":"x"},`,
	} {
		f.Add([]byte(s))
	}
	base := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		status, answer := send(t, "POST", base+"/documents", "application/json", body)
		checkAnswer(t, "/documents", status, answer, "ids", "chunks")
	})
}

// FuzzOpenAIInput posts bodies to /v1/embeddings: input as a string, an
// array of strings, token ids, wrong types, huge numbers, encoding_format
// and dimensions.
func FuzzOpenAIInput(f *testing.F) {
	for _, s := range []string{
		`{"input":"hello","model":"m"}`,
		`{"input":["a","b"],"encoding_format":"base64"}`,
		`{"input":"a","encoding_format":"float","dimensions":384,"user":"u"}`,
		`{"input":[101,7592,102]}`, `{"input":[[101,102]]}`, `{"input":1e999}`, `{"input":-0}`,
		`{"input":"a","dimensions":99999999999999999999}`, `{"input":"a","dimensions":-1}`,
		`{"input":"a","dimensions":3.5}`, `{"input":"a","encoding_format":7}`, `{"input":{"a":1}}`,
		`{"input":[""]}`, `{"input":[null]}`, `{"input":[true]}`, `{"input":"a","model":{"x":[]}}`,
		`{"input":" [1]"}`, `{"input": [ "a" , 1 ]}`, `[]`, `"input"`, `{}`,
	} {
		f.Add([]byte(s))
	}
	base := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		status, answer := send(t, "POST", base+"/v1/embeddings", "application/json", body)
		checkAnswer(t, "/v1/embeddings", status, answer, "object", "data", "model", "usage")
	})
}

// FuzzEmbedBody posts bodies to /embed: {"text":…} or {"texts":[…]}.
func FuzzEmbedBody(f *testing.F) {
	for _, s := range []string{
		`{"text":"hello"}`, `{"texts":["a","b"]}`, `{"text":"a","texts":["b"]}`, `{}`,
		`{"text":null}`, `{"texts":[]}`, `{"texts":"a"}`, `{"text":["a"]}`, `{"texts":[1]}`,
		`{"text":"` + strings.Repeat("word ", 400) + `"}`, `{"text":"` + strings.Repeat("\u4e2d", 300) + `"}`,
		`{"text":"\u0000"}`, `{"text":"  "}`, `[{"text":"a"}]`, `{"text":"a"}x`,
	} {
		f.Add([]byte(s))
	}
	base := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		status, answer := send(t, "POST", base+"/embed", "application/json", body)
		checkAnswer(t, "/embed", status, answer, "n_embedding")
	})
}

// FuzzSearchFilter sends the same fuzzed q, k, mode and filter to GET
// /search as query parameters and to POST /search as a JSON body.
func FuzzSearchFilter(f *testing.F) {
	f.Add("tea", "3", "hybrid", "lang=en")
	f.Add("leaves", "", "keyword", "")
	f.Add("the", "100", "semantic", "a=b")
	f.Add("x", "0", "", "=")
	f.Add("", "-1", "bogus", "k")
	f.Add("q", "101", "KEYWORD", "a=b=c")
	f.Add("q", "99999999999999999999", "semantic", " a = b ")
	f.Add("\x00", " 5 ", "hybrid", "a=\xff")
	base := fuzzServer(f)
	// Something to find, with metadata the filters can name.
	status, answer := sendF(f, base+"/documents", `[{"text":"Tea is brewed from leaves.","metadata":{"lang":"en"}},{"text":"Le thé vient de feuilles.","metadata":{"lang":"fr"}}]`)
	if status != http.StatusCreated {
		f.Fatalf("POST /documents: %d %s", status, answer)
	}
	f.Fuzz(func(t *testing.T, q, k, mode, filter string) {
		v := url.Values{"q": {q}, "mode": {mode}}
		if k != "" {
			v.Set("k", k)
		}
		for _, p := range strings.Split(filter, "&") {
			if p != "" {
				v.Add("filter", p)
			}
		}
		status, answer := send(t, "GET", base+"/search?"+v.Encode(), "", nil)
		checkAnswer(t, "/search", status, answer, "query", "mode", "took_ms", "results")

		body := map[string]any{"q": q, "mode": mode}
		if k != "" {
			body["k"] = json.RawMessage(k)
		}
		if filter != "" {
			body["filter"] = strings.Split(filter, "&")
		}
		j, err := json.Marshal(body)
		if err != nil {
			// k is not a JSON value; send the bytes as they are.
			j = []byte(`{"q":` + quote(q) + `,"k":` + k + `,"filter":` + quote(filter) + `}`)
		}
		status, answer = send(t, "POST", base+"/search", "application/json", j)
		checkAnswer(t, "/search", status, answer, "query", "mode", "took_ms", "results")
	})
}

// sendF is send for the setup of a fuzz target.
func sendF(f *testing.F, u, body string) (int, string) {
	f.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		f.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func quote(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// FuzzMultipart posts multipart bodies to /documents, built from a fuzzed
// boundary, part header, file name and content.
func FuzzMultipart(f *testing.F) {
	f.Add("XyZ", "", "notes.md", []byte("# Tea\n\nBrewed from leaves."))
	f.Add("b", "Content-Type: text/plain\r\n", "a.txt", []byte("plain text"))
	f.Add("b", "", "rows.jsonl", []byte(`{"text":"one"}`+"\n"+`{"text":"two"}`))
	f.Add("b", "", "t.csv", []byte("text,lang\nhello,en\n"))
	f.Add("b", "", "p.html", []byte("<p>para<script>x</script>"))
	f.Add("b", "", "x.pdf", []byte("%PDF-1.4\n"))
	f.Add("b", "", "", []byte("a form field"))
	f.Add("", "", "a.txt", []byte("x"))
	f.Add(strings.Repeat("b", 71), "", "../../etc/passwd.txt", []byte("x"))
	f.Add("b", "Content-Transfer-Encoding: quoted-printable\r\n", "q.txt", []byte("caf=C3=A9"))
	f.Add("b\"", "X: y", "a\"b.txt", []byte("--b\r\n"))
	base := fuzzServer(f)
	f.Fuzz(func(t *testing.T, boundary, header, name string, content []byte) {
		if strings.ContainsFunc(boundary, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) {
			t.Skip("net/http will not send a control character in Content-Type")
		}
		var b bytes.Buffer
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString(`Content-Disposition: form-data; name="file"; filename="` + name + "\"\r\n")
		b.WriteString(header)
		b.WriteString("\r\n")
		b.Write(content)
		b.WriteString("\r\n--" + boundary + "--\r\n")
		status, answer := send(t, "POST", base+"/documents", "multipart/form-data; boundary="+boundary, b.Bytes())
		checkAnswer(t, "/documents", status, answer, "ids", "chunks")
	})
}
