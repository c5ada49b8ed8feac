/*
 * Unicode tables for the BERT tokenizer (internal to the guest).
 *
 * unicode_tables.c is generated from Go's Unicode data by
 * internal/unicodegen (`go generate ./guest/`); do not edit it. Every table
 * is sorted so tokenizer.c can binary-search it; encodings are described
 * beside each declaration and in the generator.
 */
#ifndef EDGESEARCH_UNICODE_H
#define EDGESEARCH_UNICODE_H

#include <stdint.h>

/* What BERT's normalizer and pre-tokenizer do with a code point. */
enum es_uc_class {
    ES_UC_OTHER = 0,   /* kept */
    ES_UC_CONTROL = 1, /* removed by clean_text (also NUL and U+FFFD) */
    ES_UC_SPACE = 2,   /* word break */
    ES_UC_PUNCT = 3,   /* a word of its own */
    ES_UC_MARK = 4,    /* non-spacing mark, ccc > 0: dropped */
    ES_UC_MARK0 = 5,   /* non-spacing mark, ccc = 0: dropped, blocks reordering */
    ES_UC_CJK = 6      /* CJK ideograph: a word of its own */
};

/* Runs of equal class: start << 8 | class, ascending start, first is 0. */
extern const uint32_t es_uc_class_runs_n;
extern const uint32_t es_uc_class_runs[];

/* Combining class of characters that survive stripping: cp << 8 | ccc. */
extern const uint32_t es_uc_ccc_n;
extern const uint32_t es_uc_ccc[];

/*
 * NFD without non-spacing marks, Hangul syllables excepted.
 * es_uc_decomp16: key << 16 | value for a BMP key with one BMP value.
 * es_uc_decomp_keys/vals: any other key; a value is a code point, or
 * ES_UC_POOL | index << 4 | count into es_uc_decomp_pool.
 */
#define ES_UC_POOL 0x80000000u
#define ES_UC_MAX_DECOMP 15
extern const uint32_t es_uc_decomp16_n;
extern const uint32_t es_uc_decomp16[];
extern const uint32_t es_uc_decomp_keys_n;
extern const uint32_t es_uc_decomp_keys[];
extern const uint32_t es_uc_decomp_vals_n;
extern const uint32_t es_uc_decomp_vals[];
extern const uint32_t es_uc_decomp_pool_n;
extern const uint32_t es_uc_decomp_pool[];

/*
 * Lowercase runs, two words each: lo << 11 | (count - 1), then
 * (delta << 1) | stride2. The characters lo, lo + stride, ... (count of them)
 * lowercase to themselves plus delta (a signed 31-bit value).
 */
extern const uint32_t es_uc_lower_runs_n;
extern const uint32_t es_uc_lower_runs[];

#endif
