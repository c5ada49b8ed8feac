package hostkernels

import "math"

// HalfToFloat widens an IEEE half-precision value to float32, exactly:
// normals and subnormals by moving exponent and mantissa into place and
// scaling by 2^112 (which rebiases one and normalises the other), with
// infinities and NaNs patched afterwards.
func HalfToFloat(h uint16) float32 {
	v := math.Float32frombits(uint32(h&0x7fff)<<13) * 0x1p112
	bits := math.Float32bits(v)
	if h&0x7c00 == 0x7c00 {
		bits |= 0x7f800000
	}
	return math.Float32frombits(bits | uint32(h&0x8000)<<16)
}
