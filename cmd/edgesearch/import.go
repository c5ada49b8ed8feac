package main

import (
	"bytes"
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

	"github.com/spf13/cobra"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/store"
)

// errImportFailures makes the exit status 1 after a summary that lists
// failed files; the summary already said which.
var errImportFailures = errors.New("some files failed to import (listed above)")

func newImportCmd(getenv func(string) string) *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:   "import PATH...",
		Short: "Parse, embed and store documents from files and directories",
		Long: `Import .txt, .md, .html, .pdf, .jsonl and .csv files (directories recursively,
hidden ones skipped) into the store in the data directory. JSONL and CSV files
give one document per row: id from "id" or "_id" (else from the row's
content), "title", "text", and the other fields as metadata; any other file is
one document whose id comes from its bytes, so copies are one document.
Files whose documents are already stored are skipped. When a file given again
has changed, the documents it no longer holds (its old version, rows gone
from it) are removed after the new ones are stored (kept, and counted in the
summary, while any part of that file fails).

A progress bar shows on a terminal, a log line every few seconds otherwise,
then a summary. A bad file or row does not stop the import: the rest is
imported and the failures listed. The exit status is 0 when everything was
imported, 1 when any file or row failed (or the import could not run), 2 for
a usage error.

While a server uses the data directory its store is locked; stop it, or give
--server URL to send the parsed documents to that server's POST /documents.`,
		Example: `  edgesearch import ~/notes ~/manuals/*.pdf --data ~/edgesearch
  edgesearch import export.jsonl --server http://pi.local:8080`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("import needs at least one PATH")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := resolveConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			opts := indexer.ImportOptions{Workers: cfg.Threads, Progress: cmd.ErrOrStderr(), Limits: cfg.Parse}
			if server != "" {
				opts.Send = sendTo(server, cfg.APIKey)
				opts.SourceIDs, opts.Remove = serverSourceIDs(server, cfg.APIKey), serverRemove(server, cfg.APIKey)
			} else {
				setMemoryLimit(cfg.MemoryLimit)
				st, pool, err := openForImport(cmd.Context(), cfg)
				if err != nil {
					return err
				}
				defer st.Close()
				defer pool.Close()
				opts.Store, opts.Embedder = st, pool
			}
			sum, err := indexer.Import(cmd.Context(), args, opts)
			sum.Write(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if len(sum.Failures) > 0 {
				return errImportFailures
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "send documents to the edgesearch server at this URL instead of opening the store")
	cmd.Flags().String("api-key", "", "API key of the --server")
	addParseFlags(cmd.Flags())
	return cmd
}

// openForImport opens the store (creating the data directory) and loads the
// model. The store goes first: when a server holds it, loading a model
// would be wasted time.
func openForImport(ctx context.Context, cfg config) (*store.Store, *embedder.Pool, error) {
	if err := checkModel(cfg.ModelPath); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("couldn't create data directory: %w", err)
	}
	// The model's name and dims are only known once it is loaded; open an
	// existing store as it is, and create a new one after loading.
	path := indexer.StorePath(cfg.DataDir)
	st, err := store.Open(path, store.Options{LockTimeout: time.Second, Float16: cfg.StoreFloat16})
	if errors.Is(err, store.ErrLocked) {
		return nil, nil, fmt.Errorf("a server is using %s; stop it or use --server URL", cfg.DataDir)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	pool, perr := embedder.New(ctx, poolOptions(cfg))
	if perr != nil {
		if st != nil {
			st.Close()
		}
		return nil, nil, fmt.Errorf("couldn't load the model: %w", perr)
	}
	info := pool.Info()
	// A store that has not recorded the weights is reopened too, so that
	// it records these.
	if st != nil && (!indexer.HoldsModel(st, info) || st.Weights() != info.WeightType) {
		st.Close()
		st = nil
	}
	if st == nil {
		// Reopening with the model's identity checks it against the store.
		if st, err = store.Open(path, storeOptions(info, store.Options{LockTimeout: time.Second, Float16: cfg.StoreFloat16})); err != nil {
			pool.Close()
			if errors.Is(err, store.ErrLocked) {
				return nil, nil, fmt.Errorf("a server is using %s; stop it or use --server URL", cfg.DataDir)
			}
			return nil, nil, reindexAdvice(err, cfg, info)
		}
	}
	return st, pool, nil
}

// sendTo returns an indexer Send function that posts documents to a
// server's POST /documents as {"documents":[...]} and reads what the server
// did from its answer.
func sendTo(server, apiKey string) func(context.Context, []indexer.Doc) (indexer.Sent, error) {
	url := strings.TrimRight(server, "/") + "/documents"
	client := &http.Client{Timeout: 10 * time.Minute} // the server embeds before it answers
	return func(ctx context.Context, docs []indexer.Doc) (indexer.Sent, error) {
		var sent indexer.Sent
		body, err := json.Marshal(map[string][]indexer.Doc{"documents": docs})
		if err != nil {
			return sent, err
		}
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				return sent, fmt.Errorf("server %s: %w", server, err)
			}
			req.Header.Set("Content-Type", "application/json")
			if apiKey != "" {
				req.Header.Set("Authorization", "Bearer "+apiKey)
			}
			resp, err := client.Do(req)
			if err != nil {
				return sent, fmt.Errorf("server %s: %w", server, err)
			}
			// The answer lists the ids: a few KB for a batch of rows.
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				// A busy server refuses bulk work it cannot take now and
				// says when to come back; an import has the time to wait.
				select {
				case <-time.After(retryAfter(resp.Header.Get("Retry-After"))):
					continue
				case <-ctx.Done():
					return sent, ctx.Err()
				}
			}
			if resp.StatusCode/100 != 2 {
				return sent, fmt.Errorf("server %s: POST /documents: %s: %s", server, resp.Status, strings.TrimSpace(string(msg)))
			}
			// {"ids":[…],"chunks":N,"unchanged":N}; a server from before
			// "unchanged" re-embedded everything, and says 0.
			var answer struct {
				Chunks    int `json:"chunks"`
				Unchanged int `json:"unchanged"`
			}
			if err := json.Unmarshal(msg, &answer); err != nil {
				return sent, fmt.Errorf("server %s: POST /documents: answer %.100q: %w", server, msg, err)
			}
			return indexer.Sent{Chunks: answer.Chunks, Unchanged: answer.Unchanged}, nil
		}
	}
}

// retryAfter reads a Retry-After header in seconds, between 1 and 30 s; 1 s
// when it is missing or a date.
func retryAfter(h string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n < 1 {
		return time.Second
	}
	return time.Duration(min(n, 30)) * time.Second
}

// serverRequest sends one request to the server and decodes a 2xx JSON
// answer into out (when out is not nil); other statuses are errors that
// carry the server's message.
func serverRequest(ctx context.Context, client *http.Client, method, server, path, apiKey string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(server, "/")+path, nil)
	if err != nil {
		return 0, fmt.Errorf("server %s: %w", server, err)
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("server %s: %w", server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, fmt.Errorf("server %s: %s %s: %s: %s", server, method, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("server %s: %s %s: %w", server, method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// serverSourceIDs returns an indexer SourceIDs function that pages through
// the server's GET /documents, which lists every document with its source.
func serverSourceIDs(server, apiKey string) func(context.Context, []string) (map[string][]string, error) {
	client := &http.Client{Timeout: time.Minute}
	return func(ctx context.Context, sources []string) (map[string][]string, error) {
		want := make(map[string]bool, len(sources))
		for _, s := range sources {
			want[s] = true
		}
		out := make(map[string][]string)
		const limit = 1000 // the server's largest page
		for offset := 0; ; offset += limit {
			var page struct {
				Documents []struct{ ID, Source string }
				Total     int
			}
			path := fmt.Sprintf("/documents?offset=%d&limit=%d", offset, limit)
			if _, err := serverRequest(ctx, client, http.MethodGet, server, path, apiKey, &page); err != nil {
				return nil, err
			}
			for _, d := range page.Documents {
				if want[d.Source] {
					out[d.Source] = append(out[d.Source], d.ID)
				}
			}
			if len(page.Documents) < limit || offset+limit >= page.Total {
				return out, nil
			}
		}
	}
}

// serverRemove returns an indexer Remove function that deletes documents
// one by one with the server's DELETE /documents/:id; one already gone
// (404) is not counted and not an error.
func serverRemove(server, apiKey string) func(context.Context, []string) (int, error) {
	client := &http.Client{Timeout: time.Minute}
	return func(ctx context.Context, ids []string) (int, error) {
		n := 0
		for _, id := range ids {
			code, err := serverRequest(ctx, client, http.MethodDelete, server, "/documents/"+url.PathEscape(id), apiKey, nil)
			if code == http.StatusNotFound {
				continue
			}
			if err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}
}
