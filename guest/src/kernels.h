/*
 * Numeric kernels for the BERT forward pass, written with wasm SIMD128.
 *
 * Matrices are row-major f32 with an explicit leading dimension (the
 * distance in floats between rows), so the same kernels work on slices of a
 * wider matrix, e.g. one attention head inside the packed Q|K|V rows.
 */
#ifndef EDGESEARCH_KERNELS_H
#define EDGESEARCH_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/*
 * y[i][j] = bias[j] + sum_t x[i][t] * w[j][t] for i < m, j < n, t < k.
 * w holds one output feature per row, which is how GGUF stores a linear
 * layer (ne = [in, out]), so weights are used without a transpose.
 * bias may be NULL.
 */
void es_matmul(const float *x, size_t ldx, const float *w, size_t ldw,
               const float *bias, float *y, size_t ldy, int m, int n, int k);

/*
 * Copies rows x k floats (rows ld apart) into the packed layout
 * es_matmul_packed reads: rows rounded up to a multiple of four with
 * zeros. k must be a multiple of four. Weights are packed once at load.
 */
void es_pack4(const float *src, size_t ld, int rows, int k, float *dst);

/* Rows of x the matmuls take at a time (64 measured no faster). */
#define ES_ROW_BLOCK 32

/* Floats of scratch es_matmul_packed needs for a k-wide x. */
#define ES_PACK_SCRATCH(k) ((size_t)ES_ROW_BLOCK * (size_t)(k))

/*
 * es_matmul with w already packed by es_pack4 (n rows of k); n and k must
 * be multiples of four. scratch holds ES_PACK_SCRATCH(k) floats.
 */
void es_matmul_packed(const float *x, size_t ldx, const float *wp, const float *bias,
                      float *y, size_t ldy, int m, int n, int k, float *scratch);

/*
 * Integer path for Q8_0 weights. Weights stay int8 with one scale per row
 * and block of 32 inputs; each activation row is rounded to int8 per block
 * of 32 as well (as llama.cpp's CPU path does for Q8_0), so that a block's
 * dot product is exact integer arithmetic with i32x4.dot_i16x8_s (8
 * multiply-adds an instruction) and only its sum is scaled in f32.
 */
enum { ES_Q8_BLOCK = 32 };

/* Bytes es_pack_q8 writes for rows x k weights: rows rounded up to four;
 * 1.125 bytes a weight. */
#define ES_Q8_PACKED_BYTES(rows, k) \
  ((size_t)(((rows) + 3) / 4) * (size_t)((k) / ES_Q8_BLOCK) * 144)

/*
 * Packs rows x k weights stored as GGUF Q8_0 (per block of 32: an f16
 * scale, then 32 int8; rows back to back) into the layout es_matmul_q8
 * reads. k must be a multiple of 32.
 */
void es_pack_q8(const uint8_t *src, int rows, int k, uint8_t *dst);

/* Bytes of scratch es_matmul_q8 needs for a k-wide x. */
#define ES_Q8_SCRATCH(k) ((size_t)ES_ROW_BLOCK / 4 * (size_t)((k) / ES_Q8_BLOCK) * 1088)

/*
 * es_matmul with w packed by es_pack_q8 (n rows of k): y = bias + x w^T
 * with x rounded to int8 per row and block of 32. n must be a multiple of
 * four and k of 32. scratch holds ES_Q8_SCRATCH(k) bytes.
 */
void es_matmul_q8(const float *x, size_t ldx, const uint8_t *wq, const float *bias, float *y,
                  size_t ldy, int m, int n, int k, uint8_t *scratch);

/* x[i] = (x[i] - mean) / sqrt(var + eps) * g[i] + b[i] over n floats. */
void es_layer_norm(float *x, int n, const float *g, const float *b, float eps);

/* x[i] = x[i] * (1 + erf(x[i] / sqrt 2)) / 2, the exact GELU BERT uses. */
void es_gelu(float *x, size_t n);

/* In place softmax of scale * x over n floats. */
void es_softmax(float *x, int n, float scale);

/* sum x[i] * y[i]. */
float es_dot(const float *x, const float *y, int n);

/* y[i] += x[i]. */
void es_add(float *y, const float *x, size_t n);

/* y[i] *= s. */
void es_scale(float *y, size_t n, float s);

/* IEEE half precision to single, n values. */
void es_f16_to_f32(const uint16_t *h, float *f, size_t n);

/* One half precision value to single. */
float es_f16(uint16_t h);

#endif
