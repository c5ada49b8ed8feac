/*
 * GGUF reader (versions 2 and 3).
 *
 * gguf_parse validates the whole header, metadata and tensor table against
 * the buffer before anything is used: every length is checked before it is
 * read and every size read from the file is checked for overflow, so a
 * corrupt or hostile file yields an error message, never an out-of-bounds
 * read. The parsed context points into the caller's buffer, which must
 * outlive it.
 */
#ifndef EDGESEARCH_GGUF_H
#define EDGESEARCH_GGUF_H

#include <stddef.h>
#include <stdint.h>

/* Metadata value types, as numbered by the GGUF specification. */
enum gguf_type {
  GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3,
  GGUF_UINT32 = 4, GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7,
  GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
  GGUF_FLOAT64 = 12,
};

/* Tensor element types we can read, numbered as ggml numbers them. */
enum ggml_type { GGML_F32 = 0, GGML_F16 = 1, GGML_Q8_0 = 8 };

/* Q8_0: blocks of 32 weights, an f16 scale then 32 int8. */
enum { Q8_0_BLOCK = 32, Q8_0_BYTES = 34 };

typedef struct {
  const char *key;
  uint32_t key_len;
  uint32_t type;      /* enum gguf_type */
  uint32_t arr_type;  /* element type when type is GGUF_ARRAY */
  uint64_t arr_n;     /* element count when type is GGUF_ARRAY */
  const uint8_t *val; /* the value's bytes (after the array header) */
  uint64_t val_len;   /* string length for GGUF_STRING */
} gguf_kv;

typedef struct {
  const char *name;
  uint32_t name_len;
  uint32_t n_dims;
  uint64_t ne[4];     /* ne[0] varies fastest; unused dims are 1 */
  uint32_t type;      /* enum ggml_type */
  uint64_t n_elem;
  uint64_t size;      /* bytes */
  uint64_t offset;    /* from the start of the data section */
  const uint8_t *data;
} gguf_tensor;

typedef struct {
  uint32_t version;
  uint64_t n_kv, n_tensors;
  gguf_kv *kv;
  gguf_tensor *tensors;
  uint32_t alignment;
  uint64_t data_offset;
  uint32_t *kv_index, *tensor_index; /* open-addressing hash tables */
  uint32_t kv_cap, tensor_cap;
} gguf_ctx;

/* Returns 0 on success, -1 with a message in err on failure. */
int gguf_parse(gguf_ctx *ctx, const uint8_t *buf, size_t len, char *err,
               size_t errcap);
void gguf_free(gguf_ctx *ctx);

const gguf_kv *gguf_find_kv(const gguf_ctx *ctx, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_ctx *ctx, const char *name);

/* Integer value of any integer kind that fits in int64; -1 if not one. */
int gguf_kv_int(const gguf_kv *kv, int64_t *out);
/* Float value of a FLOAT32 or FLOAT64; -1 if not one. */
int gguf_kv_float(const gguf_kv *kv, double *out);
/* Walks an array of strings in order, filling s and len (arr_n entries). */
void gguf_kv_array_strs(const gguf_kv *kv, const char **s, uint32_t *len);

const char *gguf_type_name(uint32_t type);

#endif
