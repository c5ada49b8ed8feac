package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// doc is a document as POST /documents takes it.
type doc struct {
	ID     string `json:"id"`
	Title  string `json:"title,omitempty"`
	Text   string `json:"text"`
	Source string `json:"source,omitempty"`
}

// workload is the fixed material of the load: the documents stored before
// the runs, the queries searched, and the sentences the documents written
// during the runs and the texts embedded are made of.
type workload struct {
	source    string // where the seed documents and queries came from
	seed      []doc
	queries   []string
	sentences []string
}

// loadWorkload reads n seed documents and the queries from the SciFact
// folder when it holds corpus.jsonl.gz and queries_test.jsonl, and from the
// sentences file otherwise (each of its first n lines a document, queries
// made of the first words of its last lines). The sentences file is read
// in both cases.
func loadWorkload(scifact, sentencesPath string, n int) (*workload, error) {
	b, err := os.ReadFile(sentencesPath)
	if err != nil {
		return nil, fmt.Errorf("sentences: %w", err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) < 10 {
		return nil, fmt.Errorf("sentences %s: %d lines, want at least 10", sentencesPath, len(lines))
	}
	w := &workload{sentences: lines}

	if scifact != "" {
		docs, qs, err := readSciFact(scifact, n)
		switch {
		case err == nil:
			w.source, w.seed, w.queries = "SciFact ("+scifact+")", docs, qs
			return w, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	w.source = "sentences (" + sentencesPath + ")"
	for i := 0; i < n; i++ {
		l := lines[i%len(lines)]
		w.seed = append(w.seed, doc{ID: fmt.Sprintf("seed-%04d", i), Title: firstWords(l, 8), Text: cutWords(l, seedChars), Source: "loadtest"})
	}
	for _, l := range lines[len(lines)*7/10:] {
		w.queries = append(w.queries, firstWords(l, 8))
	}
	return w, nil
}

// seedChars caps a seed document's text: short documents keep seeding
// quick on a slow machine, and the store is there so searches find
// something, not to measure indexing.
const seedChars = 1000

// readSciFact reads the first n documents of corpus.jsonl.gz in dir (their
// text cut to seedChars) and every query of queries_test.jsonl.
func readSciFact(dir string, n int) ([]doc, []string, error) {
	f, err := os.Open(filepath.Join(dir, "corpus.jsonl.gz"))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("scifact corpus: %w", err)
	}
	var docs []doc
	dec := json.NewDecoder(zr)
	for len(docs) < n {
		var d struct {
			ID    string `json:"_id"`
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if err := dec.Decode(&d); err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("scifact corpus: %w", err)
		}
		if strings.TrimSpace(d.Text) == "" {
			continue
		}
		docs = append(docs, doc{ID: "scifact-" + d.ID, Title: d.Title, Text: cutWords(d.Text, seedChars), Source: "scifact"})
	}

	qf, err := os.Open(filepath.Join(dir, "queries_test.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	defer qf.Close()
	var qs []string
	sc := bufio.NewScanner(qf)
	for sc.Scan() {
		var q struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			return nil, nil, fmt.Errorf("scifact queries: %w", err)
		}
		if q.Text != "" {
			qs = append(qs, q.Text)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("scifact queries: %w", err)
	}
	if len(qs) == 0 || (n > 0 && len(docs) == 0) {
		return nil, nil, fmt.Errorf("scifact %s: %d documents, %d queries", dir, len(docs), len(qs))
	}
	return docs, qs, nil
}

// cutWords returns s cut at the last space before n bytes, or s if shorter.
func cutWords(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if i := strings.LastIndexByte(s[:n], ' '); i > 0 {
		return s[:i]
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}

// query returns a query of the fixed list.
func (w *workload) query(r *rand.Rand) string { return w.queries[r.IntN(len(w.queries))] }

// shortText returns a text of a dozen words to embed.
func (w *workload) shortText(r *rand.Rand) string {
	return firstWords(w.sentences[r.IntN(len(w.sentences))], 12)
}

// document returns a document of 1–3 KB of sentences with the given id.
func (w *workload) document(r *rand.Rand, id string) doc {
	want := 1024 + r.IntN(2048)
	var b strings.Builder
	for b.Len() < want {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w.sentences[r.IntN(len(w.sentences))])
	}
	text := b.String()
	if len(text) > 3072 {
		cut := strings.LastIndexByte(text[:3072], ' ')
		if cut < 1024 { // one long sentence: cut it on a character boundary
			for cut = 3072; !utf8.RuneStart(text[cut]); cut-- {
			}
		}
		text = text[:cut]
	}
	return doc{ID: id, Title: firstWords(text, 6), Text: text, Source: "loadtest"}
}
