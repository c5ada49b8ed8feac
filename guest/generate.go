package guest

// src/unicode_tables.c is derived from Go's own Unicode data (plus the reference
// tokenizer's known differences), so regenerating it needs nothing but Go.
//go:generate go run ./internal/unicodegen -o src/unicode_tables.c
