/*
 * BERT uncased WordPiece tokenizer (internal to the guest, not part of the ABI).
 *
 * Matches the Hugging Face tokenizers BertWordPieceTokenizer (lowercase=True):
 * clean text, pad CJK ideographs with spaces, strip accents (NFD, drop Mn),
 * lowercase, split on whitespace and punctuation, greedy longest-match word
 * pieces, [UNK] for a word longer than 100 characters or with no match.
 */
#ifndef EDGESEARCH_TOKENIZER_H
#define EDGESEARCH_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct es_tokenizer es_tokenizer;

/*
 * Build a tokenizer from a vocabulary in llama.cpp's phantom-space form
 * (word-start pieces prefixed with U+2581, continuation pieces bare, control
 * tokens such as [CLS] unchanged). tokens[i] points to lens[i] bytes, not
 * NUL-terminated; they must stay valid while the tokenizer lives.
 * Returns NULL and writes a message to err (errcap bytes) on failure.
 */
es_tokenizer *es_tokenizer_new(uint32_t n_vocab, const char *const *tokens,
                               const uint32_t *lens, int32_t unk_id,
                               char *err, size_t errcap);
void es_tokenizer_free(es_tokenizer *t);

/*
 * Word-piece ids of `len` bytes of UTF-8 text, without [CLS]/[SEP]. Writes at
 * most cap ids (and, when offsets is not NULL, 2*cap byte offsets [start,end)
 * into text). Returns the total number of pieces, or -1 when out of memory.
 */
int32_t es_tokenizer_encode(const es_tokenizer *t, const uint8_t *text,
                            uint32_t len, int32_t *ids, int32_t *offsets,
                            int32_t cap);

#endif
