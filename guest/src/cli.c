/*
 * Standalone WASI command: the same module the host embeds also runs under
 * any WASI runtime,
 *
 *   wazero run --mount .:/ edgesearch.wasm model.gguf "text one" "text two"
 *
 * printing {"n_embedding":N,"embedding":[...]} per text, one per line; with
 * no texts it embeds each line of standard input. The module is built as a
 * reactor (so hosts can call the ABI after _initialize), and this _start
 * runs the C constructors itself when the runtime has not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "edgesearch.h"

extern void __wasm_call_ctors(void);

/* volatile: otherwise the compiler evaluates the constructor at build time,
 * the flag starts out as 1 and the check below disappears. */
static volatile int ctors_ran;
__attribute__((constructor)) static void note_ctors(void) { ctors_ran = 1; }

enum { BATCH = 16 };

static int die(const char *fmt, const char *arg, const char *detail) {
  fprintf(stderr, "edgesearch: ");
  fprintf(stderr, fmt, arg, detail);
  fputc('\n', stderr);
  return 1;
}

static int load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return die("cannot open model %s: %s", path, "check the path and the runtime's --dir/--mount");
  if (fseek(f, 0, SEEK_END) != 0) return die("cannot read model %s: %s", path, "seek failed");
  long size = ftell(f);
  if (size < 0 || (unsigned long)size > UINT32_MAX) {
    fclose(f);
    return die("cannot read model %s: %s", path, "size unknown or above 4 GiB");
  }
  rewind(f);
  uint8_t *buf = es_malloc((uint32_t)size);
  if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
    fclose(f);
    es_free(buf);
    return die("cannot read model %s: %s", path, buf ? "short read" : "out of memory");
  }
  fclose(f);
  if (es_load(buf, (uint32_t)size) != 0) return die("model %s: %s", path, es_last_error());
  return 0;
}

/* Embeds n texts and prints one JSON line each. */
static int embed(char **texts, uint32_t *lens, int n) {
  int32_t dim = es_n_embd();
  size_t total = 0;
  for (int i = 0; i < n; i++) total += lens[i];
  uint8_t *packed = malloc(total ? total : 1);
  float *out = malloc((size_t)n * (size_t)dim * sizeof(float));
  if (!packed || !out) {
    free(packed);
    free(out);
    return die("%s%s", "out of memory", "");
  }
  for (size_t i = 0, off = 0; i < (size_t)n; off += lens[i], i++)
    memcpy(packed + off, texts[i], lens[i]);
  int rc = 0;
  if (es_embed_batch(packed, lens, n, out, NULL) != 0) {
    rc = die("embed: %s%s", es_last_error(), "");
  } else {
    for (int i = 0; i < n; i++) {
      printf("{\"n_embedding\":%d,\"embedding\":[", dim);
      for (int32_t j = 0; j < dim; j++)
        printf(j ? ",%.7g" : "%.7g", (double)out[(size_t)i * dim + j]);
      fputs("]}\n", stdout);
    }
  }
  free(packed);
  free(out);
  return rc;
}

static int run_stdin(void) {
  char *texts[BATCH] = {0};
  uint32_t lens[BATCH];
  size_t caps[BATCH] = {0};
  int n = 0, rc = 0;
  for (;;) {
    ssize_t got = getline(&texts[n], &caps[n], stdin);
    if (got >= 0) {
      if (got > 0 && texts[n][got - 1] == '\n') got--;
      if (got > 0 && texts[n][got - 1] == '\r') got--;
      lens[n++] = (uint32_t)got;
    }
    if (n > 0 && (n == BATCH || got < 0)) {
      rc = embed(texts, lens, n);
      fflush(stdout);
      n = 0;
      if (rc) break;
    }
    if (got < 0) break;
  }
  for (int i = 0; i < BATCH; i++) free(texts[i]);
  return rc;
}

static int run(void) {
  __wasi_size_t argc, size;
  if (__wasi_args_sizes_get(&argc, &size) != 0) return die("%s%s", "cannot read arguments", "");
  char **argv = calloc(argc + 1, sizeof *argv);
  char *buf = malloc(size ? size : 1);
  if (!argv || !buf || __wasi_args_get((uint8_t **)argv, (uint8_t *)buf) != 0)
    return die("%s%s", "cannot read arguments", "");
  if (argc < 2) {
    fprintf(stderr, "usage: edgesearch.wasm MODEL.gguf [TEXT...]\n"
                    "embeds each TEXT (or each line of standard input) and prints one JSON\n"
                    "object per line: {\"n_embedding\":N,\"embedding\":[...]}\n");
    return 1;
  }
  if (load(argv[1])) return 1;
  int rc = 0;
  if (argc == 2) {
    rc = run_stdin();
  } else {
    uint32_t lens[BATCH];
    for (__wasi_size_t i = 2; i < argc && rc == 0; i += BATCH) {
      int n = (int)(argc - i < BATCH ? argc - i : BATCH);
      for (int j = 0; j < n; j++) lens[j] = (uint32_t)strlen(argv[i + j]);
      rc = embed(argv + i, lens, n);
    }
  }
  free(argv);
  free(buf);
  return rc;
}

__attribute__((export_name("_start"))) void _start(void) {
  if (!ctors_ran) __wasm_call_ctors();
  exit(run());
}
