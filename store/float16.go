package store

import "math"

// maxFloat16 is the largest finite IEEE 754 half-precision value.
const maxFloat16 = 65504

// Float16Bits converts f to IEEE 754 binary16, rounding to nearest even the
// way hardware converters do, so stored vectors match what numpy or a GPU
// would produce for the same input.
func Float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 // quiet NaN
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal in half precision: shift the full significand down and
		// round the bits that fall off.
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - e)
		half := uint32(1) << (shift - 1)
		out := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && out&1 == 1) {
			out++
		}
		return sign | uint16(out)
	}
	out := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	// A carry out of the mantissa correctly bumps the exponent, up to Inf.
	if rem > 0x1000 || (rem == 0x1000 && out&1 == 1) {
		out++
	}
	return sign | uint16(out)
}

// Float16Value converts IEEE 754 binary16 bits to float32 exactly.
func Float16Value(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
