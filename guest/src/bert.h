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
  int panels;          /* linear weights in ES_PANEL layout for es_host_matmul */
  uint32_t panel_type; /* their ES_W_F32 or ES_W_F16 */
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
 * One forward pass over n_seq token sequences packed back to back, run a
 * bounded piece at a time: the host's thread is held by a guest call for as
 * long as the call runs (no safe point for its collector, no other work on
 * that core), so a pass is cut into units (the embedding lookup of one
 * sequence; q/k/v, output, up or down projection of 32 rows; one head of
 * one sequence's attention; pooling) that bert_pass_step runs a few at a
 * time. Units split the work only where the result cannot change: rows in
 * whole blocks of the matmul kernels (ES_ROW_BLOCK), attention by sequence
 * and head, so a pass gives the same bits however it is stepped.
 */
typedef struct {
  const bert_model *m;
  const int32_t *ids, *seq_len; /* the caller's, alive for the pass */
  int n_seq;
  size_t M, Lmax;               /* tokens, longest sequence */
  float *x, *qkv, *att, *tmp, *hid, *sc, *vt, *pk;
  float *out;                   /* n_seq * n_embd pooled vectors */
  /* Where the pass stands: a stage (see bert.c) of a layer, and inside
   * it the next row, or the next sequence (with its first token) and head. */
  int stage;
  uint32_t layer;
  size_t row, seq, tok, head;
} bert_pass;

/*
 * Floats of activations a pass over M tokens with sequences of at most
 * Lmax tokens needs, or 0 when that does not fit in memory.
 */
size_t bert_pass_floats(const bert_model *m, size_t M, size_t Lmax);

/*
 * Checks the sequences (seq_len[i] ids each, [CLS] and [SEP] included,
 * each at most n_ctx; ids inside the vocabulary) and sets p up to embed
 * them into n_seq * n_embd floats at out, with activations at mem
 * (bert_pass_floats(m, M, Lmax) floats, M and Lmax of these sequences).
 * Returns 0, or -1 with a message.
 */
int bert_pass_begin(bert_pass *p, const bert_model *m, const int32_t *ids,
                    const int32_t *seq_len, int n_seq, float *mem, size_t mem_floats,
                    float *out, char *err, size_t errcap);

/*
 * Runs units of the pass until about budget multiply-adds are done (at
 * least one unit, however large). Returns 1 while work remains, 0 once the
 * vectors are in out (and on every later call).
 */
int bert_pass_step(bert_pass *p, uint64_t budget);

#endif
