// Package model turns Hugging Face / sentence-transformers BERT folders into
// GGUF files laid out exactly as llama.cpp's convert_hf_to_gguf.py lays them
// out (same keys, value types, tensor names, order, per-tensor types and
// bytes), fetches the default model (Pull), and summarises GGUF files
// (Describe).
//
// Conversion streams: the GGUF header is planned from config.json, the
// tokenizer files and the safetensors header alone, then tensors are read,
// converted and written a slab at a time, so memory stays near the size of
// one slab rather than two copies of the model. Output is written to a
// temporary file in the destination directory and renamed into place, so a
// failed or cancelled conversion never leaves a half-written model behind.
package model
