/*
 * BERT encoder loaded from a GGUF file written with llama.cpp's conventions
 * (general.architecture "bert"), run as a sentence embedder: embeddings,
 * encoder layers, mean or [CLS] pooling, L2 normalisation.
 */
#ifndef EDGESEARCH_BERT_H
#define EDGESEARCH_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

enum { POOL_MEAN = 1, POOL_CLS = 2 };

typedef struct {
  float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;
  float *o_w, *o_b, *ln1_w, *ln1_b;
  float *up_w, *up_b, *down_w, *down_b, *ln2_w, *ln2_b;
} bert_layer;

typedef struct {
  uint32_t n_vocab, n_embd, n_ff, n_layer, n_head, n_ctx;
  float eps;
  int pooling;
  int32_t max_tokens; /* in force, [CLS] and [SEP] included */
  int32_t cls_id, sep_id, unk_id, pad_id;
  /* The token table stays in its file type (F32, F16 or Q8_0): a text
   * reads only its own rows, so widening all 30k rows would cost memory
   * (23 MB for MiniLM in F16) and no speed. */
  const uint8_t *tok_embd;
  uint32_t tok_embd_type;
  float *pos_embd, *type0_embd, *embd_ln_w, *embd_ln_b;
  bert_layer *layers;
  int packed;          /* linear weights in es_pack4 layout */
  int vocab_only;      /* loaded by es_load_vocab: no weights */
  int q8;              /* linear weights in es_pack_q8 layout (file was Q8_0) */
  float *arena;        /* every weight, as f32 (linear ones packed int8 when q8) */
  uint8_t *file;       /* the GGUF buffer when weights point into it */
  char *vocab;         /* token text, copied so the file can be freed */
  const char **tok_str;
  uint32_t *tok_len;
  es_tokenizer *tok;
  char name[128];
  const char *weight_type;
  char info[512];
} bert_model;

/*
 * Load a model from a GGUF buffer allocated with malloc. Takes ownership of
 * buf whatever the outcome. Returns NULL with a message in err on failure.
 */
bert_model *bert_load(uint8_t *buf, size_t len, int vocab_only, char *err, size_t errcap);
void bert_free(bert_model *m);

/*
 * Embed n_seq token sequences packed back to back in ids (seq_len[i] ids
 * each, [CLS] and [SEP] included, each at most max_tokens) into
 * n_seq * n_embd floats at out. Returns 0, or -1 with a message.
 */
int bert_embed(const bert_model *m, const int32_t *ids, const int32_t *seq_len,
               int n_seq, float *out, char *err, size_t errcap);

#endif
