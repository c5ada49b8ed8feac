#include "bert.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgesearch.h"
#include "gguf.h"
#include "kernels.h"

static int errf(char *err, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
  return -1;
}

/* Largest hyper-parameter we accept: keeps every product of two of them
 * inside uint64 and every buffer size computation exact. */
#define MAX_DIM 1000000

static int get_u32(const gguf_ctx *g, const char *key, int required, uint32_t *out,
                   char *err, size_t cap) {
  const gguf_kv *kv = gguf_find_kv(g, key);
  int64_t v;
  if (!kv) {
    if (required) return errf(err, cap, "model: missing metadata %s", key);
    return 0;
  }
  if (gguf_kv_int(kv, &v) || v < 0 || v > MAX_DIM)
    return errf(err, cap, "model: metadata %s must be an integer in [0, %d]", key, MAX_DIM);
  *out = (uint32_t)v;
  return 0;
}

static int get_id(const gguf_ctx *g, const char *key, uint32_t n_vocab, int32_t *out,
                  char *err, size_t cap) {
  uint32_t v = UINT32_MAX;
  if (get_u32(g, key, 1, &v, err, cap)) return -1;
  if (v >= n_vocab)
    return errf(err, cap, "model: %s is %u, beyond the vocabulary of %u", key, v, n_vocab);
  *out = (int32_t)v;
  return 0;
}

typedef struct {
  const gguf_ctx *g;
  int alias;      /* F32 weights point into the file */
  float *next;    /* next free float in the arena */
  int q8;         /* linear weights are packed for es_matmul_q8 */
  int panels;     /* linear weights are packed for es_host_matmul */
  uint32_t panel_type;
  char *err;
  size_t cap;
} loader;

static void shape_str(char *s, size_t cap, const uint64_t *ne, uint32_t n) {
  int k = snprintf(s, cap, "[");
  for (uint32_t d = 0; d < n && k > 0 && (size_t)k < cap; d++)
    k += snprintf(s + k, cap - k, d ? " %llu" : "%llu", (unsigned long long)ne[d]);
  if (k > 0 && (size_t)k < cap) snprintf(s + k, cap - k, "]");
}

/* How tensor_as stores a tensor: widened to f32, copied in its file type,
 * (a Q8_0 linear weight) packed for es_matmul_q8, or (a linear weight of
 * the host-kernel build) packed in panels for es_host_matmul. */
enum { RAW_NO, RAW_FILE, RAW_Q8, RAW_PANEL };

/* Floats of arena a tensor kept in its file type takes. */
static uint64_t raw_floats(const gguf_tensor *t) { return (t->size + 3) / 4; }

/* Bytes of one block of 32 inputs of an ES_W_Q8 panel: the scales as
 * f32, then 32 steps of ES_PANEL int8. */
enum { Q8_PANEL_BLOCK = ES_PANEL * 4 + Q8_0_BLOCK * ES_PANEL };

/* Floats of arena rows x k weights packed in panels of type wtype take. */
static uint64_t panel_floats(uint64_t rows, uint64_t k, uint32_t wtype) {
  uint64_t panels = (rows + ES_PANEL - 1) / ES_PANEL, n = panels * ES_PANEL * k;
  if (wtype == ES_W_Q8) return panels * (k / Q8_0_BLOCK) * Q8_PANEL_BLOCK / 4;
  return wtype == ES_W_F16 ? (n + 1) / 2 : n;
}

/* Element (r, c) of a 2-D F32, F16 or Q8_0 tensor with rows of k, as f32. */
static float tensor_elem(const gguf_tensor *t, uint64_t r, uint64_t c, uint64_t k) {
  switch (t->type) {
  case GGML_F32: {
    float v;
    memcpy(&v, t->data + (r * k + c) * 4, 4);
    return v;
  }
  case GGML_F16: {
    uint16_t h;
    memcpy(&h, t->data + (r * k + c) * 2, 2);
    return es_f16(h);
  }
  default: { /* Q8_0: gguf_parse checked rows are whole blocks */
    const uint8_t *b = t->data + (r * (k / Q8_0_BLOCK) + c / Q8_0_BLOCK) * Q8_0_BYTES;
    uint16_t h;
    memcpy(&h, b, 2);
    return es_f16(h) * (float)(int8_t)b[2 + c % Q8_0_BLOCK];
  }
  }
}

/*
 * Packs rows x k weights into the panels es_host_matmul reads (see
 * edgesearch.h): F16 stays half precision when wtype is ES_W_F16 (then
 * the tensor is F16), anything else widens to f32.
 */
static void pack_panels(const gguf_tensor *t, uint64_t rows, uint64_t k, uint32_t wtype,
                        void *dst) {
  const uint64_t np = (rows + ES_PANEL - 1) / ES_PANEL;
  if (wtype == ES_W_Q8) {
    /* The tensor is Q8_0 (all_linear checked), rows whole blocks. */
    const uint64_t nb = k / Q8_0_BLOCK;
    uint8_t *d = dst;
    for (uint64_t p = 0; p < np; p++)
      for (uint64_t b = 0; b < nb; b++, d += Q8_PANEL_BLOCK)
        for (uint64_t c = 0; c < ES_PANEL; c++) {
          uint64_t r = p * ES_PANEL + c;
          float scale = 0;
          const uint8_t *src = NULL;
          if (r < rows) {
            src = t->data + (r * nb + b) * Q8_0_BYTES;
            uint16_t h;
            memcpy(&h, src, 2);
            scale = es_f16(h);
          }
          memcpy(d + 4 * c, &scale, 4);
          for (uint64_t s = 0; s < Q8_0_BLOCK; s++)
            d[ES_PANEL * 4 + s * ES_PANEL + c] = src ? src[2 + s] : 0;
        }
    return;
  }
  if (wtype == ES_W_F16) {
    uint16_t *d = dst;
    const uint8_t *src = t->data;
    for (uint64_t p = 0; p < np; p++)
      for (uint64_t c = 0; c < ES_PANEL; c++) {
        uint64_t r = p * ES_PANEL + c;
        uint16_t *o = d + p * ES_PANEL * k + c;
        for (uint64_t i = 0; i < k; i++, o += ES_PANEL) {
          uint16_t h = 0;
          if (r < rows) memcpy(&h, src + (r * k + i) * 2, 2);
          *o = h;
        }
      }
    return;
  }
  float *d = dst;
  for (uint64_t p = 0; p < np; p++)
    for (uint64_t c = 0; c < ES_PANEL; c++) {
      uint64_t r = p * ES_PANEL + c;
      float *o = d + p * ES_PANEL * k + c;
      for (uint64_t i = 0; i < k; i++, o += ES_PANEL) *o = r < rows ? tensor_elem(t, r, i, k) : 0;
    }
}

/*
 * Finds, checks and converts one tensor. ne1 == 0 means a vector of ne0.
 * Returns NULL with err set when the tensor is missing (and required) or
 * misshapen; with err empty when it is optional and absent. With raw set
 * the tensor is copied in its file type (F32, F16 or Q8_0) instead of
 * widened to f32.
 */
static float *tensor_as(loader *L, const char *name, uint64_t ne0, uint64_t ne1, int required,
                        int raw) {
  const gguf_tensor *t = gguf_find_tensor(L->g, name);
  L->err[0] = 0;
  if (!t) {
    if (required) errf(L->err, L->cap, "model: missing tensor %s", name);
    return NULL;
  }
  uint64_t want[2] = {ne0, ne1};
  uint32_t wn = ne1 ? 2 : 1;
  int ok = t->ne[0] == ne0 && t->ne[1] == (ne1 ? ne1 : 1) && t->ne[2] == 1 && t->ne[3] == 1;
  if (!ok) {
    char have[96], w[64];
    uint32_t hn = t->n_dims;
    while (hn > 1 && t->ne[hn - 1] == 1) hn--;
    shape_str(have, sizeof have, t->ne, hn ? hn : 1);
    shape_str(w, sizeof w, want, wn);
    errf(L->err, L->cap, "model: tensor %s has shape %s, want %s", name, have, w);
    return NULL;
  }
  size_t n = (size_t)t->n_elem;
  if (L->alias) return (float *)t->data;
  float *dst = L->next;
  if (raw == RAW_PANEL) {
    pack_panels(t, ne1, ne0, L->panel_type, dst);
    L->next += panel_floats(ne1, ne0, L->panel_type);
    return dst;
  }
  if (raw == RAW_Q8) {
    es_pack_q8(t->data, (int)ne1, (int)ne0, (uint8_t *)dst);
    L->next += ES_Q8_PACKED_BYTES(ne1, ne0) / 4;
    return dst;
  }
  if (raw) {
    memcpy(dst, t->data, (size_t)t->size);
    L->next += raw_floats(t);
    return dst;
  }
  L->next += n;
  switch (t->type) {
  case GGML_F32: memcpy(dst, t->data, n * 4); break;
  case GGML_F16:
    /* F16 is widened once here rather than per matmul: converting a panel
     * inside the matmul measured 1.1x slower for 128 rows and 1.8x slower
     * for an 8-token query, at half the memory. */
    es_f16_to_f32((const uint16_t *)t->data, dst, n);
    break;
  case GGML_Q8_0: {
    const uint8_t *b = t->data;
    for (size_t i = 0; i < n; i += Q8_0_BLOCK, b += Q8_0_BYTES) {
      uint16_t h;
      memcpy(&h, b, 2);
      float d = es_f16(h);
      for (int j = 0; j < Q8_0_BLOCK; j++) dst[i + j] = d * (float)(int8_t)b[2 + j];
    }
    break;
  }
  }
  return dst;
}

static float *tensor(loader *L, const char *name, uint64_t ne0, uint64_t ne1, int required) {
  return tensor_as(L, name, ne0, ne1, required, RAW_NO);
}

/* Names of the per-block tensors, in bert_layer field order (weight, bias). */
static const char *const block_parts[] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "attn_output_norm",
    "ffn_up", "ffn_down", "layer_output_norm",
};

/* Whether every linear weight has type type. */
static int all_linear(const gguf_ctx *g, const bert_model *m, uint32_t type) {
  static const int linear[6] = {0, 1, 2, 3, 5, 6};
  char name[64];
  for (uint32_t l = 0; l < m->n_layer; l++)
    for (int p = 0; p < 6; p++) {
      snprintf(name, sizeof name, "blk.%u.%s.weight", l, block_parts[linear[p]]);
      const gguf_tensor *t = gguf_find_tensor(g, name);
      if (!t || t->type != type) return 0;
    }
  return 1;
}

#ifndef ES_HOST_KERNELS
/*
 * Whether every linear weight is Q8_0 with widths the q8 kernels take (rows
 * a multiple of four; Q8_0 rows are whole blocks of 32 already). Then they
 * stay int8 and the matmuls run in integers; a mix of types, which no
 * converter we know writes, takes the f32 path.
 */
static int all_linear_q8(const gguf_ctx *g, const bert_model *m) {
  if (m->n_embd % 4 || m->n_ff % 4) return 0;
  return all_linear(g, m, GGML_Q8_0);
}
#endif

/* Floats the arena needs: every tensor the model uses. */
static void count_floats(const gguf_ctx *g, const bert_model *m, int q8, uint64_t *total,
                         int *all_f32) {
  /* m->panels and m->panel_type are set; q8 excludes panels. */
  static const char *const top[] = {"token_embd.weight", "token_types.weight",
                                    "position_embd.weight", "token_embd_norm.weight",
                                    "token_embd_norm.bias"};
  *total = 0;
  *all_f32 = 1;
  char name[64];
  for (uint32_t i = 0; i < 5 + m->n_layer * 16; i++) {
    const char *nm = name;
    if (i < 5) nm = top[i];
    else {
      uint32_t k = i - 5;
      snprintf(name, sizeof name, "blk.%u.%s.%s", k / 16, block_parts[k % 16 / 2],
               k % 2 ? "bias" : "weight");
    }
    const gguf_tensor *t = gguf_find_tensor(g, nm);
    if (!t) continue; /* reported by tensor() when required */
    /* Past the first five, i - 5 runs over (weight, bias) of each part
     * of block_parts; parts 4 and 7 are the norms. */
    uint32_t k = i < 5 ? 1 : i - 5, part = k % 16 / 2;
    if (i == 0)
      *total += raw_floats(t); /* the token table stays raw */
    else if (q8 && k % 2 == 0 && part != 4 && part != 7) /* a linear weight */
      *total += ES_Q8_PACKED_BYTES(t->ne[1], t->ne[0]) / 4;
    else if (m->panels && k % 2 == 0 && part != 4 && part != 7)
      *total += panel_floats(t->ne[1], t->ne[0], m->panel_type);
    else
      *total += t->n_elem;
    if (t->type != GGML_F32) *all_f32 = 0;
  }
}

static int load_weights(loader *L, bert_model *m) {
  uint32_t E = m->n_embd, F = m->n_ff;
  const gguf_tensor *tt = gguf_find_tensor(L->g, "token_types.weight");
  uint64_t n_types = tt && tt->ne[1] >= 1 ? tt->ne[1] : 1;
  if (!(m->tok_embd =
            (const uint8_t *)tensor_as(L, "token_embd.weight", E, m->n_vocab, 1, RAW_FILE)))
    return -1;
  m->tok_embd_type = gguf_find_tensor(L->g, "token_embd.weight")->type;
  if (!(m->type0_embd = tensor(L, "token_types.weight", E, n_types, 1))) return -1;
  if (!(m->pos_embd = tensor(L, "position_embd.weight", E, m->n_ctx, 1))) return -1;
  if (!(m->embd_ln_w = tensor(L, "token_embd_norm.weight", E, 0, 1))) return -1;
  if (!(m->embd_ln_b = tensor(L, "token_embd_norm.bias", E, 0, 1))) return -1;
  for (uint32_t l = 0; l < m->n_layer; l++) {
    bert_layer *ly = &m->layers[l];
    float **w[8] = {&ly->q_w, &ly->k_w, &ly->v_w, &ly->o_w, &ly->ln1_w, &ly->up_w,
                    &ly->down_w, &ly->ln2_w};
    float **b[8] = {&ly->q_b, &ly->k_b, &ly->v_b, &ly->o_b, &ly->ln1_b, &ly->up_b,
                    &ly->down_b, &ly->ln2_b};
    /* ne0 is the input width, ne1 the output width; norms are vectors.
     * Weights first, then biases, so that q, k and v lie back to back
     * in the arena, weights and biases (linear_qkv uses that). */
    uint64_t in[8] = {E, E, E, E, E, E, F, E}, out[8] = {E, E, E, E, 0, F, E, 0};
    char name[64];
    for (int p = 0; p < 8; p++) {
      snprintf(name, sizeof name, "blk.%u.%s.weight", l, block_parts[p]);
      int raw = !out[p] ? RAW_NO : L->q8 ? RAW_Q8 : L->panels ? RAW_PANEL : RAW_NO;
      if (!(*w[p] = tensor_as(L, name, in[p], out[p], 1, raw))) return -1;
    }
    for (int p = 0; p < 8; p++) {
      snprintf(name, sizeof name, "blk.%u.%s.bias", l, block_parts[p]);
      /* Linear biases are optional (some BERT variants drop them); a norm
       * without its bias is not a layer norm we know. */
      *b[p] = tensor(L, name, out[p] ? out[p] : in[p], 0, out[p] == 0);
      if (!*b[p] && L->err[0]) return -1;
    }
  }
  return 0;
}

/*
 * Rewrites every linear weight in place into the es_pack4 layout, with
 * which the matmul ran 1.3x faster (batches) and 1.25x (a 10-token query)
 * under wazero. Widths that are not multiples of four (no BERT we know)
 * stay row-major and use es_matmul.
 */
static int pack_weights(bert_model *m) {
  size_t E = m->n_embd, F = m->n_ff;
  if (E % 4 || F % 4) return 0;
  float *tmp = malloc(E * F * sizeof(float));
  if (!tmp) return -1;
  for (uint32_t l = 0; l < m->n_layer; l++) {
    bert_layer *ly = &m->layers[l];
    float *w[6] = {ly->q_w, ly->k_w, ly->v_w, ly->o_w, ly->up_w, ly->down_w};
    size_t rows[6] = {E, E, E, E, F, E}, k[6] = {E, E, E, E, E, F};
    for (int p = 0; p < 6; p++) {
      memcpy(tmp, w[p], rows[p] * k[p] * sizeof(float));
      es_pack4(tmp, k[p], (int)rows[p], (int)k[p], w[p]);
    }
  }
  free(tmp);
  m->packed = 1;
  return 0;
}

static void json_str(char *dst, size_t cap, const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 8 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') dst[k++] = '\\', dst[k++] = (char)c;
    else if (c < 0x20) k += (size_t)snprintf(dst + k, cap - k, "\\u%04x", c);
    else dst[k++] = (char)c;
  }
  dst[k] = 0;
}

bert_model *bert_load(uint8_t *buf, size_t len, int vocab_only, char *err, size_t cap) {
  gguf_ctx g;
  bert_model *m = NULL;
  int all_f32 = 0;
  if (gguf_parse(&g, buf, len, err, cap)) {
    free(buf);
    return NULL;
  }
  m = calloc(1, sizeof *m);
  if (!m) {
    errf(err, cap, "model: out of memory");
    goto fail;
  }
  const gguf_kv *arch = gguf_find_kv(&g, "general.architecture");
  if (!arch || arch->type != GGUF_STRING) {
    errf(err, cap, "model: missing general.architecture");
    goto fail;
  }
  if (arch->val_len != 4 || memcmp(arch->val, "bert", 4) != 0) {
    errf(err, cap, "model: architecture \"%.*s\" is not supported (want bert)",
         (int)(arch->val_len > 64 ? 64 : arch->val_len), (const char *)arch->val);
    goto fail;
  }
  if (get_u32(&g, "bert.context_length", 1, &m->n_ctx, err, cap) ||
      get_u32(&g, "bert.embedding_length", 1, &m->n_embd, err, cap) ||
      get_u32(&g, "bert.feed_forward_length", 1, &m->n_ff, err, cap) ||
      get_u32(&g, "bert.block_count", 1, &m->n_layer, err, cap) ||
      get_u32(&g, "bert.attention.head_count", 1, &m->n_head, err, cap))
    goto fail;
  if (m->n_ctx < 3 || !m->n_embd || !m->n_ff || !m->n_layer || m->n_layer > 1000 ||
      !m->n_head || m->n_embd % m->n_head) {
    errf(err, cap, "model: inconsistent sizes (context %u, embedding %u, ff %u, %u blocks, %u heads)",
         m->n_ctx, m->n_embd, m->n_ff, m->n_layer, m->n_head);
    goto fail;
  }
  const gguf_kv *kv = gguf_find_kv(&g, "bert.attention.layer_norm_epsilon");
  double eps;
  if (!kv || gguf_kv_float(kv, &eps) || !(eps > 0 && eps < 1)) {
    errf(err, cap, "model: bert.attention.layer_norm_epsilon missing or not a float in (0, 1)");
    goto fail;
  }
  m->eps = (float)eps;
  uint32_t pool = POOL_MEAN;
  if (get_u32(&g, "bert.pooling_type", 0, &pool, err, cap)) goto fail;
  if (pool != POOL_MEAN && pool != POOL_CLS) {
    errf(err, cap, "model: bert.pooling_type %u is not supported (1 mean or 2 cls)", pool);
    goto fail;
  }
  m->pooling = (int)pool;
  uint32_t max = m->n_ctx;
  if (get_u32(&g, "edgesearch.max_seq_length", 0, &max, err, cap)) goto fail;
  m->max_tokens = (int32_t)(max < 3 ? 3 : max > m->n_ctx ? m->n_ctx : max);

  const gguf_kv *toks = gguf_find_kv(&g, "tokenizer.ggml.tokens");
  if (!toks || toks->type != GGUF_ARRAY || toks->arr_type != GGUF_STRING || toks->arr_n == 0 ||
      toks->arr_n > MAX_DIM) {
    errf(err, cap, "model: tokenizer.ggml.tokens missing or not an array of strings");
    goto fail;
  }
  m->n_vocab = (uint32_t)toks->arr_n;
  /* llama.cpp's converter writes [CLS] as bos_token_id (and older ones as
   * cls_token_id); [SEP] as seperator_token_id (sic), with eos as well. */
  const char *cls_key = gguf_find_kv(&g, "tokenizer.ggml.cls_token_id")
                            ? "tokenizer.ggml.cls_token_id"
                            : "tokenizer.ggml.bos_token_id";
  const char *sep_key = gguf_find_kv(&g, "tokenizer.ggml.seperator_token_id")
                            ? "tokenizer.ggml.seperator_token_id"
                            : "tokenizer.ggml.eos_token_id";
  if (get_id(&g, cls_key, m->n_vocab, &m->cls_id, err, cap) ||
      get_id(&g, sep_key, m->n_vocab, &m->sep_id, err, cap) ||
      get_id(&g, "tokenizer.ggml.unknown_token_id", m->n_vocab, &m->unk_id, err, cap))
    goto fail;
  m->pad_id = -1;
  if (gguf_find_kv(&g, "tokenizer.ggml.padding_token_id") &&
      get_id(&g, "tokenizer.ggml.padding_token_id", m->n_vocab, &m->pad_id, err, cap))
    goto fail;

  /* Vocabulary text is copied so that the file buffer can go once the
   * weights are converted. */
  m->tok_str = malloc(m->n_vocab * sizeof *m->tok_str);
  m->tok_len = malloc(m->n_vocab * sizeof *m->tok_len);
  if (!m->tok_str || !m->tok_len) {
    errf(err, cap, "model: out of memory for the vocabulary");
    goto fail;
  }
  gguf_kv_array_strs(toks, m->tok_str, m->tok_len);
  size_t vbytes = 0;
  for (uint32_t i = 0; i < m->n_vocab; i++) vbytes += m->tok_len[i];
  m->vocab = malloc(vbytes ? vbytes : 1);
  if (!m->vocab) {
    errf(err, cap, "model: out of memory for the vocabulary");
    goto fail;
  }
  for (size_t i = 0, off = 0; i < m->n_vocab; off += m->tok_len[i], i++) {
    memcpy(m->vocab + off, m->tok_str[i], m->tok_len[i]);
    m->tok_str[i] = m->vocab + off;
  }

  m->vocab_only = vocab_only;
  if (vocab_only) {
    m->weight_type = "none";
    goto named;
  }
  m->layers = calloc(m->n_layer, sizeof *m->layers);
  if (!m->layers) {
    errf(err, cap, "model: out of memory");
    goto fail;
  }
  uint64_t total;
#ifdef ES_HOST_KERNELS
  /* The host's kernels take every linear weight, F16 and Q8_0 ones as
   * they are (Q8_0 rows are whole blocks of 32), others as f32. */
  m->panels = 1;
  m->panel_type = all_linear(&g, m, GGML_F16)    ? ES_W_F16
                  : all_linear(&g, m, GGML_Q8_0) ? ES_W_Q8
                                                 : ES_W_F32;
#else
  m->q8 = all_linear_q8(&g, m);
#endif
  count_floats(&g, m, m->q8, &total, &all_f32);
  if (m->panels) all_f32 = 0; /* panels are copies: nothing points into the file */
  loader L = {&g, all_f32, NULL, m->q8, m->panels, m->panel_type, err, cap};
  if (!all_f32) {
    if (total > (SIZE_MAX - 64) / 4 || !(m->arena = malloc((size_t)total * 4))) {
      errf(err, cap, "model: out of memory for %llu weights", (unsigned long long)total);
      goto fail;
    }
    L.next = m->arena;
  }
  if (load_weights(&L, m)) goto fail;
  if (!m->q8 && !m->panels && pack_weights(m)) {
    errf(err, cap, "model: out of memory packing weights");
    goto fail;
  }
  const gguf_tensor *up = gguf_find_tensor(&g, "blk.0.ffn_up.weight");
  m->weight_type = gguf_type_name(up->type);
named:;
  const gguf_kv *nm = gguf_find_kv(&g, "general.name");
  if (nm && nm->type == GGUF_STRING)
    json_str(m->name, sizeof m->name, (const char *)nm->val, (size_t)nm->val_len);

  m->tok = es_tokenizer_new(m->n_vocab, m->tok_str, m->tok_len, m->unk_id, err, cap);
  if (!m->tok) goto fail;
  gguf_free(&g);
  if (all_f32) m->file = buf;
  else free(buf);
  return m;
fail:
  gguf_free(&g);
  free(buf);
  if (m) m->file = NULL, bert_free(m);
  return NULL;
}

void bert_free(bert_model *m) {
  if (!m) return;
  if (m->tok) es_tokenizer_free(m->tok);
  free(m->layers);
  free(m->arena);
  free(m->file);
  free(m->vocab);
  free(m->tok_str);
  free(m->tok_len);
  free(m);
}

/* Row id of the token table, widened to f32. */
static void token_row(const bert_model *m, int32_t id, float *dst) {
  const size_t E = m->n_embd;
  switch (m->tok_embd_type) {
  case GGML_F32: memcpy(dst, m->tok_embd + (size_t)id * E * 4, E * 4); break;
  case GGML_F16: es_f16_to_f32((const uint16_t *)m->tok_embd + (size_t)id * E, dst, E); break;
  case GGML_Q8_0: {
    /* gguf_parse checked that rows are whole blocks. */
    const uint8_t *b = m->tok_embd + (size_t)id * (E / Q8_0_BLOCK) * Q8_0_BYTES;
    for (size_t i = 0; i < E; i += Q8_0_BLOCK, b += Q8_0_BYTES) {
      uint16_t h;
      memcpy(&h, b, 2);
      float d = es_f16(h);
      for (int j = 0; j < Q8_0_BLOCK; j++) dst[i + (size_t)j] = d * (float)(int8_t)b[2 + j];
    }
    break;
  }
  }
}

/* The stages of a pass, in order; the layer ones repeat per layer. */
enum { ST_EMBED, ST_QKV, ST_ATTN, ST_OUT, ST_UP, ST_DOWN, ST_POOL, ST_DONE };

size_t bert_pass_floats(const bert_model *m, size_t M, size_t Lmax) {
  /* x, q|k|v, attention output, a scratch row block, the feed-forward
   * hidden layer, one head's scores, a transposed V slice, the matmuls'
   * packing scratch. Counted in 64 bits: size_t is 32 in wasm32. */
  uint64_t E = m->n_embd, F = m->n_ff, D = E / m->n_head, KW = F > E ? F : E;
  uint64_t nscratch = m->q8 ? (ES_Q8_SCRATCH(KW) + 3) / 4 : ES_PACK_SCRATCH(KW);
  uint64_t nf = M * E * 6 + M * F + Lmax * Lmax + D * Lmax + nscratch;
  return nf > SIZE_MAX / sizeof(float) ? 0 : (size_t)nf;
}

int bert_pass_begin(bert_pass *p, const bert_model *m, const int32_t *ids,
                    const int32_t *seq_len, int n_seq, float *mem, size_t mem_floats,
                    float *out, char *err, size_t cap) {
  size_t M = 0, Lmax = 0;
  for (int s = 0; s < n_seq; s++) {
    if (seq_len[s] < 1 || seq_len[s] > (int32_t)m->n_ctx)
      return errf(err, cap, "embed: sequence %d has %d tokens (want 1 to %u)", s, seq_len[s],
                  m->n_ctx);
    M += (size_t)seq_len[s];
    if ((size_t)seq_len[s] > Lmax) Lmax = (size_t)seq_len[s];
  }
  for (size_t i = 0; i < M; i++)
    if (ids[i] < 0 || (uint32_t)ids[i] >= m->n_vocab)
      return errf(err, cap, "embed: token id %d outside the vocabulary", ids[i]);
  size_t nf = bert_pass_floats(m, M, Lmax);
  if (!nf || nf > mem_floats)
    return errf(err, cap, "embed: %zu tokens need %zu floats of activations, have %zu", M, nf,
                mem_floats);
  const size_t E = m->n_embd, F = m->n_ff, D = E / m->n_head;
  memset(p, 0, sizeof *p);
  p->m = m, p->ids = ids, p->seq_len = seq_len, p->n_seq = n_seq, p->M = M, p->Lmax = Lmax;
  p->out = out;
  p->x = mem, p->qkv = p->x + M * E, p->att = p->qkv + 3 * M * E, p->tmp = p->att + M * E;
  p->hid = p->tmp + M * E, p->sc = p->hid + M * F, p->vt = p->sc + Lmax * Lmax;
  p->pk = p->vt + D * Lmax;
  p->stage = n_seq > 0 ? ST_EMBED : ST_DONE;
  return 0;
}

/* y = x w^T + b for rows rows of x: the host's, q8, packed or plain kernel. */
static void linear(const bert_pass *p, const float *x, size_t ldx, const float *w,
                   const float *b, float *y, size_t ldy, size_t rows, size_t n, size_t k) {
  const bert_model *m = p->m;
#ifdef ES_HOST_KERNELS
  if (m->panels) {
    es_host_matmul(x, (uint32_t)ldx, w, m->panel_type, b, y, (uint32_t)ldy, (int32_t)rows,
                   (int32_t)n, (int32_t)k);
    return;
  }
#endif
  if (m->q8)
    es_matmul_q8(x, ldx, (const uint8_t *)w, b, y, ldy, (int)rows, (int)n, (int)k,
                 (uint8_t *)p->pk);
  else if (m->packed)
    es_matmul_packed(x, ldx, w, b, y, ldy, (int)rows, (int)n, (int)k, p->pk);
  else
    es_matmul(x, ldx, w, k, b, y, ldy, (int)rows, (int)n, (int)k);
}

/* x += tmp for rows rows from r0, then layer-normalise them: the residual
 * connection closing the attention and the feed-forward halves of a layer. */
static void add_norm(const bert_pass *p, size_t r0, size_t rows, const float *w, const float *b) {
  const size_t E = p->m->n_embd;
  es_add(p->x + r0 * E, p->tmp + r0 * E, rows * E);
  for (size_t i = r0; i < r0 + rows; i++) es_layer_norm(p->x + i * E, (int)E, w, b, p->m->eps);
}

/* The embedding lookup of one sequence starting at token i0. */
static void embed_seq(const bert_pass *p, size_t i0, int32_t L) {
  const bert_model *m = p->m;
  const size_t E = m->n_embd;
  for (int32_t t = 0; t < L; t++) {
    float *xi = p->x + (i0 + (size_t)t) * E;
    const float *pe = m->pos_embd + (size_t)t * E;
    token_row(m, p->ids[i0 + (size_t)t], xi);
    for (size_t j = 0; j < E; j++) xi[j] += pe[j] + m->type0_embd[j];
    es_layer_norm(xi, (int)E, m->embd_ln_w, m->embd_ln_b, m->eps);
  }
}

/* Head h of the self-attention of one sequence of L tokens starting at
 * token i0. Attention is per sequence: packed sequences never see each
 * other, so no mask and no padding. */
static void attend(const bert_pass *p, size_t i0, int L, size_t h) {
  const bert_model *m = p->m;
  const size_t E = m->n_embd, D = E / m->n_head;
  const float scale = 1.0f / sqrtf((float)D);
  const float *base = p->qkv + i0 * 3 * E;
  const float *q = base + h * D, *k = base + E + h * D, *v = base + 2 * E + h * D;
  float *sc = p->sc, *vt = p->vt;
#ifdef ES_HOST_KERNELS
  /* Both products on the host, which packs k and v itself: with the
   * linear layers there, the guest's attention was 28% of a batch. */
  es_host_matmul_rows(q, (uint32_t)(3 * E), k, (uint32_t)(3 * E), ES_W_ROWS_N, NULL, sc,
                      (uint32_t)L, L, L, (int32_t)D);
  for (int r = 0; r < L; r++) es_softmax(sc + (size_t)r * L, L, scale);
  es_host_matmul_rows(sc, (uint32_t)L, v, (uint32_t)(3 * E), ES_W_ROWS_K, NULL,
                      p->att + i0 * E + h * D, (uint32_t)E, L, (int32_t)D, L);
  (void)vt;
  return;
#endif
  es_matmul(q, 3 * E, k, 3 * E, NULL, sc, (size_t)L, L, L, (int)D);
  for (int r = 0; r < L; r++) es_softmax(sc + (size_t)r * L, L, scale);
  for (int r = 0; r < L; r++)
    for (size_t c = 0; c < D; c++) vt[c * (size_t)L + r] = v[(size_t)r * 3 * E + c];
  es_matmul(sc, (size_t)L, vt, (size_t)L, NULL, p->att + i0 * E + h * D, E, L, (int)D, L);
}

/* Mean or [CLS] pooling of every sequence, L2 normalised, into out. */
static void pool(const bert_pass *p) {
  const bert_model *m = p->m;
  const size_t E = m->n_embd;
  for (size_t s = 0, i0 = 0; s < (size_t)p->n_seq; i0 += (size_t)p->seq_len[s], s++) {
    float *o = p->out + s * E;
    if (m->pooling == POOL_CLS) {
      memcpy(o, p->x + i0 * E, E * sizeof(float));
    } else {
      memset(o, 0, E * sizeof(float));
      for (int32_t t = 0; t < p->seq_len[s]; t++) es_add(o, p->x + (i0 + (size_t)t) * E, E);
      es_scale(o, E, 1.0f / (float)p->seq_len[s]);
    }
    float n2 = es_dot(o, o, (int)E);
    /* sentence-transformers' Normalize clamps the norm at 1e-12. */
    float norm = sqrtf(n2);
    es_scale(o, E, 1.0f / (norm > 1e-12f ? norm : 1e-12f));
  }
}

/* Cost, in multiply-adds, of the attention of one head over L tokens: the
 * two products, plus the softmax's exponentials, each counted as the 16
 * multiply-adds they measured about equal to. */
static uint64_t attend_cost(size_t L, size_t D) { return (uint64_t)L * L * (2 * D + 16); }

/* Rows of a matmul unit on the host's kernels: measured on the 2-core
 * EPYC with batches of 32 sentences. */
#ifndef HOST_ROW_BLOCK
#define HOST_ROW_BLOCK 128
#endif

/* Whether q, k and v of ly are panels back to back (load_weights puts
 * them so) with their biases back to back or all absent. */
static int qkv_fused(const bert_model *m, const bert_layer *ly) {
  const size_t E = m->n_embd;
  if (!m->panels || E % ES_PANEL) return 0;
  const size_t wf = (size_t)panel_floats(E, E, m->panel_type);
  if (ly->k_w != ly->q_w + wf || ly->v_w != ly->k_w + wf) return 0;
  if (!ly->q_b && !ly->k_b && !ly->v_b) return 1;
  return ly->q_b && ly->k_b == ly->q_b + E && ly->v_b == ly->k_b + E;
}

/*
 * Runs the next unit of the pass and returns its cost in multiply-adds, or
 * with peek set returns the cost without running it. Row units are whole
 * ES_ROW_BLOCKs counted from the first row, as the kernels would have cut
 * them in one call over every row, so each row's result is the same.
 */
static uint64_t unit(bert_pass *p, int peek) {
  const bert_model *m = p->m;
  const size_t E = m->n_embd, F = m->n_ff, H = m->n_head, D = E / H, M = p->M;
  /* The host's kernels compute each row alike however many come at once,
   * so their units may be taller: fewer calls, and each layer's weights
   * stream past more rows at a time. */
  const size_t block = m->panels ? HOST_ROW_BLOCK : ES_ROW_BLOCK;
  const size_t r0 = p->row, rows = M - r0 < block ? M - r0 : block;
  const bert_layer *ly = &m->layers[p->layer];
  uint64_t cost = 0;
  switch (p->stage) {
  case ST_EMBED: {
    const int32_t L = p->seq_len[p->seq];
    cost = (uint64_t)L * E * 8;
    if (peek) return cost;
    embed_seq(p, p->tok, L);
    break;
  }
  case ST_QKV:
    cost = (uint64_t)rows * 3 * E * E;
    if (peek) return cost;
    if (qkv_fused(m, ly)) {
      /* One call for the three: the panels of q, k and v back to back
       * are the panels of their concatenation. */
      linear(p, p->x + r0 * E, E, ly->q_w, ly->q_b, p->qkv + r0 * 3 * E, 3 * E, rows, 3 * E, E);
      break;
    }
    for (int j = 0; j < 3; j++) {
      const float *w = j == 0 ? ly->q_w : j == 1 ? ly->k_w : ly->v_w;
      const float *b = j == 0 ? ly->q_b : j == 1 ? ly->k_b : ly->v_b;
      linear(p, p->x + r0 * E, E, w, b, p->qkv + r0 * 3 * E + (size_t)j * E, 3 * E, rows, E, E);
    }
    break;
  case ST_ATTN: {
    const int32_t L = p->seq_len[p->seq];
    cost = attend_cost((size_t)L, D);
    if (peek) return cost;
    attend(p, p->tok, L, p->head);
    break;
  }
  case ST_OUT:
    cost = (uint64_t)rows * E * E;
    if (peek) return cost;
    linear(p, p->att + r0 * E, E, ly->o_w, ly->o_b, p->tmp + r0 * E, E, rows, E, E);
    add_norm(p, r0, rows, ly->ln1_w, ly->ln1_b);
    break;
  case ST_UP:
    cost = (uint64_t)rows * E * F;
    if (peek) return cost;
    linear(p, p->x + r0 * E, E, ly->up_w, ly->up_b, p->hid + r0 * F, F, rows, F, E);
    es_gelu(p->hid + r0 * F, rows * F);
    break;
  case ST_DOWN:
    cost = (uint64_t)rows * E * F;
    if (peek) return cost;
    linear(p, p->hid + r0 * F, F, ly->down_w, ly->down_b, p->tmp + r0 * E, E, rows, E, F);
    add_norm(p, r0, rows, ly->ln2_w, ly->ln2_b);
    break;
  case ST_POOL:
    cost = (uint64_t)M * E * 2;
    if (peek) return cost;
    pool(p);
    break;
  default: return 0;
  }
  /* Advance to the next unit. */
  switch (p->stage) {
  case ST_EMBED:
  case ST_ATTN:
    if (p->stage == ST_ATTN && ++p->head < H) break;
    p->head = 0;
    p->tok += (size_t)p->seq_len[p->seq];
    if (++p->seq < (size_t)p->n_seq) break;
    p->seq = 0, p->tok = 0;
    p->stage = p->stage == ST_EMBED ? ST_QKV : ST_OUT;
    break;
  case ST_QKV:
  case ST_OUT:
  case ST_UP:
  case ST_DOWN:
    if ((p->row += rows) < M) break;
    p->row = 0;
    if (p->stage != ST_DOWN) {
      p->stage = p->stage == ST_QKV ? ST_ATTN : p->stage + 1;
      break;
    }
    p->stage = ++p->layer < m->n_layer ? ST_QKV : ST_POOL;
    break;
  case ST_POOL: p->stage = ST_DONE; break;
  }
  return cost;
}

int bert_pass_step(bert_pass *p, uint64_t budget) {
  uint64_t spent = 0;
  while (p->stage != ST_DONE) {
    uint64_t next = unit(p, 1);
    if (spent > 0 && spent + next > budget) break;
    spent += unit(p, 0);
  }
  return p->stage != ST_DONE;
}
