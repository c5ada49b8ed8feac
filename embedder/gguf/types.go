package gguf

import "fmt"

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// Version is the GGUF version this package writes; it reads 2 and 3.
const Version = 3

// DefaultAlignment is the tensor data alignment used when the file has no
// general.alignment key.
const DefaultAlignment = 32

// maxDims is GGML_MAX_DIMS: a tensor has at most four dimensions.
const maxDims = 4

// ValueType is the type tag of a metadata value.
type ValueType uint32

// Metadata value types, numbered as in the GGUF specification.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32",
	"float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (t ValueType) String() string {
	// Compared as a ValueType: as an int, 2^31 and up is negative on a
	// 32-bit build.
	if t < ValueType(len(valueTypeNames)) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// size is the encoded size of a fixed-size scalar, 0 for string and array.
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// TensorType is a ggml tensor element type.
type TensorType uint32

// Tensor types, numbered as in ggml.h. Only those with an entry in
// tensorTypes are understood by the Reader.
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q4_0 TensorType = 2
	Q4_1 TensorType = 3
	Q5_0 TensorType = 6
	Q5_1 TensorType = 7
	Q8_0 TensorType = 8
	Q8_1 TensorType = 9
	Q2_K TensorType = 10
	Q3_K TensorType = 11
	Q4_K TensorType = 12
	Q5_K TensorType = 13
	Q6_K TensorType = 14
	Q8_K TensorType = 15
	I8   TensorType = 24
	I16  TensorType = 25
	I32  TensorType = 26
	I64  TensorType = 27
	F64  TensorType = 28
	BF16 TensorType = 30
)

type typeTraits struct {
	name      string
	blockSize uint64 // elements per block
	typeSize  uint64 // bytes per block
}

var tensorTypes = map[TensorType]typeTraits{
	F32: {"F32", 1, 4}, F16: {"F16", 1, 2}, BF16: {"BF16", 1, 2}, F64: {"F64", 1, 8},
	I8: {"I8", 1, 1}, I16: {"I16", 1, 2}, I32: {"I32", 1, 4}, I64: {"I64", 1, 8},
	Q4_0: {"Q4_0", 32, 18}, Q4_1: {"Q4_1", 32, 20}, Q5_0: {"Q5_0", 32, 22}, Q5_1: {"Q5_1", 32, 24},
	Q8_0: {"Q8_0", 32, 34}, Q8_1: {"Q8_1", 32, 36},
	Q2_K: {"Q2_K", 256, 84}, Q3_K: {"Q3_K", 256, 110}, Q4_K: {"Q4_K", 256, 144},
	Q5_K: {"Q5_K", 256, 176}, Q6_K: {"Q6_K", 256, 210}, Q8_K: {"Q8_K", 256, 292},
}

func (t TensorType) String() string {
	if tr, ok := tensorTypes[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of elements in one block of t (1 for plain types),
// or 0 for a type this package does not know.
func (t TensorType) BlockSize() int { return int(tensorTypes[t].blockSize) }

// DataSize returns the bytes a tensor of type t and shape ne (ggml order,
// innermost dimension first) occupies. It fails for an unknown type, a first
// dimension that is not a whole number of blocks, or a size that overflows.
func DataSize(t TensorType, ne []uint64) (uint64, error) {
	tr, ok := tensorTypes[t]
	if !ok {
		return 0, fmt.Errorf("%w: %v", ErrUnknownType, t)
	}
	if len(ne) == 0 || len(ne) > maxDims {
		return 0, fmt.Errorf("%w: %d dimensions", ErrBadShape, len(ne))
	}
	if ne[0]%tr.blockSize != 0 {
		return 0, fmt.Errorf("%w: first dimension %d is not a multiple of %s block size %d", ErrBadShape, ne[0], t, tr.blockSize)
	}
	n := ne[0] / tr.blockSize * tr.typeSize
	for _, d := range ne[1:] {
		if d != 0 && n > (1<<62)/d {
			return 0, fmt.Errorf("%w: shape %v overflows", ErrBadShape, ne)
		}
		n *= d
	}
	return n, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }
