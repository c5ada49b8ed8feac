#include "kernels.h"

#include <math.h>
#include <string.h>
#include <wasm_simd128.h>

/*
 * Sums of four vectors, one per lane: result lane i is the sum of the
 * lanes of v_i. Two rounds of shuffles instead of sixteen lane extracts.
 */
static inline v128_t hsum4(v128_t a, v128_t b, v128_t c, v128_t d) {
  v128_t ab = wasm_f32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5),
                             wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
  v128_t cd = wasm_f32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5),
                             wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
  return wasm_f32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5),
                        wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

static inline float hsum(v128_t a) {
  v128_t s = wasm_f32x4_add(a, wasm_i32x4_shuffle(a, a, 2, 3, 0, 1));
  s = wasm_f32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(s, 0);
}

/*
 * Four rows of x against four rows of w, sixteen accumulators. Measured
 * under wazero on x86-64 (thread CPU time, 128x384x384): 4x2 11.5 GFLOP/s,
 * 4x3 14.0, 4x4 14.5, 3x4 11.6, 2x6 12.0. x86-64 spills a few registers
 * here and still wins; arm64 has 32 vector registers.
 */
static void kernel4x4(const float *x, size_t ldx, const float *w, size_t ldw, int k,
                      float *y, size_t ldy, const float *bias) {
  const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
  const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
  const v128_t z = wasm_f32x4_splat(0);
  v128_t a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
  v128_t a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
  int t = 0;
  for (; t + 4 <= k; t += 4) {
    v128_t v0 = wasm_v128_load(w0 + t), v1 = wasm_v128_load(w1 + t);
    v128_t v2 = wasm_v128_load(w2 + t), v3 = wasm_v128_load(w3 + t);
    v128_t u = wasm_v128_load(x0 + t);
    a00 = wasm_f32x4_add(a00, wasm_f32x4_mul(u, v0));
    a01 = wasm_f32x4_add(a01, wasm_f32x4_mul(u, v1));
    a02 = wasm_f32x4_add(a02, wasm_f32x4_mul(u, v2));
    a03 = wasm_f32x4_add(a03, wasm_f32x4_mul(u, v3));
    u = wasm_v128_load(x1 + t);
    a10 = wasm_f32x4_add(a10, wasm_f32x4_mul(u, v0));
    a11 = wasm_f32x4_add(a11, wasm_f32x4_mul(u, v1));
    a12 = wasm_f32x4_add(a12, wasm_f32x4_mul(u, v2));
    a13 = wasm_f32x4_add(a13, wasm_f32x4_mul(u, v3));
    u = wasm_v128_load(x2 + t);
    a20 = wasm_f32x4_add(a20, wasm_f32x4_mul(u, v0));
    a21 = wasm_f32x4_add(a21, wasm_f32x4_mul(u, v1));
    a22 = wasm_f32x4_add(a22, wasm_f32x4_mul(u, v2));
    a23 = wasm_f32x4_add(a23, wasm_f32x4_mul(u, v3));
    u = wasm_v128_load(x3 + t);
    a30 = wasm_f32x4_add(a30, wasm_f32x4_mul(u, v0));
    a31 = wasm_f32x4_add(a31, wasm_f32x4_mul(u, v1));
    a32 = wasm_f32x4_add(a32, wasm_f32x4_mul(u, v2));
    a33 = wasm_f32x4_add(a33, wasm_f32x4_mul(u, v3));
  }
  /* Row r's four sums land in one vector, stored with a single write. */
  v128_t s[4] = {hsum4(a00, a01, a02, a03), hsum4(a10, a11, a12, a13),
                 hsum4(a20, a21, a22, a23), hsum4(a30, a31, a32, a33)};
  const float *xr[4] = {x0, x1, x2, x3};
  v128_t b = bias ? wasm_v128_load(bias) : z;
  for (int r = 0; r < 4; r++) {
    v128_t v = wasm_f32x4_add(s[r], b);
    for (int tt = t; tt < k; tt++)
      v = wasm_f32x4_add(v, wasm_f32x4_mul(wasm_f32x4_splat(xr[r][tt]),
                                           wasm_f32x4_make(w0[tt], w1[tt], w2[tt], w3[tt])));
    wasm_v128_store(y + (size_t)r * ldy, v);
  }
}

/* One row of x against four rows of w: the leftover rows of a block,
 * which for a short query are a large share of the work. */
static void kernel1x4(const float *x, const float *w, size_t ldw, int k, float *y,
                      const float *bias) {
  const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
  const v128_t z = wasm_f32x4_splat(0);
  v128_t a0 = z, a1 = z, a2 = z, a3 = z;
  int t = 0;
  for (; t + 4 <= k; t += 4) {
    v128_t u = wasm_v128_load(x + t);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(u, wasm_v128_load(w0 + t)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(u, wasm_v128_load(w1 + t)));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(u, wasm_v128_load(w2 + t)));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(u, wasm_v128_load(w3 + t)));
  }
  v128_t v = wasm_f32x4_add(hsum4(a0, a1, a2, a3), bias ? wasm_v128_load(bias) : z);
  for (; t < k; t++)
    v = wasm_f32x4_add(v, wasm_f32x4_mul(wasm_f32x4_splat(x[t]),
                                         wasm_f32x4_make(w0[t], w1[t], w2[t], w3[t])));
  wasm_v128_store(y, v);
}

float es_dot(const float *x, const float *y, int n) {
  v128_t a = wasm_f32x4_splat(0), b = a;
  int t = 0;
  for (; t + 8 <= n; t += 8) {
    a = wasm_f32x4_add(a, wasm_f32x4_mul(wasm_v128_load(x + t),
                                         wasm_v128_load(y + t)));
    b = wasm_f32x4_add(b, wasm_f32x4_mul(wasm_v128_load(x + t + 4),
                                         wasm_v128_load(y + t + 4)));
  }
  for (; t + 4 <= n; t += 4)
    a = wasm_f32x4_add(a, wasm_f32x4_mul(wasm_v128_load(x + t),
                                         wasm_v128_load(y + t)));
  float s = hsum(wasm_f32x4_add(a, b));
  for (; t < n; t++) s += x[t] * y[t];
  return s;
}

/*
 * Rows are taken in blocks so that a block of x stays in cache while every
 * group of four w rows streams past it once. (Blocking the columns as well
 * measured no faster: the kernel is compute-bound.)
 */
enum { ROW_BLOCK = ES_ROW_BLOCK };

void es_matmul(const float *x, size_t ldx, const float *w, size_t ldw,
               const float *bias, float *y, size_t ldy, int m, int n, int k) {
  for (int i0 = 0; i0 < m; i0 += ROW_BLOCK) {
    int i1 = i0 + ROW_BLOCK < m ? i0 + ROW_BLOCK : m;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
      const float *wj = w + (size_t)j * ldw, *bj = bias ? bias + j : NULL;
      int i = i0;
      for (; i + 4 <= i1; i += 4)
        kernel4x4(x + (size_t)i * ldx, ldx, wj, ldw, k, y + (size_t)i * ldy + j, ldy, bj);
      for (; i < i1; i++)
        kernel1x4(x + (size_t)i * ldx, wj, ldw, k, y + (size_t)i * ldy + j, bj);
    }
    for (; j < n; j++)
      for (int i = i0; i < i1; i++)
        y[(size_t)i * ldy + j] = (bias ? bias[j] : 0) +
                                 es_dot(x + (size_t)i * ldx, w + (size_t)j * ldw, k);
  }
}

/*
 * Packed layout, shared by weights (packed once at load) and activations
 * (packed per call): groups of four rows, and inside a group, for each run
 * of four columns, the four rows' runs back to back (16 floats). The kernel
 * then reads both operands through one pointer each at constant offsets,
 * which matters under wazero: it bounds-checks every load whose address is a
 * new value, but a load at a smaller constant offset from an address it has
 * already checked costs nothing extra. Reading eight rows through eight
 * pointers, as es_matmul does, paid eight checks per step.
 */
void es_pack4(const float *src, size_t ld, int rows, int k, float *dst) {
  for (int r0 = 0; r0 < rows; r0 += 4)
    for (int t = 0; t < k; t += 4)
      for (int r = 0; r < 4; r++, dst += 4) {
        if (r0 + r < rows)
          wasm_v128_store(dst, wasm_v128_load(src + (size_t)(r0 + r) * ld + t));
        else
          wasm_v128_store(dst, wasm_f32x4_splat(0));
      }
}

/* Four packed rows of x against one packed group of four w rows. The
 * highest offsets are loaded first so that the check of the first load in
 * a step covers the rest. (Unrolled to two runs a step it measured 1.2x
 * slower: more spills.) */
static void kernel4x4p(const float *a, const float *b, int k, float *y, size_t ldy, int rows,
                       const float *bias) {
  const v128_t z = wasm_f32x4_splat(0);
  v128_t a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
  v128_t a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
  for (int t = 0; t < k; t += 4, a += 16, b += 16) {
    /* Hides the pointers from loop strength reduction, which would turn
     * the constant offsets back into one add (and one check) per load. */
    __asm__("" : "+r"(a), "+r"(b));
    v128_t v3 = wasm_v128_load(b + 12), v2 = wasm_v128_load(b + 8);
    v128_t v1 = wasm_v128_load(b + 4), v0 = wasm_v128_load(b);
    v128_t u = wasm_v128_load(a + 12);
    a30 = wasm_f32x4_add(a30, wasm_f32x4_mul(u, v0));
    a31 = wasm_f32x4_add(a31, wasm_f32x4_mul(u, v1));
    a32 = wasm_f32x4_add(a32, wasm_f32x4_mul(u, v2));
    a33 = wasm_f32x4_add(a33, wasm_f32x4_mul(u, v3));
    u = wasm_v128_load(a + 8);
    a20 = wasm_f32x4_add(a20, wasm_f32x4_mul(u, v0));
    a21 = wasm_f32x4_add(a21, wasm_f32x4_mul(u, v1));
    a22 = wasm_f32x4_add(a22, wasm_f32x4_mul(u, v2));
    a23 = wasm_f32x4_add(a23, wasm_f32x4_mul(u, v3));
    u = wasm_v128_load(a + 4);
    a10 = wasm_f32x4_add(a10, wasm_f32x4_mul(u, v0));
    a11 = wasm_f32x4_add(a11, wasm_f32x4_mul(u, v1));
    a12 = wasm_f32x4_add(a12, wasm_f32x4_mul(u, v2));
    a13 = wasm_f32x4_add(a13, wasm_f32x4_mul(u, v3));
    u = wasm_v128_load(a);
    a00 = wasm_f32x4_add(a00, wasm_f32x4_mul(u, v0));
    a01 = wasm_f32x4_add(a01, wasm_f32x4_mul(u, v1));
    a02 = wasm_f32x4_add(a02, wasm_f32x4_mul(u, v2));
    a03 = wasm_f32x4_add(a03, wasm_f32x4_mul(u, v3));
  }
  v128_t bv = bias ? wasm_v128_load(bias) : z;
  wasm_v128_store(y, wasm_f32x4_add(hsum4(a00, a01, a02, a03), bv));
  if (rows > 1) wasm_v128_store(y + ldy, wasm_f32x4_add(hsum4(a10, a11, a12, a13), bv));
  if (rows > 2) wasm_v128_store(y + 2 * ldy, wasm_f32x4_add(hsum4(a20, a21, a22, a23), bv));
  if (rows > 3) wasm_v128_store(y + 3 * ldy, wasm_f32x4_add(hsum4(a30, a31, a32, a33), bv));
}

/* The last one or two rows of a block (a 10-token query has two): half the
 * work of padding them out to four. Reads the same packed group. */
static void kernel2x4p(const float *a, const float *b, int k, float *y, size_t ldy, int rows,
                       const float *bias) {
  const v128_t z = wasm_f32x4_splat(0);
  v128_t a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
  for (int t = 0; t < k; t += 4, a += 16, b += 16) {
    __asm__("" : "+r"(a), "+r"(b));
    v128_t v3 = wasm_v128_load(b + 12), v2 = wasm_v128_load(b + 8);
    v128_t v1 = wasm_v128_load(b + 4), v0 = wasm_v128_load(b);
    v128_t u = wasm_v128_load(a + 4);
    a10 = wasm_f32x4_add(a10, wasm_f32x4_mul(u, v0));
    a11 = wasm_f32x4_add(a11, wasm_f32x4_mul(u, v1));
    a12 = wasm_f32x4_add(a12, wasm_f32x4_mul(u, v2));
    a13 = wasm_f32x4_add(a13, wasm_f32x4_mul(u, v3));
    u = wasm_v128_load(a);
    a00 = wasm_f32x4_add(a00, wasm_f32x4_mul(u, v0));
    a01 = wasm_f32x4_add(a01, wasm_f32x4_mul(u, v1));
    a02 = wasm_f32x4_add(a02, wasm_f32x4_mul(u, v2));
    a03 = wasm_f32x4_add(a03, wasm_f32x4_mul(u, v3));
  }
  v128_t bv = bias ? wasm_v128_load(bias) : z;
  wasm_v128_store(y, wasm_f32x4_add(hsum4(a00, a01, a02, a03), bv));
  if (rows > 1) wasm_v128_store(y + ldy, wasm_f32x4_add(hsum4(a10, a11, a12, a13), bv));
}

void es_matmul_packed(const float *x, size_t ldx, const float *wp, const float *bias,
                      float *y, size_t ldy, int m, int n, int k, float *scratch) {
  for (int i0 = 0; i0 < m; i0 += ROW_BLOCK) {
    int rows = m - i0 < ROW_BLOCK ? m - i0 : ROW_BLOCK;
    es_pack4(x + (size_t)i0 * ldx, ldx, rows, k, scratch);
    for (int j = 0; j < n; j += 4) {
      const float *wj = wp + (size_t)j * k, *bj = bias ? bias + j : NULL;
      for (int i = 0; i < rows; i += 4)
        (rows - i > 2 ? kernel4x4p : kernel2x4p)(scratch + (size_t)i * k, wj, k,
                                                 y + (size_t)(i0 + i) * ldy + j, ldy, rows - i,
                                                 bj);
    }
  }
}

void es_add(float *y, const float *x, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i),
                                          wasm_v128_load(x + i)));
  for (; i < n; i++) y[i] += x[i];
}

void es_scale(float *y, size_t n, float s) {
  v128_t vs = wasm_f32x4_splat(s);
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(y + i), vs));
  for (; i < n; i++) y[i] *= s;
}

void es_layer_norm(float *x, int n, const float *g, const float *b, float eps) {
  v128_t acc = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) acc = wasm_f32x4_add(acc, wasm_v128_load(x + i));
  float sum = hsum(acc);
  for (; i < n; i++) sum += x[i];
  float mean = sum / (float)n;
  /* Two passes: the variance of centred values keeps precision that
   * E[x^2] - E[x]^2 would lose on large activations. */
  v128_t vm = wasm_f32x4_splat(mean);
  acc = wasm_f32x4_splat(0);
  for (i = 0; i + 4 <= n; i += 4) {
    v128_t d = wasm_f32x4_sub(wasm_v128_load(x + i), vm);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(d, d));
  }
  float var = hsum(acc);
  for (; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
  float inv = 1.0f / sqrtf(var / (float)n + eps);
  v128_t vi = wasm_f32x4_splat(inv);
  for (i = 0; i + 4 <= n; i += 4) {
    v128_t d = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + i), vm), vi);
    d = wasm_f32x4_add(wasm_f32x4_mul(d, wasm_v128_load(g + i)),
                       wasm_v128_load(b + i));
    wasm_v128_store(x + i, d);
  }
  for (; i < n; i++) x[i] = (x[i] - mean) * inv * g[i] + b[i];
}

/*
 * exp(x) for four lanes: x = n ln2 + r with |r| <= ln2/2, exp(r) by its
 * Taylor series to r^6 (truncation error below 1.2e-7 relative), times 2^n
 * built in the exponent bits. Inputs are clamped so 2^n stays a normal
 * float; exp underflows to about 1e-38 instead of 0, harmless here.
 */
static inline v128_t vexp(v128_t x) {
  x = wasm_f32x4_max(x, wasm_f32x4_splat(-87.0f));
  x = wasm_f32x4_min(x, wasm_f32x4_splat(88.0f));
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504f)));
  /* ln 2 split in two so n * hi is exact for |n| < 256. */
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_add(r, wasm_f32x4_mul(n, wasm_f32x4_splat(2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.0f / 720);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  v128_t e = wasm_i32x4_shl(
      wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, e);
}

/*
 * erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7), which
 * needs only one exp and one division per four lanes.
 */
static inline v128_t verf(v128_t x) {
  v128_t sign = wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000u));
  v128_t a = wasm_f32x4_abs(x);
  v128_t t = wasm_f32x4_div(wasm_f32x4_splat(1.0f),
                            wasm_f32x4_add(wasm_f32x4_splat(1.0f),
                                           wasm_f32x4_mul(a, wasm_f32x4_splat(0.3275911f))));
  v128_t p = wasm_f32x4_splat(1.061405429f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(-1.453152027f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(1.421413741f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(-0.284496736f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(0.254829592f));
  p = wasm_f32x4_mul(p, t);
  v128_t e = vexp(wasm_f32x4_neg(wasm_f32x4_mul(a, a)));
  v128_t r = wasm_f32x4_sub(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(p, e));
  return wasm_v128_or(r, sign);
}

void es_gelu(float *x, size_t n) {
  const v128_t half = wasm_f32x4_splat(0.5f), one = wasm_f32x4_splat(1.0f);
  const v128_t rs2 = wasm_f32x4_splat(0.70710678f);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t e = verf(wasm_f32x4_mul(v, rs2));
    wasm_v128_store(x + i, wasm_f32x4_mul(wasm_f32x4_mul(v, half),
                                          wasm_f32x4_add(one, e)));
  }
  for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f));
}

void es_softmax(float *x, int n, float scale) {
  if (n <= 0) return;
  float mx = x[0];
  for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  v128_t vs = wasm_f32x4_splat(scale), vm = wasm_f32x4_splat(mx * scale);
  v128_t acc = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t e = vexp(wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(x + i), vs), vm));
    wasm_v128_store(x + i, e);
    acc = wasm_f32x4_add(acc, e);
  }
  float sum = hsum(acc);
  for (; i < n; i++) {
    x[i] = expf(x[i] * scale - mx * scale);
    sum += x[i];
  }
  es_scale(x, (size_t)n, 1.0f / sum);
}

/*
 * Half to single by moving the exponent and mantissa into place and
 * multiplying by 2^112, which rebiases normals and normalises subnormals in
 * one step; all-ones exponents (inf, NaN) are patched afterwards.
 */
void es_f16_to_f32(const uint16_t *h, float *f, size_t n) {
  const v128_t magic = wasm_f32x4_splat(0x1p112f);
  const v128_t em = wasm_i32x4_splat(0x7fff), infh = wasm_i32x4_splat(0x7c00);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t u = wasm_u32x4_load16x4(h + i);
    v128_t v = wasm_f32x4_mul(wasm_i32x4_shl(wasm_v128_and(u, em), 13), magic);
    v128_t inf = wasm_i32x4_eq(wasm_v128_and(u, infh), infh);
    v = wasm_v128_or(v, wasm_v128_and(inf, wasm_i32x4_splat(0x7f800000)));
    v = wasm_v128_or(v, wasm_i32x4_shl(wasm_v128_and(u, wasm_i32x4_splat(0x8000)), 16));
    wasm_v128_store(f + i, v);
  }
  for (; i < n; i++) f[i] = es_f16(h[i]);
}

float es_f16(uint16_t h) {
  uint32_t bits = (uint32_t)(h & 0x7fff) << 13;
  float v;
  memcpy(&v, &bits, 4);
  v *= 0x1p112f;
  memcpy(&bits, &v, 4);
  if ((h & 0x7c00) == 0x7c00) bits |= 0x7f800000;
  bits |= (uint32_t)(h & 0x8000) << 16;
  memcpy(&v, &bits, 4);
  return v;
}

/*
 * Q8_0 integer path. Per group of four weight rows and block of 32 inputs,
 * es_pack_q8 writes 144 bytes: the four rows' scales as f32 (converted
 * from f16 once here), then sixteen steps of eight int8, step s holding
 * inputs 2s and 2s+1 of rows 0 to 3 in turn. One i16x8.load8x8_s of a step
 * is then an i16x8 whose lane pair c belongs to output column c, so
 * i32x4.dot_i16x8_s against an input pair repeated in all four lanes sums
 * two products into each column's lane: no horizontal sums at all.
 */
enum { Q8W_GROUP = 144, Q8X_GROUP = 1088 };

void es_pack_q8(const uint8_t *src, int rows, int k, uint8_t *dst) {
  const int nb = k / ES_Q8_BLOCK;
  const size_t row_bytes = (size_t)nb * 34;
  for (int r0 = 0; r0 < rows; r0 += 4)
    for (int blk = 0; blk < nb; blk++, dst += Q8W_GROUP)
      for (int c = 0; c < 4; c++) {
        float d = 0;
        const uint8_t *q = NULL;
        if (r0 + c < rows) {
          const uint8_t *bp = src + (size_t)(r0 + c) * row_bytes + (size_t)blk * 34;
          uint16_t h;
          memcpy(&h, bp, 2);
          d = es_f16(h);
          q = bp + 2;
        }
        memcpy(dst + 4 * c, &d, 4);
        for (int s = 0; s < 16; s++) {
          dst[16 + 8 * s + 2 * c] = q ? q[2 * s] : 0;
          dst[16 + 8 * s + 2 * c + 1] = q ? q[2 * s + 1] : 0;
        }
      }
}

/*
 * Rounds rows of x to int8 per block of 32 (scale max|x| / 127) into the
 * layout the q8 kernels read: per group of four rows and block, 1088
 * bytes: each row's scale repeated four times (64 bytes), then sixteen
 * steps of four rows, each the row's input pair 2s, 2s+1 as two int16
 * repeated in all four i32 lanes. Repeating costs memory (8.5 bytes an
 * input) but turns what would be a shuffle per row and step in the kernel
 * into a plain load. Missing rows of the last group are zeros.
 */
static void quantize_q8(const float *x, size_t ldx, int rows, int k, uint8_t *dst) {
  const int nb = k / ES_Q8_BLOCK;
  const v128_t z = wasm_i32x4_splat(0);
  for (int r0 = 0; r0 < rows; r0 += 4)
    for (int blk = 0; blk < nb; blk++, dst += Q8X_GROUP)
      for (int r = 0; r < 4; r++) {
        uint8_t *o = dst + 64 + 16 * r;
        if (r0 + r >= rows) {
          wasm_v128_store(dst + 16 * r, z);
          for (int s = 0; s < 16; s++) wasm_v128_store(o + 64 * s, z);
          continue;
        }
        const float *xr = x + (size_t)(r0 + r) * ldx + (size_t)blk * ES_Q8_BLOCK;
        v128_t v[8], mx = z;
        for (int i = 0; i < 8; i++) {
          v[i] = wasm_v128_load(xr + 4 * i);
          mx = wasm_f32x4_max(mx, wasm_f32x4_abs(v[i]));
        }
        mx = wasm_f32x4_max(mx, wasm_i32x4_shuffle(mx, mx, 2, 3, 0, 1));
        mx = wasm_f32x4_max(mx, wasm_i32x4_shuffle(mx, mx, 1, 0, 3, 2));
        float amax = wasm_f32x4_extract_lane(mx, 0);
        float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        wasm_v128_store(dst + 16 * r, wasm_f32x4_splat(d));
        v128_t vid = wasm_f32x4_splat(id);
        for (int i = 0; i < 4; i++, o += 256) {
          v128_t lo = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(v[2 * i], vid)));
          v128_t hi =
              wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(v[2 * i + 1], vid)));
          /* Lane l (as i32) of q is the pair for step 4i + l. */
          v128_t q = wasm_i16x8_narrow_i32x4(lo, hi);
          wasm_v128_store(o, wasm_i32x4_shuffle(q, q, 0, 0, 0, 0));
          wasm_v128_store(o + 64, wasm_i32x4_shuffle(q, q, 1, 1, 1, 1));
          wasm_v128_store(o + 128, wasm_i32x4_shuffle(q, q, 2, 2, 2, 2));
          wasm_v128_store(o + 192, wasm_i32x4_shuffle(q, q, 3, 3, 3, 3));
        }
      }
}

/* One step of the q8 kernels: weight pair s of four columns against input
 * pair s of row r, added to that row's block sum. */
#define Q8_DOT(acc, r, s, w) \
  acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_v128_load(a + 64 + 64 * (s) + 16 * (r)), w))

#define Q8_STEP4(s)                                        \
  do {                                                     \
    v128_t w = wasm_i16x8_load8x8(b + 16 + 8 * (s));       \
    Q8_DOT(s3, 3, s, w);                                   \
    Q8_DOT(s2, 2, s, w);                                   \
    Q8_DOT(s1, 1, s, w);                                   \
    Q8_DOT(s0, 0, s, w);                                   \
  } while (0)

#define Q8_STEP2(s)                                        \
  do {                                                     \
    v128_t w = wasm_i16x8_load8x8(b + 16 + 8 * (s));       \
    Q8_DOT(s1, 1, s, w);                                   \
    Q8_DOT(s0, 0, s, w);                                   \
  } while (0)

/*
 * Four rows of quantized x against one packed group of four weight rows.
 * Per block the integer sums (at most 32 * 127 * 128 in magnitude, exact)
 * are scaled by weight scale times input scale into f32 accumulators, one
 * per row with the four columns in its lanes. Steps run from the highest
 * offset down so that the first load of a block is the one whose bounds
 * check covers the rest. Measured under wazero on x86-64 (128x384x384):
 * 40 GFLOP/s against 21 for the f32 kernel; without the asm barrier 22;
 * four rows by eight columns (two weight groups) and row blocks of 16 or
 * 64 were no faster, so pmaddwd throughput looks like the limit.
 */
static void kq8_4x4(const uint8_t *a, const uint8_t *b, int nb, float *y, size_t ldy, int rows,
                    const float *bias) {
  const v128_t z = wasm_f32x4_splat(0);
  v128_t f0 = z, f1 = z, f2 = z, f3 = z;
  for (int blk = 0; blk < nb; blk++, a += Q8X_GROUP, b += Q8W_GROUP) {
    __asm__("" : "+r"(a), "+r"(b));
    v128_t s0 = z, s1 = z, s2 = z, s3 = z;
    Q8_STEP4(15); Q8_STEP4(14); Q8_STEP4(13); Q8_STEP4(12);
    Q8_STEP4(11); Q8_STEP4(10); Q8_STEP4(9); Q8_STEP4(8);
    Q8_STEP4(7); Q8_STEP4(6); Q8_STEP4(5); Q8_STEP4(4);
    Q8_STEP4(3); Q8_STEP4(2); Q8_STEP4(1); Q8_STEP4(0);
    v128_t ws = wasm_v128_load(b);
    f3 = wasm_f32x4_add(f3, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s3),
                                           wasm_f32x4_mul(ws, wasm_v128_load(a + 48))));
    f2 = wasm_f32x4_add(f2, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s2),
                                           wasm_f32x4_mul(ws, wasm_v128_load(a + 32))));
    f1 = wasm_f32x4_add(f1, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s1),
                                           wasm_f32x4_mul(ws, wasm_v128_load(a + 16))));
    f0 = wasm_f32x4_add(f0, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s0),
                                           wasm_f32x4_mul(ws, wasm_v128_load(a))));
  }
  v128_t bv = bias ? wasm_v128_load(bias) : z;
  wasm_v128_store(y, wasm_f32x4_add(f0, bv));
  if (rows > 1) wasm_v128_store(y + ldy, wasm_f32x4_add(f1, bv));
  if (rows > 2) wasm_v128_store(y + 2 * ldy, wasm_f32x4_add(f2, bv));
  if (rows > 3) wasm_v128_store(y + 3 * ldy, wasm_f32x4_add(f3, bv));
}

/* The last one or two rows of a block, as kernel2x4p is for f32. */
static void kq8_2x4(const uint8_t *a, const uint8_t *b, int nb, float *y, size_t ldy, int rows,
                    const float *bias) {
  const v128_t z = wasm_f32x4_splat(0);
  v128_t f0 = z, f1 = z;
  for (int blk = 0; blk < nb; blk++, a += Q8X_GROUP, b += Q8W_GROUP) {
    __asm__("" : "+r"(a), "+r"(b));
    v128_t s0 = z, s1 = z;
    Q8_STEP2(15); Q8_STEP2(14); Q8_STEP2(13); Q8_STEP2(12);
    Q8_STEP2(11); Q8_STEP2(10); Q8_STEP2(9); Q8_STEP2(8);
    Q8_STEP2(7); Q8_STEP2(6); Q8_STEP2(5); Q8_STEP2(4);
    Q8_STEP2(3); Q8_STEP2(2); Q8_STEP2(1); Q8_STEP2(0);
    v128_t ws = wasm_v128_load(b);
    f1 = wasm_f32x4_add(f1, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s1),
                                           wasm_f32x4_mul(ws, wasm_v128_load(a + 16))));
    f0 = wasm_f32x4_add(f0, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s0),
                                           wasm_f32x4_mul(ws, wasm_v128_load(a))));
  }
  v128_t bv = bias ? wasm_v128_load(bias) : z;
  wasm_v128_store(y, wasm_f32x4_add(f0, bv));
  if (rows > 1) wasm_v128_store(y + ldy, wasm_f32x4_add(f1, bv));
}

void es_matmul_q8(const float *x, size_t ldx, const uint8_t *wq, const float *bias, float *y,
                  size_t ldy, int m, int n, int k, uint8_t *scratch) {
  const int nb = k / ES_Q8_BLOCK;
  const size_t gw = (size_t)nb * Q8W_GROUP, ga = (size_t)nb * Q8X_GROUP;
  for (int i0 = 0; i0 < m; i0 += ROW_BLOCK) {
    int rows = m - i0 < ROW_BLOCK ? m - i0 : ROW_BLOCK;
    quantize_q8(x + (size_t)i0 * ldx, ldx, rows, k, scratch);
    for (int j = 0; j < n; j += 4) {
      const uint8_t *wj = wq + (size_t)(j / 4) * gw;
      const float *bj = bias ? bias + j : NULL;
      for (int i = 0; i < rows; i += 4)
        (rows - i > 2 ? kq8_4x4 : kq8_2x4)(scratch + (size_t)(i / 4) * ga, wj, nb,
                                           y + (size_t)(i0 + i) * ldy + j, ldy, rows - i, bj);
    }
  }
}
