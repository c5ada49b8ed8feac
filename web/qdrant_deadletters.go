package web

import (
	"errors"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/store"
)

// Dead letters (ours, not Qdrant's): writes to a collection on the Weaviate
// cluster that it refused for good after they were acknowledged, moved out
// of the outbox so that the writes after them could be delivered
// (docs/weaviate.md). They are the device's record, so they are listed
// while the cluster is down too; /health counts them. Discarding them frees
// their room in the outbox's bounds. There is no retry: a write sent again
// after newer ones could replace what they wrote.

// qdrantDeadLetter is one dead letter as GET .../dead_letters lists it.
type qdrantDeadLetter struct {
	Seq       uint64    `json:"seq"`
	Operation string    `json:"operation"`
	Points    int       `json:"points,omitempty"` // upsert: points; delete and payload by ids: ids
	Added     time.Time `json:"added"`
	Buried    time.Time `json:"buried"`
	Reason    string    `json:"reason"`
}

// outboxOperation names an outbox entry's kind as the Qdrant route that
// made it.
func outboxOperation(op store.OutboxOp) (name string, points int) {
	switch op.Kind {
	case store.OutboxUpsert:
		return "upsert_points", len(op.Points)
	case store.OutboxDelete:
		return "delete_points", len(op.IDs)
	case store.OutboxDeleteWhere:
		return "delete_points_by_filter", 0
	case store.OutboxUpdatePayload:
		return "update_payload", len(op.IDs)
	}
	return fmt.Sprintf("kind %d", op.Kind), 0
}

// deadLetterCollection reports whether the answer may go on: the
// collection has dead letters (found: the device's record, which answers
// while the cluster is down too) or exists; else it has answered 404 or
// the error.
func (s *Server) deadLetterCollection(c *gin.Context, found bool) bool {
	if found {
		return true
	}
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return false
	}
	name := c.Param("collection")
	if _, err := vs.Info(name); errors.Is(err, store.ErrNotFound) {
		s.qdrantAbort(c, qdrantCollectionError(vs, name, err))
		return false
	}
	return true
}

// handleQdrantDeadLetters serves GET /collections/{name}/dead_letters,
// oldest first.
func (s *Server) handleQdrantDeadLetters(c *gin.Context) {
	out := []qdrantDeadLetter{}
	if b := s.backends(); b != nil {
		dead, err := b.DeadLetters(c.Param("collection"))
		if err != nil {
			s.qdrantAbort(c, err)
			return
		}
		for _, d := range dead {
			op, n := outboxOperation(d.Op)
			out = append(out, qdrantDeadLetter{Seq: d.Seq, Operation: op, Points: n, Added: d.Added, Buried: d.Buried, Reason: d.Reason})
		}
	}
	if s.deadLetterCollection(c, len(out) > 0) {
		qdrantOK(c, out)
	}
}

// handleQdrantDiscardDeadLetters serves DELETE
// /collections/{name}/dead_letters: every dead letter of the collection is
// removed, and the answer says how many.
func (s *Server) handleQdrantDiscardDeadLetters(c *gin.Context) {
	n := 0
	if b := s.backends(); b != nil {
		var err error
		if n, err = b.DiscardDeadLetters(c.Request.Context(), c.Param("collection")); err != nil {
			s.qdrantAbort(c, err)
			return
		}
	}
	if s.deadLetterCollection(c, n > 0) {
		qdrantOK(c, gin.H{"discarded": n})
	}
}
