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

/* Multiply-adds one es_job_step runs (more only when one unit of work is
 * larger): about 5 ms of f16 MiniLM work on the 2-core x86-64 machine the
 * project is measured on, so a step holds its host thread for a few
 * milliseconds even on a busy machine, while the per-call overhead (about
 * a microsecond) stays far below 1% of it. */
#define STEP_BUDGET ((uint64_t)48 << 20)

/* Live jobs at once: a host that leaks handles gets an error, not a guest
 * that fills its memory. */
enum { MAX_JOBS = 64 };

/*
 * A batch being embedded (es_job_start): every text tokenized up front,
 * then forward passes over groups of texts of at most TOKEN_BUDGET tokens,
 * one at a time, reusing one activation buffer sized for the largest.
 */
typedef struct job {
  struct job *next; /* the list of live jobs */
  int32_t handle;
  int32_t n;        /* texts */
  int32_t *ids;     /* each text's tokens, [CLS] and [SEP] included, back to back */
  int32_t *seq;     /* tokens of each text */
  float *out;       /* n * n_embd vectors */
  float *mem;       /* activations */
  size_t mem_floats;
  int32_t first, end; /* texts of the pass in progress: [first, end) */
  size_t tok;         /* index in ids of text first */
  int done;
  bert_pass pass;
} job;

/* Jobs belong to the loaded model: es_load frees them with it. */
static job *jobs;
static int32_t n_jobs, last_handle;

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

static void job_free(job *j) {
  if (!j) return;
  free(j->ids);
  free(j->seq);
  free(j->out);
  free(j->mem);
  free(j);
}

static void free_jobs(void) {
  while (jobs) {
    job *j = jobs;
    jobs = j->next;
    job_free(j);
  }
  n_jobs = 0;
}

static job *find_job(int32_t handle) {
  for (job *j = jobs; j; j = j->next)
    if (j->handle == handle) return j;
  return NULL;
}

static int32_t load(uint8_t *data, uint32_t len, int vocab_only) {
  last_error[0] = 0;
  /* The old model goes first: linear memory never shrinks, so holding two
   * models at once would raise the high-water mark for good. */
  free_jobs();
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

/* The end of the group of texts that starts at text first: texts are
 * added while the group has fewer than TOKEN_BUDGET tokens. */
static int32_t group_end(const job *j, int32_t first) {
  int32_t i = first, used = 0;
  while (i < j->n && used < TOKEN_BUDGET) used += j->seq[i++];
  return i;
}

/* Sets up the forward pass over the group of texts starting at j->first. */
static int begin_group(job *j) {
  j->end = group_end(j, j->first);
  return bert_pass_begin(&j->pass, model, j->ids + j->tok, j->seq + j->first,
                         j->end - j->first, j->mem, j->mem_floats,
                         j->out + (size_t)j->first * model->n_embd, last_error,
                         sizeof last_error);
}

int32_t es_job_start(const uint8_t *texts, const uint32_t *lens, int32_t n, int32_t *tokens) {
  last_error[0] = 0;
  if (!model) return fail("embed: no model loaded");
  if (model->vocab_only) return fail("embed: only a vocabulary is loaded (es_load_vocab)");
  if (n < 0) return fail("embed: negative text count %d", n);
  if (!in_memory(lens, (uint64_t)n * 4) || (tokens && !in_memory(tokens, (uint64_t)n * 8)))
    return fail("embed: buffer outside guest memory");
  uint64_t total = 0;
  for (int32_t i = 0; i < n; i++) total += lens[i];
  if (!in_memory(texts, total)) return fail("embed: texts outside guest memory");
  if (n_jobs >= MAX_JOBS)
    return fail("embed: %d jobs are live; finish or cancel one first", n_jobs);

  const size_t E = model->n_embd;
  const int32_t max = model->max_tokens;
  job *j = calloc(1, sizeof *j);
  /* Sizes in 64 bits: n comes from the host and size_t is 32 in wasm32. */
  uint64_t nids = (uint64_t)n * (uint64_t)max, nout = (uint64_t)n * E;
  if (!j || nids > SIZE_MAX / 4 || nout > SIZE_MAX / 4) {
    free(j);
    return fail("embed: out of memory for %d texts", n);
  }
  j->n = n;
  j->ids = malloc(nids ? (size_t)nids * 4 : 4);
  j->seq = malloc(n ? (size_t)n * 4 : 4);
  j->out = malloc(nout ? (size_t)nout * 4 : 4);
  if (!j->ids || !j->seq || !j->out) {
    job_free(j);
    return fail("embed: out of memory for %d texts", n);
  }
  const uint8_t *text = texts;
  size_t used = 0;
  for (int32_t i = 0; i < n; i++) {
    /* Keep the first max-2 pieces; [CLS] and [SEP] take the other two. */
    int32_t *row = j->ids + used;
    int32_t cnt = es_tokenizer_encode(model->tok, text, lens[i], row + 1, NULL, max - 2);
    if (cnt < 0) {
      job_free(j);
      return fail("embed: out of memory tokenizing text %d", i);
    }
    int32_t k = cnt < max - 2 ? cnt : max - 2;
    row[0] = model->cls_id;
    row[k + 1] = model->sep_id;
    j->seq[i] = k + 2;
    if (tokens) {
      tokens[2 * i] = k + 2;
      tokens[2 * i + 1] = cnt > INT32_MAX - 2 ? INT32_MAX : cnt + 2;
    }
    used += (size_t)k + 2;
    text += lens[i];
  }
  /* One activation buffer, for the largest group. */
  size_t need = 0;
  for (int32_t first = 0; first < n;) {
    int32_t end = group_end(j, first), L = 0, M = 0;
    for (int32_t i = first; i < end; i++) {
      M += j->seq[i];
      if (j->seq[i] > L) L = j->seq[i];
    }
    size_t nf = bert_pass_floats(model, (size_t)M, (size_t)L);
    if (!nf) {
      job_free(j);
      return fail("embed: out of memory for %d tokens", M);
    }
    if (nf > need) need = nf;
    first = end;
  }
  if (n > 0 && !(j->mem = malloc(need * sizeof(float)))) {
    job_free(j);
    return fail("embed: out of memory for %d texts", n);
  }
  j->mem_floats = need;
  if (n == 0) {
    j->done = 1;
  } else if (begin_group(j)) {
    job_free(j);
    return -1;
  }
  do
    last_handle = last_handle == INT32_MAX ? 1 : last_handle + 1;
  while (find_job(last_handle));
  j->handle = last_handle;
  j->next = jobs;
  jobs = j;
  n_jobs++;
  return j->handle;
}

int32_t es_job_step(int32_t handle) {
  last_error[0] = 0;
  job *j = find_job(handle);
  if (!j) return fail("embed: no job %d", handle);
  if (j->done) return 0;
  if (bert_pass_step(&j->pass, STEP_BUDGET)) return 1;
  /* This group is done: on to the next, in the same activations. */
  for (int32_t i = j->first; i < j->end; i++) j->tok += (size_t)j->seq[i];
  j->first = j->end;
  if (j->first >= j->n) {
    j->done = 1;
    return 0;
  }
  if (begin_group(j)) return -1;
  return 1;
}

int32_t es_job_finish(int32_t handle, float *out) {
  last_error[0] = 0;
  job *j = find_job(handle);
  if (!j) return fail("embed: no job %d", handle);
  if (!j->done) return fail("embed: job %d is not done; step it until es_job_step returns 0", handle);
  size_t bytes = (size_t)j->n * model->n_embd * sizeof(float);
  if (!in_memory(out, bytes)) return fail("embed: buffer outside guest memory");
  memcpy(out, j->out, bytes);
  return es_job_cancel(handle);
}

int32_t es_job_cancel(int32_t handle) {
  last_error[0] = 0;
  for (job **p = &jobs; *p; p = &(*p)->next)
    if ((*p)->handle == handle) {
      job *j = *p;
      *p = j->next;
      job_free(j);
      n_jobs--;
      return 0;
    }
  return fail("embed: no job %d", handle);
}

int32_t es_embed_batch(const uint8_t *texts, const uint32_t *lens, int32_t n, float *out,
                       int32_t *tokens) {
  last_error[0] = 0;
  if (model && n > 0 && !in_memory(out, (uint64_t)n * model->n_embd * 4))
    return fail("embed: buffer outside guest memory");
  int32_t h = es_job_start(texts, lens, n, tokens), rc;
  if (h < 0) return -1;
  while ((rc = es_job_step(h)) > 0) {
  }
  if (rc < 0 || es_job_finish(h, out) < 0) {
    /* Keep the message of what failed, not of the cancel. */
    char msg[sizeof last_error];
    memcpy(msg, last_error, sizeof msg);
    es_job_cancel(h);
    memcpy(last_error, msg, sizeof msg);
    return -1;
  }
  return 0;
}
