package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Q8_0Block is the number of values in one Q8_0 block.
const Q8_0Block = 32

// F32ToF16 converts f to IEEE half precision, rounding to nearest even as
// numpy's astype(float16) does, with overflow to infinity and subnormals.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // inf or nan; keep nan quiet
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	case exp > 127+15: // too large for half
		return sign | 0x7c00
	case exp >= 127-14: // normal half
		e := uint32(exp - 127 + 15)
		h := e<<10 | mant>>13
		rest := mant & 0x1fff
		if rest > 0x1000 || (rest == 0x1000 && h&1 == 1) {
			h++ // may carry into the exponent, up to infinity, which is right
		}
		return sign | uint16(h)
	case exp >= 127-25: // subnormal half
		m := mant | 0x800000
		shift := uint32(126 - 14 - exp + 13 + 1) // bits dropped
		h := m >> shift
		rest := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || (rest == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	return sign // underflows to zero
}

// F16ToF32 converts a half-precision value to float32 exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// subnormal: normalise
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// BF16ToF32 converts a bfloat16 value to float32 exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// AppendF32 appends src as little-endian float32.
func AppendF32(dst []byte, src []float32) []byte {
	for _, v := range src {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
	}
	return dst
}

// AppendF16 appends src as little-endian half precision.
func AppendF16(dst []byte, src []float32) []byte {
	for _, v := range src {
		dst = binary.LittleEndian.AppendUint16(dst, F32ToF16(v))
	}
	return dst
}

// AppendQ8_0 appends src as Q8_0 blocks: per 32 values, a half-precision
// scale d = max|x|/127 then 32 int8 values round(x/d), rounding half away
// from zero. Every step is done in float32, as ggml-quants.c and gguf-py's
// quants.py do, so the bytes are identical to theirs. len(src) must be a
// multiple of 32.
func AppendQ8_0(dst []byte, src []float32) ([]byte, error) {
	if len(src)%Q8_0Block != 0 {
		return dst, fmt.Errorf("%w: %d values is not a whole number of Q8_0 blocks", ErrBadShape, len(src))
	}
	for b := 0; b < len(src); b += Q8_0Block {
		blk := src[b : b+Q8_0Block]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		dst = binary.LittleEndian.AppendUint16(dst, F32ToF16(d))
		for _, v := range blk {
			x := float32(v * id) // explicit conversion: no fused rounding
			a := float32(math.Abs(float64(x)))
			fl := float32(math.Floor(float64(a)))
			r := fl + float32(math.Floor(float64(2*(a-fl))))
			if x < 0 {
				r = -r
			}
			dst = append(dst, byte(int8(r)))
		}
	}
	return dst, nil
}
