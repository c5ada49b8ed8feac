// Package indexer turns files and already-parsed documents into stored,
// searchable documents: it parses each format into plain text, cuts the text
// into chunks by the model's own word pieces, embeds the chunks and writes
// documents with their vectors to the store.
//
// Invariants:
//   - A chunk never holds more than the model's limit of word pieces
//     ([CLS] and [SEP] included), so no text is silently cut off by the
//     embedder; chunk spans together cover the whole document text.
//   - A document is written with all of its chunks in one store transaction;
//     ids derived from paths are stable, so importing a changed file replaces
//     its document and importing an unchanged one does nothing.
//   - A bad file or row is reported and skipped; it never stops an import.
//
// Import is the bulk path (files and directories, every core, batched
// transactions); Ingest is the path for documents that arrive already parsed,
// as over HTTP.
package indexer
