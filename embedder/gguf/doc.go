// Package gguf reads and writes GGUF version 3 files, the container llama.cpp
// uses for models: a header of typed key/value metadata, a table of tensor
// infos, and aligned tensor data.
//
// The Reader reads only the header and tensor table from an io.ReaderAt; tensor
// data stays on disk until a caller asks for a section of it, so describing a
// model never loads its weights. Every length and count read from a file is
// checked against the file's size before anything is allocated, so a corrupt
// or hostile file gives an error wrapping ErrCorrupt, never a panic or a huge
// allocation.
//
// The Writer streams: tensor infos are declared first (their sizes follow from
// type and shape), the header is written, then tensor data is written in the
// declared order, so a converter never holds more than one tensor in memory.
// Layout, alignment (32 bytes) and the F16/Q8_0 encodings match llama.cpp's
// gguf-py byte for byte.
package gguf
