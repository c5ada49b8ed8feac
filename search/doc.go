// Package search ranks chunks for a query: an HNSW graph answers "which
// vectors are nearest" (cosine for documents; cosine, dot product or L2
// distance for a collection of points), a BM25 index answers "which texts
// contain these words", and reciprocal rank fusion merges the two lists.
//
// Engine serves the documents; Collections serves the store's collections
// of points (the Qdrant-compatible vector store), with Qdrant's payload
// filters (filter.go) applied inside the graph walk, or by exact search
// over the matches when a filter is selective.
//
// Both indexes are derived data. They index the ids, vectors and texts they
// are given and know nothing of bbolt or HTTP; the caller rebuilds them from
// the store when a persisted graph is missing, stale (its generation number
// differs) or damaged. Every exported method is safe for many concurrent
// readers and one writer; bad input is an error value, never a panic.
package search
