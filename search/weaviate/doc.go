// Package weaviate stores and searches collections of points in a Weaviate
// server or cluster, over its REST and GraphQL APIs (net/http and
// encoding/json, no client library), so that a collection can outgrow one
// device while edgesearch keeps embedding on it.
//
// How a collection maps onto Weaviate:
//
//   - A collection is a class named "Es_" followed by its name escaped
//     (ClassName): Weaviate class names are GraphQL names and compare
//     case-insensitively, ours are case-sensitive and may hold '.' and '-'.
//   - Every vector of a collection is a Weaviate named vector (the unnamed
//     one is "v_", a named one "v_" + escaped name) with vectorizer none and
//     the distance mapped: Cosine → cosine, Dot → dot, Euclid → l2-squared
//     (Score converts a distance back to our score).
//   - A point id maps to a Weaviate UUID that sorts as our ids do (ObjectID):
//     an integer n is the UUID whose first 8 bytes are zero and last 8 are n,
//     a UUID is itself. UUIDs whose first 8 bytes are zero would collide with
//     integers and are refused with ErrUnmappableID.
//   - The payload is kept verbatim as JSON in an unindexed text property,
//     so it round-trips exactly; beside it, every path a payload reaches is
//     flattened into typed, filterable array properties created on first
//     use (strings, integers, other numbers, booleans, plus "present" and
//     "null" markers), which is what filters are translated to (Where). The
//     point's text (search.PointText) is copied into one word-tokenized
//     property, the one BM25 and hybrid search read.
//
// A Client is safe for concurrent use. Every call takes a context, bounds the
// size of the answer it reads, and fails with an error that names the
// operation and carries Weaviate's own message.
package weaviate
