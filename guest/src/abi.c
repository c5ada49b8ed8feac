/*
 * The exported ABI (edgesearch.h). The only state is the loaded model and
 * the text of the last error.
 */
#include "edgesearch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"

static bert_model *model;
static char last_error[512];

/* Tokens per forward pass: bounds activation memory (about 16 MB for a
 * MiniLM-sized model) while keeping matrices tall enough for the kernels. */
enum { TOKEN_BUDGET = 1024 };

static int32_t fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return -1;
}

/* Whether [p, p+n) lies inside linear memory, so a bad pointer from the
 * host is an error rather than a trap. */
static int in_memory(const void *p, uint64_t n) {
  uint64_t size = (uint64_t)__builtin_wasm_memory_size(0) * 65536;
  uint64_t a = (uint64_t)(uintptr_t)p;
  return (n == 0 || a != 0) && a <= size && n <= size - a;
}

void *es_malloc(uint32_t size) { return malloc(size ? size : 1); }

void es_free(void *ptr) { free(ptr); }

const char *es_last_error(void) { return last_error; }

static int32_t load(uint8_t *data, uint32_t len, int vocab_only) {
  last_error[0] = 0;
  /* The old model goes first: linear memory never shrinks, so holding two
   * models at once would raise the high-water mark for good. */
  bert_free(model);
  model = NULL;
  if (!in_memory(data, len)) {
    return fail("load: buffer [%u, +%u) is outside guest memory", (unsigned)(uintptr_t)data,
                len);
  }
  model = bert_load(data, len, vocab_only, last_error, sizeof last_error);
  return model ? 0 : -1;
}

int32_t es_load(uint8_t *data, uint32_t len) { return load(data, len, 0); }

int32_t es_load_vocab(uint8_t *data, uint32_t len) { return load(data, len, 1); }

const char *es_model_info(void) {
  if (!model) return NULL;
  snprintf(model->info, sizeof model->info,
           "{\"architecture\":\"bert\",\"name\":\"%s\",\"n_embedding\":%u,\"n_layer\":%u,"
           "\"n_head\":%u,\"n_ff\":%u,\"n_vocab\":%u,\"n_ctx\":%u,\"max_tokens\":%d,"
           "\"pooling\":\"%s\",\"weight_type\":\"%s\"}",
           model->name, model->n_embd, model->n_layer, model->n_head, model->n_ff,
           model->n_vocab, model->n_ctx, model->max_tokens,
           model->pooling == POOL_CLS ? "cls" : "mean", model->weight_type);
  return model->info;
}

int32_t es_n_embd(void) { return model ? (int32_t)model->n_embd : 0; }

int32_t es_set_max_tokens(int32_t n) {
  if (!model) return 0;
  if (n < 3) n = 3;
  if ((uint32_t)n > model->n_ctx) n = (int32_t)model->n_ctx;
  model->max_tokens = n;
  return n;
}

int32_t es_tokenize(const uint8_t *text, uint32_t len, int32_t *ids, int32_t *offsets,
                    int32_t cap) {
  last_error[0] = 0;
  if (!model) return fail("tokenize: no model loaded");
  if (cap < 0) return fail("tokenize: negative capacity %d", cap);
  if (!in_memory(text, len) || !in_memory(ids, (uint64_t)cap * 4) ||
      (offsets && !in_memory(offsets, (uint64_t)cap * 8)))
    return fail("tokenize: buffer outside guest memory");
  int32_t n = es_tokenizer_encode(model->tok, text, len, ids, offsets, cap);
  if (n < 0) return fail("tokenize: out of memory");
  return n;
}

int32_t es_embed_batch(const uint8_t *texts, const uint32_t *lens, int32_t n, float *out,
                       int32_t *tokens) {
  last_error[0] = 0;
  if (!model) return fail("embed: no model loaded");
  if (model->vocab_only) return fail("embed: only a vocabulary is loaded (es_load_vocab)");
  if (n < 0) return fail("embed: negative text count %d", n);
  if (n == 0) return 0;
  const size_t E = model->n_embd;
  if (!in_memory(lens, (uint64_t)n * 4) || !in_memory(out, (uint64_t)n * E * 4) ||
      (tokens && !in_memory(tokens, (uint64_t)n * 8)))
    return fail("embed: buffer outside guest memory");
  uint64_t total = 0;
  for (int32_t i = 0; i < n; i++) total += lens[i];
  if (!in_memory(texts, total)) return fail("embed: texts outside guest memory");

  const int32_t max = model->max_tokens;
  int32_t *ids = malloc(((size_t)TOKEN_BUDGET + (size_t)max) * sizeof *ids);
  int32_t *seq = malloc((size_t)n * sizeof *seq);
  int32_t rc = 0;
  if (!ids || !seq) {
    rc = fail("embed: out of memory");
    goto done;
  }
  const uint8_t *text = texts;
  for (int32_t i = 0; i < n;) {
    int32_t start = i, used = 0;
    while (i < n && used < TOKEN_BUDGET) {
      /* Keep the first max-2 pieces; [CLS] and [SEP] take the other two. */
      int32_t *row = ids + used;
      int32_t cnt = es_tokenizer_encode(model->tok, text, lens[i], row + 1, NULL, max - 2);
      if (cnt < 0) {
        rc = fail("embed: out of memory tokenizing text %d", i);
        goto done;
      }
      int32_t k = cnt < max - 2 ? cnt : max - 2;
      row[0] = model->cls_id;
      row[k + 1] = model->sep_id;
      seq[i] = k + 2;
      if (tokens) {
        tokens[2 * i] = k + 2;
        tokens[2 * i + 1] = cnt > INT32_MAX - 2 ? INT32_MAX : cnt + 2;
      }
      used += k + 2;
      text += lens[i];
      i++;
    }
    if (bert_embed(model, ids, seq + start, i - start, out + (size_t)start * E, last_error,
                   sizeof last_error)) {
      rc = -1;
      goto done;
    }
  }
done:
  free(ids);
  free(seq);
  return rc;
}
