/*
 * BERT uncased WordPiece tokenizer; see tokenizer.h for the contract.
 *
 * The text is normalised and split in one streaming pass: each input
 * character is cleaned, decomposed (NFD), stripped of non-spacing marks and
 * lowercased, and the resulting characters, each carrying the byte span of
 * the input character it came from, are collected into the current word.
 * A word never holds more than ES_MAX_WORD characters: a longer word is
 * [UNK] whatever it contains, so only its length and span are kept. Encoding
 * therefore needs no heap and a fixed amount of stack, and its work is
 * linear in the input (each word position tries at most max_len bytes).
 */
#include "tokenizer.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode.h"

/* The reference's max_input_chars_per_word, counted after normalisation. */
#define ES_MAX_WORD 100

/* Phantom space: how llama.cpp marks a word-start piece (U+2581). */
static const uint8_t phantom[3] = {0xE2, 0x96, 0x81};

/* Largest vocabulary accepted: keeps the hash table size in 32 bits. */
#define ES_MAX_VOCAB (1u << 26)

struct es_tokenizer {
    const char *const *tokens;
    const uint32_t *lens;
    uint32_t n_vocab;
    int32_t unk_id;
    uint32_t max_len;  /* longest token, bytes */
    uint32_t mask;     /* hash slots - 1 */
    uint32_t *slots;   /* token id + 1, 0 when empty */
    uint32_t n_special;
    int32_t *special;  /* ids of bracketed control tokens, matched in raw text */
};

static uint32_t hash_bytes(uint32_t h, const uint8_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t hash_final(uint32_t h) {
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

#define HASH_SEED 2166136261u

/* Id of the token spelled pre[0:npre] + s[0:n], or -1. */
static int32_t lookup(const es_tokenizer *t, const uint8_t *pre, uint32_t npre,
                      const uint8_t *s, uint32_t n) {
    uint32_t h = hash_final(hash_bytes(hash_bytes(HASH_SEED, pre, npre), s, n));
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        uint32_t v = t->slots[i];
        if (v == 0) {
            return -1;
        }
        uint32_t id = v - 1;
        const uint8_t *tok = (const uint8_t *)t->tokens[id];
        if (t->lens[id] == npre + n && (npre == 0 || memcmp(tok, pre, npre) == 0) &&
            (n == 0 || memcmp(tok + npre, s, n) == 0)) {
            return (int32_t)id;
        }
    }
}

/* A control token such as [CLS]: bare (no phantom space) and bracketed. */
static bool is_special(const uint8_t *s, uint32_t n) {
    return n >= 3 && s[0] == '[' && s[n - 1] == ']';
}

static void set_err(char *err, size_t errcap, const char *msg, uint32_t a) {
    if (err != NULL && errcap > 0) {
        snprintf(err, errcap, msg, a);
    }
}

es_tokenizer *es_tokenizer_new(uint32_t n_vocab, const char *const *tokens,
                               const uint32_t *lens, int32_t unk_id,
                               char *err, size_t errcap) {
    if (tokens == NULL || lens == NULL || n_vocab == 0) {
        set_err(err, errcap, "tokenizer: empty vocabulary (%u tokens)", n_vocab);
        return NULL;
    }
    if (n_vocab > ES_MAX_VOCAB) {
        set_err(err, errcap, "tokenizer: vocabulary of %u tokens is too large", n_vocab);
        return NULL;
    }
    if (unk_id < 0 || (uint32_t)unk_id >= n_vocab) {
        set_err(err, errcap, "tokenizer: unknown-token id %u is outside the vocabulary", (uint32_t)unk_id);
        return NULL;
    }
    uint32_t size = 16;
    while (size < 2 * n_vocab) {
        size *= 2;
    }
    es_tokenizer *t = calloc(1, sizeof *t);
    uint32_t *slots = calloc(size, sizeof *slots);
    if (t == NULL || slots == NULL) {
        free(t);
        free(slots);
        set_err(err, errcap, "tokenizer: out of memory for %u tokens", n_vocab);
        return NULL;
    }
    t->tokens = tokens;
    t->lens = lens;
    t->n_vocab = n_vocab;
    t->unk_id = unk_id;
    t->mask = size - 1;
    t->slots = slots;
    uint32_t n_special = 0;
    for (uint32_t id = 0; id < n_vocab; id++) {
        const uint8_t *s = (const uint8_t *)tokens[id];
        uint32_t n = lens[id];
        if (s == NULL && n > 0) {
            set_err(err, errcap, "tokenizer: token %u has no bytes", id);
            es_tokenizer_free(t);
            return NULL;
        }
        if (n > t->max_len) {
            t->max_len = n;
        }
        if (is_special(s, n)) {
            n_special++;
        }
        /* Duplicate spellings keep the first id, as a vocab.txt reader does. */
        if (lookup(t, NULL, 0, s, n) >= 0) {
            continue;
        }
        uint32_t i = hash_final(hash_bytes(HASH_SEED, s, n)) & t->mask;
        while (slots[i] != 0) {
            i = (i + 1) & t->mask;
        }
        slots[i] = id + 1;
    }
    if (n_special > 0) {
        t->special = malloc(n_special * sizeof *t->special);
        if (t->special == NULL) {
            set_err(err, errcap, "tokenizer: out of memory for %u special tokens", n_special);
            es_tokenizer_free(t);
            return NULL;
        }
        for (uint32_t id = 0; id < n_vocab; id++) {
            const uint8_t *s = (const uint8_t *)tokens[id];
            if (is_special(s, lens[id]) && lookup(t, NULL, 0, s, lens[id]) == (int32_t)id) {
                t->special[t->n_special++] = (int32_t)id;
            }
        }
    }
    return t;
}

void es_tokenizer_free(es_tokenizer *t) {
    if (t == NULL) {
        return;
    }
    free(t->slots);
    free(t->special);
    free(t);
}

/* ---- Unicode lookups over the generated tables ---- */

/* Index of the last element whose key (element >> shift) is <= key, or -1. */
static int32_t floor_search(const uint32_t *a, uint32_t n, uint32_t stride,
                            unsigned shift, uint32_t key) {
    uint32_t lo = 0, hi = n / stride;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((a[mid * stride] >> shift) <= key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (int32_t)lo - 1;
}

static int uc_class(uint32_t cp) {
    int32_t i = floor_search(es_uc_class_runs, es_uc_class_runs_n, 1, 8, cp);
    return i < 0 ? ES_UC_OTHER : (int)(es_uc_class_runs[i] & 0xFF);
}

static uint8_t uc_ccc(uint32_t cp) {
    int32_t i = floor_search(es_uc_ccc, es_uc_ccc_n, 1, 8, cp);
    if (i >= 0 && (es_uc_ccc[i] >> 8) == cp) {
        return (uint8_t)(es_uc_ccc[i] & 0xFF);
    }
    return 0;
}

static uint32_t uc_lower(uint32_t cp) {
    if (cp < 0x80) {
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    }
    int32_t i = floor_search(es_uc_lower_runs, es_uc_lower_runs_n, 2, 11, cp);
    if (i < 0) {
        return cp;
    }
    uint32_t w0 = es_uc_lower_runs[2 * i], w1 = es_uc_lower_runs[2 * i + 1];
    uint32_t lo = w0 >> 11, count = (w0 & 0x7FF) + 1, k = cp - lo;
    uint32_t stride = (w1 & 1) ? 2 : 1;
    if (k % stride != 0 || k / stride >= count) {
        return cp;
    }
    /* The delta is a signed 31-bit value in the high bits of w1. */
    int32_t delta = (int32_t)w1 >> 1;
    return (uint32_t)((int32_t)cp + delta);
}

/* Hangul syllables decompose arithmetically into two or three jamo. */
#define HANGUL_S 0xAC00u
#define HANGUL_L 0x1100u
#define HANGUL_V 0x1161u
#define HANGUL_T 0x11A7u
#define HANGUL_NV 21u
#define HANGUL_NT 28u
#define HANGUL_N 11172u

/* NFD of cp without non-spacing marks into out; returns the count (>= 1). */
static uint32_t uc_decompose(uint32_t cp, uint32_t out[ES_UC_MAX_DECOMP]) {
    out[0] = cp;
    if (cp < 0xC0) {
        return 1;
    }
    if (cp - HANGUL_S < HANGUL_N) {
        uint32_t s = cp - HANGUL_S;
        out[0] = HANGUL_L + s / (HANGUL_NV * HANGUL_NT);
        out[1] = HANGUL_V + (s % (HANGUL_NV * HANGUL_NT)) / HANGUL_NT;
        out[2] = HANGUL_T + s % HANGUL_NT;
        return out[2] == HANGUL_T ? 2 : 3;
    }
    if (cp <= 0xFFFF) {
        int32_t i = floor_search(es_uc_decomp16, es_uc_decomp16_n, 1, 16, cp);
        if (i >= 0 && (es_uc_decomp16[i] >> 16) == cp) {
            out[0] = es_uc_decomp16[i] & 0xFFFF;
            return 1;
        }
    }
    int32_t i = floor_search(es_uc_decomp_keys, es_uc_decomp_keys_n, 1, 0, cp);
    if (i < 0 || es_uc_decomp_keys[i] != cp) {
        return 1;
    }
    uint32_t v = es_uc_decomp_vals[i];
    if ((v & ES_UC_POOL) == 0) {
        out[0] = v;
        return 1;
    }
    uint32_t at = (v & ~ES_UC_POOL) >> 4, n = v & 0xF;
    if (n == 0 || at > es_uc_decomp_pool_n || n > es_uc_decomp_pool_n - at) {
        return 1; /* cannot happen with generated tables; keep cp whole */
    }
    memcpy(out, es_uc_decomp_pool + at, n * sizeof *out);
    return n;
}

/* UTF-8 decoder: one code point at p[0:n] (n >= 1); invalid bytes are
 * U+FFFD one byte at a time, as Go's decoder does. */
static uint32_t decode(const uint8_t *p, uint32_t n, uint32_t *size) {
    uint8_t b = p[0];
    *size = 1;
    if (b < 0x80) {
        return b;
    }
    uint32_t need, cp, min;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1, cp = b & 0x1F, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2, cp = b & 0x0F, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3, cp = b & 0x07, min = 0x10000;
    } else {
        return 0xFFFD;
    }
    if (n < need + 1) {
        return 0xFFFD;
    }
    for (uint32_t i = 1; i <= need; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0xFFFD;
        }
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0xFFFD;
    }
    *size = need + 1;
    return cp;
}

static uint32_t encode_utf8(uint32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- encoding ---- */

typedef struct {
    uint32_t cp;
    int32_t start, end; /* byte span of the source character */
    uint8_t ccc;
} wchar;

typedef struct {
    const es_tokenizer *t;
    int32_t *ids, *offsets;
    int32_t cap;
    int32_t n;         /* pieces so far, may exceed cap */
    bool overflow;
    wchar word[ES_MAX_WORD];
    uint32_t stored;   /* characters held in word */
    uint32_t total;    /* characters the word has */
    int32_t word_start, word_end;
    uint32_t fixed;    /* characters before this index may not be reordered */
} encoder;

static void emit(encoder *e, int32_t id, int32_t start, int32_t end) {
    if (e->n == INT32_MAX) {
        e->overflow = true;
        return;
    }
    if (e->n < e->cap) {
        if (e->ids != NULL) {
            e->ids[e->n] = id;
        }
        if (e->offsets != NULL) {
            e->offsets[2 * e->n] = start;
            e->offsets[2 * e->n + 1] = end;
        }
    }
    e->n++;
}

/* Greedy longest-match word pieces of the current word, or one [UNK]. */
static void flush(encoder *e) {
    if (e->total == 0) {
        return;
    }
    const es_tokenizer *t = e->t;
    uint32_t nw = e->stored;
    if (e->total > ES_MAX_WORD) {
        emit(e, t->unk_id, e->word_start, e->word_end);
        goto done;
    }
    uint8_t bytes[ES_MAX_WORD * 4];
    uint32_t pos[ES_MAX_WORD + 1];
    pos[0] = 0;
    for (uint32_t i = 0; i < nw; i++) {
        pos[i + 1] = pos[i] + encode_utf8(e->word[i].cp, bytes + pos[i]);
    }
    int32_t mark = e->n;
    for (uint32_t start = 0; start < nw;) {
        uint32_t npre = start == 0 ? sizeof phantom : 0;
        int32_t id = -1;
        uint32_t end = nw;
        for (; end > start; end--) {
            uint32_t n = pos[end] - pos[start];
            if (n + npre > t->max_len) {
                continue;
            }
            id = lookup(t, phantom, npre, bytes + pos[start], n);
            if (id >= 0) {
                break;
            }
        }
        if (id < 0) {
            e->n = mark;
            emit(e, t->unk_id, e->word[0].start, e->word[nw - 1].end);
            goto done;
        }
        emit(e, id, e->word[start].start, e->word[end - 1].end);
        start = end;
    }
done:
    e->stored = e->total = e->fixed = 0;
}

/* Append one normalised character to the current word, reordering it among
 * the combining characters before it as NFD's canonical ordering would. */
static void push(encoder *e, uint32_t cp, int32_t start, int32_t end) {
    if (e->total == 0) {
        e->word_start = start;
    }
    e->word_end = end;
    e->total++;
    if (e->stored == ES_MAX_WORD || e->total > ES_MAX_WORD) {
        return;
    }
    uint8_t ccc = cp < 0x300 ? 0 : uc_ccc(cp);
    uint32_t at = e->stored;
    while (ccc > 0 && at > e->fixed && e->word[at - 1].ccc > ccc) {
        at--;
    }
    memmove(&e->word[at + 1], &e->word[at], (e->stored - at) * sizeof(wchar));
    e->word[at] = (wchar){cp, start, end, ccc};
    e->stored++;
}

/* Longest special token spelled at p[0:n], or -1; sets *len. */
static int32_t match_special(const es_tokenizer *t, const uint8_t *p, uint32_t n,
                             uint32_t *len) {
    int32_t best = -1;
    *len = 0;
    for (uint32_t i = 0; i < t->n_special; i++) {
        int32_t id = t->special[i];
        uint32_t l = t->lens[id];
        if (l <= n && l > *len && memcmp(p, t->tokens[id], l) == 0) {
            best = id;
            *len = l;
        }
    }
    return best;
}

int32_t es_tokenizer_encode(const es_tokenizer *t, const uint8_t *text,
                            uint32_t len, int32_t *ids, int32_t *offsets,
                            int32_t cap) {
    if (t == NULL || (text == NULL && len > 0) || len > INT32_MAX) {
        return -1;
    }
    if (cap < 0 || (ids == NULL && offsets == NULL)) {
        cap = 0;
    }
    encoder e = {.t = t, .ids = ids, .offsets = offsets, .cap = cap};
    uint32_t i = 0;
    while (i < len) {
        if (text[i] == '[' && t->n_special > 0) {
            /* Special tokens are cut out of the raw text before any
             * normalisation, as the reference's added vocabulary does. */
            uint32_t l;
            int32_t id = match_special(t, text + i, len - i, &l);
            if (id >= 0) {
                flush(&e);
                emit(&e, id, (int32_t)i, (int32_t)(i + l));
                i += l;
                continue;
            }
        }
        uint32_t size;
        uint32_t cp = decode(text + i, len - i, &size);
        int32_t start = (int32_t)i, end = (int32_t)(i + size);
        i += size;
        int cls = uc_class(cp);
        if (cls == ES_UC_CONTROL) {
            continue;
        }
        if (cls == ES_UC_SPACE) {
            flush(&e);
            continue;
        }
        uint32_t d[ES_UC_MAX_DECOMP];
        uint32_t nd = uc_decompose(cp, d);
        if (cls == ES_UC_CJK) {
            flush(&e);
            push(&e, uc_lower(d[0]), start, end);
            flush(&e);
            continue;
        }
        for (uint32_t k = 0; k < nd; k++) {
            int c = k == 0 && nd == 1 && d[0] == cp ? cls : uc_class(d[k]);
            if (c == ES_UC_MARK) {
                continue;
            }
            if (c == ES_UC_MARK0) {
                e.fixed = e.stored;
                continue;
            }
            uint32_t l = uc_lower(d[k]);
            int lc = l == d[k] ? c : uc_class(l);
            if (lc == ES_UC_PUNCT) {
                flush(&e);
                push(&e, l, start, end);
                flush(&e);
            } else if (lc == ES_UC_SPACE) {
                /* The generator rules this out for NFD; lowercasing never
                 * yields a space. Break the word as the pre-tokenizer would. */
                flush(&e);
            } else {
                push(&e, l, start, end);
            }
        }
    }
    flush(&e);
    return e.overflow ? -1 : e.n;
}
