/*
 * edgesearch guest ABI.
 *
 * This header is the contract between the WebAssembly guest (C, wasm32-wasi)
 * and its host (Go, embedder/). Every function here is exported under the
 * name given in exports.txt. All pointers are offsets into the guest's linear
 * memory; all sizes are in bytes unless the name says otherwise.
 *
 * Ownership: the host allocates input buffers with es_malloc, writes them,
 * calls a function and frees them with es_free. The guest owns the model:
 * es_load takes ownership of the GGUF buffer it is given (it frees it when the
 * model is replaced or when loading fails).
 *
 * Errors: functions returning int32_t return a negative value on failure and
 * leave a NUL-terminated message at es_last_error().
 */
#ifndef EDGESEARCH_H
#define EDGESEARCH_H

#include <stddef.h>
#include <stdint.h>

#define ES_EXPORT(name) __attribute__((export_name(#name))) name

/* Memory. es_malloc returns 0 when out of memory. */
void *ES_EXPORT(es_malloc)(uint32_t size);
void ES_EXPORT(es_free)(void *ptr);

/* NUL-terminated text of the last error; "" when none. */
const char *ES_EXPORT(es_last_error)(void);

/*
 * Load a GGUF model from `len` bytes at `data` (allocated with es_malloc).
 * The guest takes ownership of `data`, on success and on failure.
 * Returns 0 on success. Replaces any previously loaded model.
 */
int32_t ES_EXPORT(es_load)(uint8_t *data, uint32_t len);

/*
 * es_load for tokenizing only: reads the metadata and vocabulary of a GGUF
 * (which may hold no tensors at all) and no weights, so an instance that
 * only tokenizes needs a few MB instead of the model's size. es_embed_batch
 * fails on it; es_model_info reports "weight_type":"none".
 */
int32_t ES_EXPORT(es_load_vocab)(uint8_t *data, uint32_t len);

/*
 * Model information as a NUL-terminated JSON object, valid until the next
 * es_load: {"architecture":"bert","name":...,"n_embedding":384,
 * "n_layer":6,"n_head":12,"n_ff":1536,"n_vocab":30522,"n_ctx":512,
 * "max_tokens":256,"pooling":"mean","weight_type":"F16"}.
 * Returns 0 when no model is loaded.
 */
const char *ES_EXPORT(es_model_info)(void);

/* Embedding width of the loaded model, 0 when none. */
int32_t ES_EXPORT(es_n_embd)(void);

/*
 * Maximum sequence length in tokens, [CLS] and [SEP] included. Texts longer
 * than this are truncated (and reported as truncated), never an error.
 * Default after es_load: the GGUF's edgesearch.max_seq_length if present,
 * else bert.context_length. Values are clamped to [3, bert.context_length].
 * Returns the value in force.
 */
int32_t ES_EXPORT(es_set_max_tokens)(int32_t n);

/*
 * Tokenize `len` bytes of UTF-8 at `text` into word-piece ids, without
 * [CLS]/[SEP] and without truncation. Writes at most `cap` ids to `ids` and,
 * when `offsets` is not 0, 2*cap int32 byte offsets [start, end) into the
 * input for each id. Returns the total number of word pieces (which may be
 * larger than cap: call again with a bigger buffer), or negative on error.
 * Invalid UTF-8 bytes are treated as U+FFFD (and so removed, as BERT does).
 */
int32_t ES_EXPORT(es_tokenize)(const uint8_t *text, uint32_t len,
                               int32_t *ids, int32_t *offsets, int32_t cap);

/*
 * Embed `n` texts in one batch. `texts` holds the texts back to back, their
 * byte lengths are in `lens` (n uint32). Writes n*n_embd floats (mean pooled,
 * L2 normalised) to `out` and, when `tokens` is not 0, 2*n int32 to
 * `tokens`: for text i, tokens[2i] is the number of tokens embedded and
 * tokens[2i+1] the number the full text has ([CLS] and [SEP] included), so
 * tokens[2i] < tokens[2i+1] means it was truncated.
 * Returns 0 on success. It is es_job_start, es_job_step until done and
 * es_job_finish in one call, so it runs as long as the whole batch takes.
 */
int32_t ES_EXPORT(es_embed_batch)(const uint8_t *texts, const uint32_t *lens,
                                  int32_t n, float *out, int32_t *tokens);

/*
 * The same work as es_embed_batch cut into calls of bounded length, for a
 * host that must not be held by one call for long (a garbage collector
 * waiting for the thread, other work waiting for the core) and that wants
 * to run other jobs between the pieces of a long one.
 *
 * es_job_start tokenizes the texts (arguments as es_embed_batch's; it reads
 * them only during the call), writes `tokens` when not 0, allocates the
 * job's activations and returns a positive handle, or negative on error
 * (also when 64 jobs are live already). es_job_step runs one bounded piece
 * of the job (a few milliseconds of matrix work on a 2-core x86-64) and
 * returns 1 while work remains, 0 once the vectors are ready (and after),
 * negative for an unknown handle. es_job_finish writes the n*n_embd floats
 * to `out` and frees the job; it fails, leaving the job alive, when the job
 * is not done. es_job_cancel frees a job at any point. Each returns
 * negative for an unknown handle. Jobs are independent: several may be
 * live and stepped in any interleaving, and each gives the bits
 * es_embed_batch gives. Loading a model frees every job.
 */
int32_t ES_EXPORT(es_job_start)(const uint8_t *texts, const uint32_t *lens,
                                int32_t n, int32_t *tokens);
int32_t ES_EXPORT(es_job_step)(int32_t job);
int32_t ES_EXPORT(es_job_finish)(int32_t job, float *out);
int32_t ES_EXPORT(es_job_cancel)(int32_t job);

/*
 * Imports of the host-kernel build (build.sh's second output,
 * edgesearch-host.wasm, compiled with ES_HOST_KERNELS): besides WASI it
 * imports two functions from the module "edgesearch", which the
 * host serves with native vector code. The default build imports only
 * WASI and runs its own SIMD128 kernels.
 *
 * es_host_matmul: y[i][j] = bias[j] + sum_t x[i][t] * w(j, t) for i < m,
 * j < n, t < k. x rows are ldx floats apart, y rows ldy floats apart;
 * bias is n floats, or 0 for none. w is in panels of ES_PANEL output
 * columns: panel p holds, for each t < k in turn, the ES_PANEL values
 * w(p*ES_PANEL + c, t), c < ES_PANEL, with columns past n zero. wtype is
 * ES_W_F32 (floats), ES_W_F16 (IEEE half precision) or ES_W_Q8 (k a
 * multiple of 32; a panel is, per block of 32 inputs, ES_PANEL float
 * scales and then 32 steps of ES_PANEL int8, w(j, t) being the scale of
 * j's block times its int8: 576 bytes a block). The host checks
 * every range against the memory's size and the pointers' alignment (4
 * bytes, 2 for half weights) and traps the guest when one is out of
 * bounds, or when rows overlap (ldx < k or ldy < n with m > 1); it writes
 * only y.
 *
 * es_host_matmul_rows: the same product with w as the guest has it,
 * row-major f32 with rows ldw floats apart: with wlayout ES_W_ROWS_N, n
 * rows of k (w(j, t) = w[j*ldw + t], attention's keys); with
 * ES_W_ROWS_K, k rows of n (w(j, t) = w[t*ldw + j], attention's values).
 * The host packs it into panels itself; checks as above.
 */
enum { ES_PANEL = 16, ES_W_F32 = 0, ES_W_F16 = 1, ES_W_Q8 = 2 };
enum { ES_W_ROWS_N = 0, ES_W_ROWS_K = 1 };

#ifdef ES_HOST_KERNELS
__attribute__((import_module("edgesearch"), import_name("matmul"))) void es_host_matmul(
    const float *x, uint32_t ldx, const void *w, uint32_t wtype, const float *bias, float *y,
    uint32_t ldy, int32_t m, int32_t n, int32_t k);
__attribute__((import_module("edgesearch"), import_name("matmul_rows"))) void es_host_matmul_rows(
    const float *x, uint32_t ldx, const float *w, uint32_t ldw, uint32_t wlayout,
    const float *bias, float *y, uint32_t ldy, int32_t m, int32_t n, int32_t k);
#endif

#endif
