package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// backupTimeFormat names snapshots so they sort by time and need no quoting
// in a shell or a Content-Disposition header.
const backupTimeFormat = "20060102T150405Z"

// handleBackup serves GET /backup: a consistent snapshot of the store, as a
// store file, streamed while other requests keep reading and writing. The
// snapshot holds every write acknowledged before the request arrived.
//
// Headers go out with the first byte, so a failure before it is an ordinary
// JSON error. After it the status is sent and cannot change: the handler
// cuts the connection instead of finishing the body, so the client sees a
// short download rather than a complete-looking broken file.
func (s *Server) handleBackup(c *gin.Context) {
	e, err := s.engineOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	name := "edgesearch-" + time.Now().UTC().Format(backupTimeFormat) + ".db"
	w := &backupWriter{c: c, filename: name}
	start := time.Now()
	n, err := e.Store().Backup(c.Request.Context(), w)
	if err == nil {
		s.metrics.countBackup(true)
		s.log.Info("backup sent", "file", name, "bytes", n, "took", time.Since(start).Round(time.Millisecond))
		return
	}
	s.metrics.countBackup(false)
	if !w.started {
		s.abortWithError(c, fmt.Errorf("backup %s: %w", name, err))
		return
	}
	// The client asked for this and is usually the one who went away, so a
	// warning, not an error; either way it does not have a usable file.
	s.log.Warn("backup cut short", "file", name, "bytes", n, "client", c.ClientIP(), "err", err)
	panic(http.ErrAbortHandler) // net/http closes the connection without ending the body
}

// backupWriter sends the response headers with the first write, so that
// nothing is committed to the client before the snapshot has begun.
type backupWriter struct {
	c        *gin.Context
	filename string
	started  bool
}

func (w *backupWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.started = true
		h := w.c.Writer.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", `attachment; filename="`+w.filename+`"`)
		// A snapshot must never be served from a cache: it is a moment's data.
		h.Set("Cache-Control", "no-store")
		w.c.Status(http.StatusOK)
	}
	return w.c.Writer.Write(p)
}
