package model

import (
	"errors"
	"math"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

// Sentinel errors; compare with errors.Is.
var (
	// ErrBadSafetensors means a .safetensors file is truncated or its header
	// is malformed or points outside the file.
	ErrBadSafetensors = errors.New("malformed safetensors file")
	// ErrBadConfig means config.json or a tokenizer file is missing a field,
	// has an impossible value, or disagrees with the weights.
	ErrBadConfig = errors.New("bad model config")
	// ErrUnsupported means the folder holds a model or dtype Convert does
	// not handle (only BERT-family encoders with F32/F16/BF16 weights).
	ErrUnsupported = errors.New("unsupported model")
	// ErrChecksum means a download's sha256 differs from the published one.
	ErrChecksum = errors.New("checksum mismatch")
)

func float32frombits(b uint32) float32 { return math.Float32frombits(b) }
func f16(h uint16) float32             { return gguf.F16ToF32(h) }
func bf16(h uint16) float32            { return gguf.BF16ToF32(h) }
