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
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/store"
)

func newBackupCmd(getenv func(string) string) *cobra.Command {
	var (
		server string
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "backup OUT.db",
		Short: "Write a consistent snapshot of the document store to a file",
		Long: `Write a snapshot of the store in the data directory to OUT.db. The snapshot is
itself a store file: every document, chunk and vector, nothing half-written.

While a server uses the data directory its store is locked; give --server URL
to download the snapshot from that server's GET /backup instead (it keeps
serving meanwhile). The file is written to OUT.db.tmp, flushed to disk, checked
to open as a store, and only then renamed to OUT.db, so an interrupted backup
never leaves a truncated OUT.db. An existing OUT.db is kept unless --force.

To restore: stop the server, copy the file to DATA/edgesearch.db and start the
server again. The saved search graphs (DATA/hnsw.graph, and DATA/collections/
for the Qdrant-compatible collections) record the store generation they were
built at, a number that starts at random with each store and grows with every
write; a graph that does not match the restored file is rebuilt from it at
start, so there is nothing to delete.`,
		Example: `  edgesearch backup ~/backups/notes.db --data ~/edgesearch
  edgesearch backup notes.db --server http://pi.local:8080 --api-key KEY`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := resolveConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			out := args[0]
			if strings.TrimSpace(out) == "" {
				return usageError{errors.New("backup needs a file name OUT.db")}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			var snapshot func(context.Context, io.Writer) error
			if server != "" {
				if snapshot, err = downloadBackup(server, cfg.APIKey); err != nil {
					return err
				}
				if err := checkBackupTarget(out, "", force); err != nil {
					return err
				}
			} else {
				path := indexer.StorePath(cfg.DataDir)
				if err := checkBackupTarget(out, path, force); err != nil {
					return err
				}
				st, err := openForBackup(cfg.DataDir)
				if err != nil {
					return err
				}
				defer st.Close()
				snapshot = func(ctx context.Context, w io.Writer) error {
					_, err := st.Backup(ctx, w)
					return err
				}
			}
			sum, err := writeBackup(ctx, out, force, snapshot)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d documents, %d chunks, %s\n", out, sum.documents, sum.chunks, humanBytes(sum.bytes))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&server, "server", "", "download the snapshot from the edgesearch server at this URL instead of opening the data directory")
	fs.String("api-key", "", "API key of the --server")
	fs.BoolVar(&force, "force", false, "replace OUT.db if it exists")
	return cmd
}

// checkBackupTarget refuses an OUT that exists (unless force), that is a
// directory, or that is the live store itself, which --force would replace
// under the process using it.
func checkBackupTarget(out, live string, force bool) error {
	fi, err := os.Stat(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("backup to %s: %w", out, err)
	case fi.IsDir():
		return fmt.Errorf("backup to %s: it is a directory; give a file name, e.g. %s", out, filepath.Join(out, "edgesearch-backup.db"))
	}
	if live != "" {
		if li, err := os.Stat(live); err == nil && os.SameFile(fi, li) {
			return fmt.Errorf("backup to %s: that is the live store; give another file name", out)
		}
	}
	if !force {
		return fmt.Errorf("backup to %s: the file exists; pass --force to replace it", out)
	}
	return nil
}

// openForBackup opens the data directory's store as it is, for reading;
// with no model given, Open writes nothing.
func openForBackup(dataDir string) (*store.Store, error) {
	path := indexer.StorePath(dataDir)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no store to back up in %s (no %s); check --data or EDGESEARCH_DATA", dataDir, filepath.Base(path))
	}
	st, err := store.Open(path, store.Options{LockTimeout: 500 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("a server (or an import) is using %s, so its store is locked; back it up through the server with --server http://HOST:PORT", dataDir)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// downloadBackup checks base and returns a snapshot function that streams
// the server's GET /backup into w.
func downloadBackup(base, apiKey string) (func(context.Context, io.Writer) error, error) {
	u, err := url.Parse(strings.TrimRight(base, "/") + "/backup")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("--server %q: want a URL like http://localhost:8080", base)}
	}
	return func(ctx context.Context, w io.Writer) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		if apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+apiKey)
		}
		// No overall timeout: a large store takes as long as it takes, and
		// Ctrl-C cancels ctx.
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("couldn't reach the server at %s: %w", base, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
			var e struct{ Error string }
			if json.Unmarshal(body, &e) == nil && e.Error != "" {
				msg = fmt.Sprintf("%s (HTTP %d)", e.Error, resp.StatusCode)
			}
			if resp.StatusCode == http.StatusUnauthorized {
				msg += "; give the key with --api-key or EDGESEARCH_API_KEY"
			}
			return fmt.Errorf("server %s: GET /backup: %s", base, msg)
		}
		n, err := io.Copy(w, resp.Body)
		if err != nil {
			return fmt.Errorf("download from %s cut short after %s: %w", base, humanBytes(n), err)
		}
		return nil
	}, nil
}

// backupSummary describes a finished backup.
type backupSummary struct {
	documents, chunks int
	bytes             int64
}

// writeBackup writes a snapshot to out.tmp, syncs it, checks that it opens
// as a store, and renames it to out; the directory is synced too, so the
// new name survives a power cut. On any failure out.tmp is removed and out
// is left as it was.
func writeBackup(ctx context.Context, out string, force bool, snapshot func(context.Context, io.Writer) error) (sum backupSummary, err error) {
	tmp := out + ".tmp"
	// 0600 like the store itself: the snapshot holds every document.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return sum, fmt.Errorf("backup to %s: %w", out, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = snapshot(ctx, f); err != nil {
		if ctx.Err() != nil {
			return sum, fmt.Errorf("backup to %s: interrupted; %s was not written", out, out)
		}
		return sum, err
	}
	if err = f.Sync(); err != nil {
		return sum, fmt.Errorf("backup to %s: flush %s: %w", out, tmp, err)
	}
	if err = f.Close(); err != nil {
		return sum, fmt.Errorf("backup to %s: close %s: %w", out, tmp, err)
	}
	if sum, err = checkSnapshot(tmp); err != nil {
		return sum, fmt.Errorf("backup to %s: the snapshot is not a usable store, so it was not kept: %w", out, err)
	}
	// Checked again: the file may have appeared while the snapshot was written.
	if !force {
		if _, err = os.Lstat(out); err == nil {
			return sum, fmt.Errorf("backup to %s: the file exists; pass --force to replace it", out)
		}
	}
	if err = os.Rename(tmp, out); err != nil {
		return sum, fmt.Errorf("backup to %s: %w", out, err)
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return sum, fmt.Errorf("backup to %s: written, but the directory could not be flushed: %w", out, err)
	}
	return sum, nil
}

// checkSnapshot opens a finished snapshot as a store and counts it, so a
// download that was cut short or was not a store is caught now, not on
// restore day.
func checkSnapshot(path string) (backupSummary, error) {
	var sum backupSummary
	fi, err := os.Stat(path)
	if err != nil {
		return sum, err
	}
	sum.bytes = fi.Size()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		return sum, err
	}
	defer st.Close()
	sum.documents, sum.chunks, err = st.Count()
	return sum, err
}

// syncDir flushes a directory's entries, making a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// humanBytes prints a size the way people read file sizes.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
