#include "gguf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest dims product we accept; keeps every byte count far from
 * uint64 overflow and is anyway beyond a 32-bit address space. */
#define MAX_ELEMS ((uint64_t)1 << 40)

typedef struct {
  const uint8_t *p;
  uint64_t len, pos;
  char *err;
  size_t errcap;
} reader;

static int fail(reader *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(r->err, r->errcap, "gguf: ");
  if (n > 0 && (size_t)n < r->errcap) vsnprintf(r->err + n, r->errcap - n, fmt, ap);
  va_end(ap);
  return -1;
}

static int need(reader *r, uint64_t n, const char *what) {
  if (n > r->len - r->pos)
    return fail(r, "file truncated at byte %llu reading %s (%llu bytes needed, %llu left)",
                (unsigned long long)r->pos, what, (unsigned long long)n,
                (unsigned long long)(r->len - r->pos));
  return 0;
}

static int rd_u32(reader *r, uint32_t *v, const char *what) {
  if (need(r, 4, what)) return -1;
  memcpy(v, r->p + r->pos, 4);
  r->pos += 4;
  return 0;
}

static int rd_u64(reader *r, uint64_t *v, const char *what) {
  if (need(r, 8, what)) return -1;
  memcpy(v, r->p + r->pos, 8);
  r->pos += 8;
  return 0;
}

static int rd_str(reader *r, const char **s, uint64_t *len, const char *what) {
  if (rd_u64(r, len, what) || need(r, *len, what)) return -1;
  *s = (const char *)r->p + r->pos;
  r->pos += *len;
  return 0;
}

static uint64_t scalar_size(uint32_t t) {
  switch (t) {
  case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
  case GGUF_UINT16: case GGUF_INT16: return 2;
  case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
  case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
  default: return 0;
  }
}

static uint32_t hash(const char *s, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
  return h;
}

/* Table capacity: a power of two at least twice n, so probes stay short. */
static uint32_t table_cap(uint64_t n) {
  uint32_t c = 16;
  while (c < 2 * n) c *= 2;
  return c;
}

typedef const char *(*name_of)(const void *items, uint32_t i, uint32_t *len);

static const char *kv_name(const void *items, uint32_t i, uint32_t *len) {
  const gguf_kv *kv = (const gguf_kv *)items + i;
  *len = kv->key_len;
  return kv->key;
}

static const char *tensor_name(const void *items, uint32_t i, uint32_t *len) {
  const gguf_tensor *t = (const gguf_tensor *)items + i;
  *len = t->name_len;
  return t->name;
}

/* Slots hold index+1; 0 is empty. Returns the slot for name. */
static uint32_t *probe(uint32_t *table, uint32_t cap, const void *items, name_of nf,
                       const char *name, uint32_t len) {
  for (uint32_t h = hash(name, len) & (cap - 1);; h = (h + 1) & (cap - 1)) {
    if (table[h] == 0) return &table[h];
    uint32_t l;
    const char *s = nf(items, table[h] - 1, &l);
    if (l == len && memcmp(s, name, len) == 0) return &table[h];
  }
}

static int parse_value(reader *r, gguf_kv *kv, uint32_t i) {
  const char *what = "metadata value";
  if (kv->type == GGUF_STRING) {
    const char *s;
    if (rd_str(r, &s, &kv->val_len, what)) return -1;
    kv->val = (const uint8_t *)s;
    return 0;
  }
  if (kv->type == GGUF_ARRAY) {
    if (rd_u32(r, &kv->arr_type, what) || rd_u64(r, &kv->arr_n, what)) return -1;
    kv->val = r->p + r->pos;
    if (kv->arr_type == GGUF_ARRAY)
      return fail(r, "metadata %.*s: nested arrays are not supported", (int)kv->key_len, kv->key);
    if (kv->arr_type == GGUF_STRING) {
      /* Each string is at least its 8-byte length: bounds the loop by the
       * file size before walking it. */
      if (kv->arr_n > (r->len - r->pos) / 8)
        return fail(r, "metadata %.*s: array of %llu strings cannot fit in the file",
                    (int)kv->key_len, kv->key, (unsigned long long)kv->arr_n);
      for (uint64_t j = 0; j < kv->arr_n; j++) {
        const char *s;
        uint64_t l;
        if (rd_str(r, &s, &l, "metadata string array")) return -1;
      }
      return 0;
    }
    uint64_t es = scalar_size(kv->arr_type);
    if (es == 0)
      return fail(r, "metadata %.*s: unknown array element type %u", (int)kv->key_len,
                  kv->key, kv->arr_type);
    if (kv->arr_n > (r->len - r->pos) / es)
      return fail(r, "metadata %.*s: array of %llu elements cannot fit in the file",
                  (int)kv->key_len, kv->key, (unsigned long long)kv->arr_n);
    r->pos += kv->arr_n * es;
    return 0;
  }
  uint64_t es = scalar_size(kv->type);
  if (es == 0)
    return fail(r, "metadata %.*s (entry %u): unknown value type %u", (int)kv->key_len,
                kv->key, i, kv->type);
  if (need(r, es, what)) return -1;
  kv->val = r->p + r->pos;
  r->pos += es;
  return 0;
}

static int tensor_bytes(gguf_tensor *t, reader *r) {
  uint64_t n = 1;
  for (uint32_t d = 0; d < 4; d++) {
    if (t->ne[d] > MAX_ELEMS || (t->ne[d] != 0 && n > MAX_ELEMS / t->ne[d]))
      return fail(r, "tensor %.*s: dimensions too large", (int)t->name_len, t->name);
    n *= t->ne[d];
  }
  t->n_elem = n;
  switch (t->type) {
  case GGML_F32: t->size = n * 4; break;
  case GGML_F16: t->size = n * 2; break;
  case GGML_Q8_0:
    if (t->ne[0] % Q8_0_BLOCK)
      return fail(r, "tensor %.*s: Q8_0 row length %llu is not a multiple of 32",
                  (int)t->name_len, t->name, (unsigned long long)t->ne[0]);
    t->size = n / Q8_0_BLOCK * Q8_0_BYTES;
    break;
  default:
    return fail(r, "tensor %.*s has unsupported type %u (supported: F32, F16, Q8_0)",
                (int)t->name_len, t->name, t->type);
  }
  return 0;
}

int gguf_parse(gguf_ctx *ctx, const uint8_t *buf, size_t len, char *err, size_t errcap) {
  memset(ctx, 0, sizeof *ctx);
  reader r = {buf, len, 0, err, errcap};
  uint32_t magic;
  if (rd_u32(&r, &magic, "magic")) return -1;
  if (memcmp(buf, "GGUF", 4) != 0) return fail(&r, "not a GGUF file (bad magic)");
  if (rd_u32(&r, &ctx->version, "version")) return -1;
  if (ctx->version != 2 && ctx->version != 3)
    return fail(&r, "unsupported version %u (want 2 or 3)", ctx->version);
  if (rd_u64(&r, &ctx->n_tensors, "tensor count") || rd_u64(&r, &ctx->n_kv, "metadata count"))
    return -1;
  /* A metadata entry takes at least 13 bytes and a tensor entry 28, so
   * counts beyond that are lies; checking first keeps allocations bounded
   * by the file size. */
  if (ctx->n_kv > (len - r.pos) / 13)
    return fail(&r, "metadata count %llu cannot fit in the file", (unsigned long long)ctx->n_kv);
  if (ctx->n_tensors > (len - r.pos) / 28)
    return fail(&r, "tensor count %llu cannot fit in the file",
                (unsigned long long)ctx->n_tensors);
  ctx->kv = calloc(ctx->n_kv ? ctx->n_kv : 1, sizeof *ctx->kv);
  ctx->tensors = calloc(ctx->n_tensors ? ctx->n_tensors : 1, sizeof *ctx->tensors);
  ctx->kv_cap = table_cap(ctx->n_kv);
  ctx->tensor_cap = table_cap(ctx->n_tensors);
  ctx->kv_index = calloc(ctx->kv_cap, sizeof *ctx->kv_index);
  ctx->tensor_index = calloc(ctx->tensor_cap, sizeof *ctx->tensor_index);
  if (!ctx->kv || !ctx->tensors || !ctx->kv_index || !ctx->tensor_index) {
    gguf_free(ctx);
    return fail(&r, "out of memory for %llu metadata entries and %llu tensors",
                (unsigned long long)ctx->n_kv, (unsigned long long)ctx->n_tensors);
  }
  ctx->alignment = 32;
  for (uint32_t i = 0; i < ctx->n_kv; i++) {
    gguf_kv *kv = &ctx->kv[i];
    const char *key;
    uint64_t klen;
    if (rd_str(&r, &key, &klen, "metadata key") || rd_u32(&r, &kv->type, "metadata type"))
      goto bad;
    if (klen > 65535) {
      fail(&r, "metadata key %u is %llu bytes long", i, (unsigned long long)klen);
      goto bad;
    }
    kv->key = key;
    kv->key_len = (uint32_t)klen;
    if (parse_value(&r, kv, i)) goto bad;
    uint32_t *slot = probe(ctx->kv_index, ctx->kv_cap, ctx->kv, kv_name, key, kv->key_len);
    if (*slot) {
      fail(&r, "duplicate metadata key %.*s", (int)kv->key_len, key);
      goto bad;
    }
    *slot = i + 1;
  }
  const gguf_kv *al = gguf_find_kv(ctx, "general.alignment");
  if (al) {
    int64_t a;
    if (al->type != GGUF_UINT32 || gguf_kv_int(al, &a) || a == 0 || (a & (a - 1))) {
      fail(&r, "general.alignment must be a power of two uint32");
      goto bad;
    }
    ctx->alignment = (uint32_t)a;
  }
  for (uint32_t i = 0; i < ctx->n_tensors; i++) {
    gguf_tensor *t = &ctx->tensors[i];
    const char *name;
    uint64_t nlen, off;
    if (rd_str(&r, &name, &nlen, "tensor name")) goto bad;
    if (nlen > 65535) {
      fail(&r, "tensor name %u is %llu bytes long", i, (unsigned long long)nlen);
      goto bad;
    }
    t->name = name;
    t->name_len = (uint32_t)nlen;
    if (rd_u32(&r, &t->n_dims, "tensor dimension count")) goto bad;
    if (t->n_dims > 4) {
      fail(&r, "tensor %.*s has %u dimensions (at most 4)", (int)nlen, name, t->n_dims);
      goto bad;
    }
    for (uint32_t d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
      if (rd_u64(&r, &t->ne[d], "tensor dimensions")) goto bad;
    if (rd_u32(&r, &t->type, "tensor type") || rd_u64(&r, &off, "tensor offset")) goto bad;
    if (tensor_bytes(t, &r)) goto bad;
    if (off % ctx->alignment) {
      fail(&r, "tensor %.*s: offset %llu is not a multiple of the alignment %u", (int)nlen,
           name, (unsigned long long)off, ctx->alignment);
      goto bad;
    }
    t->offset = off;
    uint32_t *slot = probe(ctx->tensor_index, ctx->tensor_cap, ctx->tensors, tensor_name,
                           name, t->name_len);
    if (*slot) {
      fail(&r, "duplicate tensor %.*s", (int)nlen, name);
      goto bad;
    }
    *slot = i + 1;
  }
  uint64_t data = r.pos + (ctx->alignment - r.pos % ctx->alignment) % ctx->alignment;
  if (ctx->n_tensors && data > len) {
    fail(&r, "file truncated before the tensor data (byte %llu of %llu)",
         (unsigned long long)data, (unsigned long long)len);
    goto bad;
  }
  ctx->data_offset = data;
  for (uint32_t i = 0; i < ctx->n_tensors; i++) {
    gguf_tensor *t = &ctx->tensors[i];
    uint64_t off = t->offset;
    if (off > len - data || t->size > len - data - off) {
      fail(&r, "tensor %.*s: data [%llu, +%llu) runs past the end of the file",
           (int)t->name_len, t->name, (unsigned long long)off, (unsigned long long)t->size);
      goto bad;
    }
    t->data = buf + data + off;
  }
  return 0;
bad:
  gguf_free(ctx);
  return -1;
}

void gguf_free(gguf_ctx *ctx) {
  free(ctx->kv);
  free(ctx->tensors);
  free(ctx->kv_index);
  free(ctx->tensor_index);
  memset(ctx, 0, sizeof *ctx);
}

const gguf_kv *gguf_find_kv(const gguf_ctx *ctx, const char *key) {
  if (!ctx->kv_index) return NULL;
  uint32_t *slot = probe(ctx->kv_index, ctx->kv_cap, ctx->kv, kv_name, key,
                         (uint32_t)strlen(key));
  return *slot ? &ctx->kv[*slot - 1] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_ctx *ctx, const char *name) {
  if (!ctx->tensor_index) return NULL;
  uint32_t *slot = probe(ctx->tensor_index, ctx->tensor_cap, ctx->tensors, tensor_name,
                         name, (uint32_t)strlen(name));
  return *slot ? &ctx->tensors[*slot - 1] : NULL;
}

int gguf_kv_int(const gguf_kv *kv, int64_t *out) {
  const uint8_t *v = kv->val;
  switch (kv->type) {
  case GGUF_UINT8: *out = v[0]; return 0;
  case GGUF_INT8: *out = (int8_t)v[0]; return 0;
  case GGUF_BOOL: *out = v[0] != 0; return 0;
  case GGUF_UINT16: { uint16_t x; memcpy(&x, v, 2); *out = x; return 0; }
  case GGUF_INT16: { int16_t x; memcpy(&x, v, 2); *out = x; return 0; }
  case GGUF_UINT32: { uint32_t x; memcpy(&x, v, 4); *out = x; return 0; }
  case GGUF_INT32: { int32_t x; memcpy(&x, v, 4); *out = x; return 0; }
  case GGUF_INT64: { int64_t x; memcpy(&x, v, 8); *out = x; return 0; }
  case GGUF_UINT64: {
    uint64_t x;
    memcpy(&x, v, 8);
    if (x > INT64_MAX) return -1;
    *out = (int64_t)x;
    return 0;
  }
  default: return -1;
  }
}

int gguf_kv_float(const gguf_kv *kv, double *out) {
  if (kv->type == GGUF_FLOAT32) {
    float f;
    memcpy(&f, kv->val, 4);
    *out = f;
    return 0;
  }
  if (kv->type == GGUF_FLOAT64) {
    memcpy(out, kv->val, 8);
    return 0;
  }
  return -1;
}

void gguf_kv_array_strs(const gguf_kv *kv, const char **s, uint32_t *len) {
  const uint8_t *p = kv->val;
  for (uint64_t i = 0; i < kv->arr_n; i++) {
    uint64_t l;
    memcpy(&l, p, 8);
    s[i] = (const char *)p + 8;
    len[i] = (uint32_t)l;
    p += 8 + l;
  }
}

const char *gguf_type_name(uint32_t type) {
  switch (type) {
  case GGML_F32: return "F32";
  case GGML_F16: return "F16";
  case GGML_Q8_0: return "Q8_0";
  default: return "unknown";
  }
}
