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
//   - Every chunk vector has the length recorded in the store's meta
//     (Dims), and came from the model recorded there (Model, with its
//     Weights once a store has recorded them).
//   - The generation number grows by at least one with every committed write
//     to the documents.
//
// Beside the documents the file holds collections of points, the storage
// of the Qdrant-compatible API (points.go): each collection has its own
// vectors (unnamed or named, each with a size and distance), points keyed
// by PointID with all of the collection's vectors and a JSON payload, a
// point counter and its own generation, all changed in the transaction
// that changes the points; ForEachPoint rebuilds an index from one
// snapshot. Writes to collections leave the store's Generation alone, and
// writes to documents leave the collections' alone.
//
// The store knows bytes on disk only: it is handed vectors and told the model
// name, weights and dimension; it never runs a model and knows nothing of HTTP.
package store
