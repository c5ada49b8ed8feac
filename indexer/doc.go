// Package indexer turns files and already-parsed documents into stored,
// searchable documents: it parses each format into plain text, cuts the text
// into chunks by the model's own word pieces, embeds the chunks and writes
// documents with their vectors to the store.
//
// Document identity, one rule for imports, uploads and JSON documents:
//   - A whole file (text, Markdown, HTML, PDF) is one document whose id is
//     "f" and the first 20 hex digits of the SHA-256 of the file's bytes.
//     The same bytes are one document wherever they come from (a path on
//     disk, an upload under any name); different bytes never share an id
//     by accident, so two different files called README.md are two
//     documents.
//   - A JSONL or CSV row with an "id" (or "_id") field keeps it: the caller
//     named the document, and a later one of that id replaces it. A row
//     without one, like a JSON document without "id" (POST /documents,
//     Ingest), gets "r" and 20 hex digits of the SHA-256 of its own content
//     (title, text and metadata sorted by key, each length-prefixed), never
//     of its file name or source.
//   - A stored document is replaced only by one of the same id. The one
//     exception is Import of a file whose content changed: its new version
//     has new ids, and the documents stored earlier from the same path that
//     the file no longer holds are removed once the new ones are written
//     (not when any part of the file failed). Uploads never remove by
//     source: two uploads with one name are two files.
//
// Invariants:
//   - A chunk never holds more than the model's limit of word pieces
//     ([CLS] and [SEP] included), so no text is silently cut off by the
//     embedder; chunk spans together cover the whole document text.
//   - A document is written with all of its chunks in one store transaction;
//     importing an unchanged file finds its documents stored under the same
//     ids and does nothing.
//   - A bad file or row is reported and skipped; it never stops an import.
//     Every parse is bounded by Limits in bytes, depth, rows and time, and
//     stops when its context ends.
//
// Import is the bulk path (files and directories, every core, batched
// transactions); Ingest is the path for documents that arrive already parsed,
// as over HTTP; Parse is the one way a file's bytes become documents, for
// both.
package indexer
