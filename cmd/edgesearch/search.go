package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// searchFlags are the options of `edgesearch search`.
type searchFlags struct {
	k       int
	mode    string
	asJSON  bool
	filters []string
	server  string
}

func newSearchCmd(getenv func(string) string) *cobra.Command {
	var f searchFlags
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Search the imported documents",
		Long: `Search the documents in the data directory and print the best matches: title,
source, score and the matching passage (query terms in bold on a terminal).

Modes: hybrid (default; meaning and keywords fused), semantic (meaning only),
keyword (BM25 only; needs no model). --json prints the HTTP API's answer:
each passage as text with the byte offsets of its matches, and facet counts.

While a server holds the data directory, the store is locked: pass
--server URL to ask the running server instead.`,
		Example: `  edgesearch search "how do I reset my router"
  edgesearch search "invoice 2023" --mode keyword -k 5 --filter type=pdf
  edgesearch search "sleep problems" --server http://pi.local:8080 --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return usageError{fmt.Errorf("search takes one non-empty QUERY (quote it), got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := resolveConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			if f.k < 1 || f.k > search.MaxK {
				return usageError{fmt.Errorf("-k %d: want 1 to %d", f.k, search.MaxK)}
			}
			mode, err := search.ParseMode(f.mode)
			if err != nil {
				return usageError{err}
			}
			filter := map[string]string{}
			for _, p := range f.filters {
				key, val, ok := strings.Cut(p, "=")
				if !ok || strings.TrimSpace(key) == "" {
					return usageError{fmt.Errorf("--filter %q: want key=value", p)}
				}
				filter[strings.TrimSpace(key)] = val
			}
			var resp web.SearchResponse
			if f.server != "" {
				resp, err = searchServer(cmd.Context(), f.server, args[0], f.k, mode, f.filters, cfg.APIKey)
			} else {
				resp, err = searchLocal(cmd.Context(), cfg, args[0], f.k, mode, filter)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.asJSON {
				enc := json.NewEncoder(out)
				enc.SetEscapeHTML(false) // keep <mark> readable
				return enc.Encode(resp)
			}
			printResults(out, resp, isTerminal(out))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&f.k, "k", "k", search.DefaultK, "number of documents to show (1 to 100)")
	fs.StringVar(&f.mode, "mode", "hybrid", "hybrid, semantic or keyword")
	fs.BoolVar(&f.asJSON, "json", false, "print the HTTP API's JSON answer")
	fs.StringArrayVar(&f.filters, "filter", nil, "only documents whose metadata has key=value (\"source=PATH\" matches the source); repeatable")
	fs.StringVar(&f.server, "server", "", "ask the edgesearch server at this URL instead of opening the data directory")
	fs.String("api-key", "", "API key for --server")
	return cmd
}

// searchLocal opens the data directory's store and index and searches them.
// The model is loaded only for modes that need the query's vector.
func searchLocal(ctx context.Context, cfg config, query string, k int, mode search.Mode, filter map[string]string) (web.SearchResponse, error) {
	path := indexer.StorePath(cfg.DataDir)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return web.SearchResponse{}, fmt.Errorf("no documents in %s yet: run `edgesearch import PATH --data %s` first", cfg.DataDir, cfg.DataDir)
	}
	var opts store.Options
	var pool *embedder.Pool
	if mode != search.Keyword {
		if err := checkModel(cfg.ModelPath); err != nil {
			return web.SearchResponse{}, err
		}
		var err error
		if pool, err = embedder.New(ctx, poolOptions(cfg)); err != nil {
			return web.SearchResponse{}, fmt.Errorf("couldn't load the model: %w", err)
		}
		defer pool.Close()
		info := pool.Info()
		opts = storeOptions(info, store.Options{})
	}
	opts.LockTimeout = 500 * time.Millisecond
	st, err := store.Open(path, opts)
	if errors.Is(err, store.ErrLocked) {
		return web.SearchResponse{}, fmt.Errorf("a server (or an import) is using %s, so its store is locked; ask the server with --server http://HOST:PORT instead", cfg.DataDir)
	}
	if err != nil && pool != nil {
		err = reindexAdvice(err, cfg, pool.Info())
	}
	if err != nil {
		return web.SearchResponse{}, err
	}
	defer st.Close()
	e, err := search.Open(ctx, st, search.EngineOptions{Dir: cfg.DataDir, Progress: os.Stderr})
	if err != nil {
		return web.SearchResponse{}, err
	}
	defer e.Close()
	start := time.Now()
	q := search.Query{Text: query, K: k, Mode: mode, Filter: filter}
	if pool != nil {
		embs, err := pool.Embed(ctx, []string{query})
		if err != nil {
			return web.SearchResponse{}, fmt.Errorf("embed the query: %w", err)
		}
		q.Vector = embs[0].Vector
	}
	results, err := e.Search(ctx, q)
	if errors.Is(err, search.ErrNoQuery) {
		return web.SearchResponse{}, usageError{fmt.Errorf("query %q has no searchable words for keyword search; try other words or --mode semantic", query)}
	}
	if err != nil {
		return web.SearchResponse{}, err
	}
	facets, err := e.Facets(ctx, q)
	if err != nil {
		return web.SearchResponse{}, err
	}
	resp := web.NewSearchResponse(query, mode, time.Since(start), results)
	resp.Facets = web.NewSearchFacets(facets)
	return resp, nil
}

// searchServer asks a running server's GET /search.
func searchServer(ctx context.Context, base, query string, k int, mode search.Mode, filters []string, apiKey string) (web.SearchResponse, error) {
	u, err := url.Parse(strings.TrimRight(base, "/") + "/search")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return web.SearchResponse{}, usageError{fmt.Errorf("--server %q: want a URL like http://localhost:8080", base)}
	}
	v := url.Values{"q": {query}, "k": {strconv.Itoa(k)}, "mode": {mode.String()}}
	for _, f := range filters {
		v.Add("filter", f)
	}
	u.RawQuery = v.Encode()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return web.SearchResponse{}, err
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return web.SearchResponse{}, fmt.Errorf("couldn't reach the server at %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return web.SearchResponse{}, fmt.Errorf("reading the answer of %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return web.SearchResponse{}, fmt.Errorf("server %s: %s (HTTP %d)", base, e.Error, resp.StatusCode)
		}
		return web.SearchResponse{}, fmt.Errorf("server %s answered HTTP %d", base, resp.StatusCode)
	}
	var out web.SearchResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return web.SearchResponse{}, fmt.Errorf("server %s: answer is not a search result: %w", base, err)
	}
	return out, nil
}

// printResults writes one block per result. On a terminal the marked terms
// are bold; elsewhere the snippet is plain text.
func printResults(w io.Writer, resp web.SearchResponse, terminal bool) {
	if len(resp.Results) == 0 {
		fmt.Fprintf(w, "no documents match %q\n", resp.Query)
		return
	}
	for i, r := range resp.Results {
		title := r.Title
		if title == "" {
			title = r.ID
		}
		fmt.Fprintf(w, "%d. %s  (score %.4f)\n", i+1, title, r.Score)
		if r.Source != "" {
			fmt.Fprintf(w, "   %s\n", r.Source)
		}
		fmt.Fprintf(w, "   %s\n\n", renderPassage(r.Passage, terminal))
	}
}

// renderPassage returns a passage's text with its matches in bold on a
// terminal, and as it is elsewhere. Control characters in the text (a
// document may hold any) become spaces, so a passage cannot move the
// cursor or restyle the terminal; offsets that do not fit the text (from a
// server of another version) are ignored rather than trusted.
func renderPassage(p web.Passage, terminal bool) string {
	var b strings.Builder
	clean := func(s string) {
		b.WriteString(strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, s))
	}
	pos := 0
	for _, m := range p.Matches {
		if !terminal || m[0] < pos || m[0] > m[1] || m[1] > len(p.Text) {
			continue
		}
		clean(p.Text[pos:m[0]])
		b.WriteString("\x1b[1m")
		clean(p.Text[m[0]:m[1]])
		b.WriteString("\x1b[0m")
		pos = m[1]
	}
	clean(p.Text[pos:])
	return b.String()
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
