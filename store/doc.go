// Package store keeps edgesearch's documents, their chunks and the chunk
// vectors in one bbolt file. It is the only source of truth: the vector graph
// and the keyword index are derived from it and can always be rebuilt with
// ForEachChunk, using Generation to tell when a derived index is stale.
//
// Invariants:
//   - A document and all of its chunks are written or removed in one bbolt
//     transaction; a reader never sees a document without its chunks.
//   - Every chunk has a uint64 id that is never reused, not even after
//     Open with Options.Reembed drops all vectors.
//   - Every vector in the file has the length recorded in the store's meta
//     (Dims), and came from the model recorded there (Model).
//   - The generation number grows by at least one with every committed write.
//
// The store knows bytes on disk only: it is handed vectors and told the model
// name and dimension; it never runs a model and knows nothing of HTTP.
package store
