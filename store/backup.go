package store

import (
	"context"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent snapshot of the whole store to w while other
// callers keep reading and writing, and returns the number of bytes
// written. The snapshot is itself a store file that Open accepts. Writes
// committed after Backup starts are not in it. It stops with ctx's error
// when ctx is done, and returns w's error if a write fails.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx: ctx, w: w})
		return err
	})
	if ctxErr := ctx.Err(); err != nil && ctxErr != nil {
		// bbolt flattens the writer's error to text; give callers the
		// context error back so errors.Is works.
		return n, fmt.Errorf("back up %s: %w", s.path, ctxErr)
	}
	if err != nil {
		return n, fmt.Errorf("back up %s: %w", s.path, err)
	}
	return n, nil
}

// ctxWriter lets a long copy notice cancellation between writes.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
