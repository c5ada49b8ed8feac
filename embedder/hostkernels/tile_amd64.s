#include "textflag.h"

// The kernels behind tileF32 and tileF16 (tile_amd64.go): six rows of x
// against one panel of sixteen weight columns, AVX2 with FMA. Per input t
// the panel's sixteen weights are two 8-lane vectors (F16C widens half
// ones on the fly), each row's x[t] is broadcast, and twelve FMAs add into
// twelve accumulators: Y0..Y11, row r in Y(2r) (columns 0-7) and Y(2r+1).
// The loads stay within what the Go side checked; k > 0.
//
// Registers: R8..R13 the six rows of x, AX the input t, CX k, DX the
// panel; Y12, Y13 the weights of t, Y14, Y15 broadcasts.

#define ZERO12 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11

// ROWS loads the six row pointers: x + offs[r]*4.
#define ROWS \
	MOVQ x+0(FP), SI \
	MOVQ offs+8(FP), DI \
	MOVQ 0(DI), R8 \
	LEAQ (SI)(R8*4), R8 \
	MOVQ 8(DI), R9 \
	LEAQ (SI)(R9*4), R9 \
	MOVQ 16(DI), R10 \
	LEAQ (SI)(R10*4), R10 \
	MOVQ 24(DI), R11 \
	LEAQ (SI)(R11*4), R11 \
	MOVQ 32(DI), R12 \
	LEAQ (SI)(R12*4), R12 \
	MOVQ 40(DI), R13 \
	LEAQ (SI)(R13*4), R13 \
	MOVQ w+16(FP), DX \
	MOVQ k+24(FP), CX \
	XORQ AX, AX

// FMA12 multiplies the weights of t (Y12, Y13) by each row's x[t].
#define FMA12 \
	VBROADCASTSS (R8)(AX*4), Y14 \
	VFMADD231PS Y12, Y14, Y0 \
	VFMADD231PS Y13, Y14, Y1 \
	VBROADCASTSS (R9)(AX*4), Y15 \
	VFMADD231PS Y12, Y15, Y2 \
	VFMADD231PS Y13, Y15, Y3 \
	VBROADCASTSS (R10)(AX*4), Y14 \
	VFMADD231PS Y12, Y14, Y4 \
	VFMADD231PS Y13, Y14, Y5 \
	VBROADCASTSS (R11)(AX*4), Y15 \
	VFMADD231PS Y12, Y15, Y6 \
	VFMADD231PS Y13, Y15, Y7 \
	VBROADCASTSS (R12)(AX*4), Y14 \
	VFMADD231PS Y12, Y14, Y8 \
	VFMADD231PS Y13, Y14, Y9 \
	VBROADCASTSS (R13)(AX*4), Y15 \
	VFMADD231PS Y12, Y15, Y10 \
	VFMADD231PS Y13, Y15, Y11

// STORE adds the bias and writes the six rows of sixteen floats.
#define STORE \
	MOVQ y+32(FP), DI \
	MOVQ ldy+40(FP), BX \
	SHLQ $2, BX \
	MOVQ bias+48(FP), R8 \
	VMOVUPS (R8), Y12 \
	VMOVUPS 32(R8), Y13 \
	VADDPS Y12, Y0, Y0 \
	VADDPS Y13, Y1, Y1 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI) \
	ADDQ BX, DI \
	VADDPS Y12, Y2, Y2 \
	VADDPS Y13, Y3, Y3 \
	VMOVUPS Y2, (DI) \
	VMOVUPS Y3, 32(DI) \
	ADDQ BX, DI \
	VADDPS Y12, Y4, Y4 \
	VADDPS Y13, Y5, Y5 \
	VMOVUPS Y4, (DI) \
	VMOVUPS Y5, 32(DI) \
	ADDQ BX, DI \
	VADDPS Y12, Y6, Y6 \
	VADDPS Y13, Y7, Y7 \
	VMOVUPS Y6, (DI) \
	VMOVUPS Y7, 32(DI) \
	ADDQ BX, DI \
	VADDPS Y12, Y8, Y8 \
	VADDPS Y13, Y9, Y9 \
	VMOVUPS Y8, (DI) \
	VMOVUPS Y9, 32(DI) \
	ADDQ BX, DI \
	VADDPS Y12, Y10, Y10 \
	VADDPS Y13, Y11, Y11 \
	VMOVUPS Y10, (DI) \
	VMOVUPS Y11, 32(DI) \
	VZEROUPPER

// func tileF32Kernel(x *float32, offs *[6]int, w *float32, k int, y *float32, ldy int, bias *[16]float32)
TEXT ·tileF32Kernel(SB), NOSPLIT, $0-56
	ROWS
	ZERO12
loop:
	PREFETCHT0 8192(DX)
	VMOVUPS (DX), Y12
	VMOVUPS 32(DX), Y13
	FMA12
	ADDQ $64, DX
	INCQ AX
	CMPQ AX, CX
	JB   loop
	STORE
	RET

// func tileF16Kernel(x *float32, offs *[6]int, w *uint16, k int, y *float32, ldy int, bias *[16]float32)
TEXT ·tileF16Kernel(SB), NOSPLIT, $0-56
	ROWS
	ZERO12
loop:
	PREFETCHT0 4096(DX)
	VCVTPH2PS (DX), Y12
	VCVTPH2PS 16(DX), Y13
	FMA12
	ADDQ $32, DX
	INCQ AX
	CMPQ AX, CX
	JB   loop
	STORE
	RET

// func tileQ8Kernel(x *float32, offs *[6]int, w *byte, k int, y *float32, ldy int, bias *[16]float32)
// Per block of 32 inputs: sixteen float32 scales, then 32 steps of sixteen
// int8, which widen (VPMOVSXBD, VCVTDQ2PS) and scale to the weights of the
// step; k is a positive multiple of 32.
TEXT ·tileQ8Kernel(SB), NOSPLIT, $0-56
	ROWS
	ZERO12
	SHRQ $5, CX
block:
	MOVQ DX, BX
	ADDQ $64, DX
	MOVQ $32, DI
step:
	PREFETCHT0 2048(DX)
	VPMOVSXBD (DX), Y12
	VPMOVSXBD 8(DX), Y13
	VCVTDQ2PS Y12, Y12
	VCVTDQ2PS Y13, Y13
	VMULPS (BX), Y12, Y12
	VMULPS 32(BX), Y13, Y13
	FMA12
	ADDQ $16, DX
	INCQ AX
	DECQ DI
	JNZ  step
	DECQ CX
	JNZ  block
	STORE
	RET

// The two-panel kernels behind tileF32x2 and tileF16x2 (AVX-512F): six
// rows against 32 columns, the first panel at DX and the second k steps
// of sixteen weights further (SI). Per input t each panel's sixteen
// weights fill one 16-lane Z register (Z12, Z13), and twelve FMAs add into
// Z0..Z11: row r in Z(2r) (first panel) and Z(2r+1). ZERO12's VEX-encoded
// VXORPS clears the registers' whole 512 bits.

// FMA12Z is FMA12 on Z registers.
#define FMA12Z \
	VBROADCASTSS (R8)(AX*4), Z14 \
	VFMADD231PS Z12, Z14, Z0 \
	VFMADD231PS Z13, Z14, Z1 \
	VBROADCASTSS (R9)(AX*4), Z15 \
	VFMADD231PS Z12, Z15, Z2 \
	VFMADD231PS Z13, Z15, Z3 \
	VBROADCASTSS (R10)(AX*4), Z14 \
	VFMADD231PS Z12, Z14, Z4 \
	VFMADD231PS Z13, Z14, Z5 \
	VBROADCASTSS (R11)(AX*4), Z15 \
	VFMADD231PS Z12, Z15, Z6 \
	VFMADD231PS Z13, Z15, Z7 \
	VBROADCASTSS (R12)(AX*4), Z14 \
	VFMADD231PS Z12, Z14, Z8 \
	VFMADD231PS Z13, Z14, Z9 \
	VBROADCASTSS (R13)(AX*4), Z15 \
	VFMADD231PS Z12, Z15, Z10 \
	VFMADD231PS Z13, Z15, Z11

// STOREZ adds the 32 biases and writes the six rows of 32 floats.
#define STOREZ \
	MOVQ y+32(FP), DI \
	MOVQ ldy+40(FP), BX \
	SHLQ $2, BX \
	MOVQ bias+48(FP), R8 \
	VMOVUPS (R8), Z12 \
	VMOVUPS 64(R8), Z13 \
	VADDPS Z12, Z0, Z0 \
	VADDPS Z13, Z1, Z1 \
	VMOVUPS Z0, (DI) \
	VMOVUPS Z1, 64(DI) \
	ADDQ BX, DI \
	VADDPS Z12, Z2, Z2 \
	VADDPS Z13, Z3, Z3 \
	VMOVUPS Z2, (DI) \
	VMOVUPS Z3, 64(DI) \
	ADDQ BX, DI \
	VADDPS Z12, Z4, Z4 \
	VADDPS Z13, Z5, Z5 \
	VMOVUPS Z4, (DI) \
	VMOVUPS Z5, 64(DI) \
	ADDQ BX, DI \
	VADDPS Z12, Z6, Z6 \
	VADDPS Z13, Z7, Z7 \
	VMOVUPS Z6, (DI) \
	VMOVUPS Z7, 64(DI) \
	ADDQ BX, DI \
	VADDPS Z12, Z8, Z8 \
	VADDPS Z13, Z9, Z9 \
	VMOVUPS Z8, (DI) \
	VMOVUPS Z9, 64(DI) \
	ADDQ BX, DI \
	VADDPS Z12, Z10, Z10 \
	VADDPS Z13, Z11, Z11 \
	VMOVUPS Z10, (DI) \
	VMOVUPS Z11, 64(DI) \
	VZEROUPPER

// func tileF32x2Kernel(x *float32, offs *[6]int, w *float32, k int, y *float32, ldy int, bias *[32]float32)
TEXT ·tileF32x2Kernel(SB), NOSPLIT, $0-56
	ROWS
	MOVQ CX, BX
	SHLQ $6, BX
	LEAQ (DX)(BX*1), SI
	ZERO12
loop:
	PREFETCHT0 8192(DX)
	PREFETCHT0 8192(SI)
	VMOVUPS (DX), Z12
	VMOVUPS (SI), Z13
	FMA12Z
	ADDQ $64, DX
	ADDQ $64, SI
	INCQ AX
	CMPQ AX, CX
	JB   loop
	STOREZ
	RET

// func tileF16x2Kernel(x *float32, offs *[6]int, w *uint16, k int, y *float32, ldy int, bias *[32]float32)
TEXT ·tileF16x2Kernel(SB), NOSPLIT, $0-56
	ROWS
	MOVQ CX, BX
	SHLQ $5, BX
	LEAQ (DX)(BX*1), SI
	ZERO12
loop:
	PREFETCHT0 4096(DX)
	PREFETCHT0 4096(SI)
	VCVTPH2PS (DX), Z12
	VCVTPH2PS (SI), Z13
	FMA12Z
	ADDQ $32, DX
	ADDQ $32, SI
	INCQ AX
	CMPQ AX, CX
	JB   loop
	STOREZ
	RET

// func tileQ8x2Kernel(x *float32, offs *[6]int, w *byte, k int, y *float32, ldy int, bias *[32]float32)
// tileQ8Kernel on two adjacent panels: the second is R14 =
// Q8PanelBytes(k) bytes after the first, its scales and steps at the same
// offsets; VPMOVSXBD widens sixteen int8 into a Z register at once.
TEXT ·tileQ8x2Kernel(SB), NOSPLIT, $0-56
	ROWS
	MOVQ CX, R14
	SHRQ $5, R14
	IMUL3Q $576, R14, R14
	ZERO12
	SHRQ $5, CX
block:
	MOVQ DX, BX
	ADDQ $64, DX
	MOVQ $32, DI
step:
	PREFETCHT0 2048(DX)
	PREFETCHT0 2048(DX)(R14*1)
	VPMOVSXBD (DX), Z12
	VPMOVSXBD (DX)(R14*1), Z13
	VCVTDQ2PS Z12, Z12
	VCVTDQ2PS Z13, Z13
	VMULPS (BX), Z12, Z12
	VMULPS (BX)(R14*1), Z13, Z13
	FMA12Z
	ADDQ $16, DX
	INCQ AX
	DECQ DI
	JNZ  step
	DECQ CX
	JNZ  block
	STOREZ
	RET

// func hasF16C() bool: CPUID leaf 1, ECX bit 29.
TEXT ·hasF16C(SB), NOSPLIT, $0-1
	MOVL $1, AX
	XORL CX, CX
	CPUID
	SHRL $29, CX
	ANDL $1, CX
	MOVB CX, ret+0(FP)
	RET
