#include "textflag.h"

// The kernels behind dot, l2sq, dotHalf and dotInt8 (vector_arm64.go):
// ARMv8.0 Advanced SIMD (NEON), which every arm64 CPU has, so they run on
// the Pi 4's Cortex-A72 as well as newer cores. Eight 4-lane accumulators,
// 32 elements a round. n is a positive multiple of 32; the Go side checks
// the lengths and adds the tail.
//
// Go's assembler has VLD1, VEOR and VFMLA but not FADD, FADDP, FSUB,
// FCVTL, SXTL or SCVTF on vectors: those are WORDs, each with the
// instruction in ARM syntax beside it. Every WORD was checked by
// assembling its comment with GNU as (binutils-aarch64-linux-gnu 2.40,
// -march=armv8-a, which refuses anything past ARMv8.0) and comparing the
// bytes, and again by disassembling the built kernels with
// aarch64-linux-gnu-objdump.
//
// Registers: R0 a, R1 b, R2 elements left; V0-V7 accumulators, V8-V15
// b widened to float32 (dotHalf, dotInt8), V16-V23 a, V24-V31 b.

// ZERO clears the accumulators.
#define ZERO \
	VEOR V0.B16, V0.B16, V0.B16 \
	VEOR V1.B16, V1.B16, V1.B16 \
	VEOR V2.B16, V2.B16, V2.B16 \
	VEOR V3.B16, V3.B16, V3.B16 \
	VEOR V4.B16, V4.B16, V4.B16 \
	VEOR V5.B16, V5.B16, V5.B16 \
	VEOR V6.B16, V6.B16, V6.B16 \
	VEOR V7.B16, V7.B16, V7.B16

// REDUCE sums V0..V7 into F0 (V0's lowest lane), pairwise.
#define REDUCE \
	WORD $0x4e21d400 /* fadd v0.4s, v0.4s, v1.4s */ \
	WORD $0x4e23d442 /* fadd v2.4s, v2.4s, v3.4s */ \
	WORD $0x4e25d484 /* fadd v4.4s, v4.4s, v5.4s */ \
	WORD $0x4e27d4c6 /* fadd v6.4s, v6.4s, v7.4s */ \
	WORD $0x4e22d400 /* fadd v0.4s, v0.4s, v2.4s */ \
	WORD $0x4e26d484 /* fadd v4.4s, v4.4s, v6.4s */ \
	WORD $0x4e24d400 /* fadd v0.4s, v0.4s, v4.4s */ \
	WORD $0x6e20d400 /* faddp v0.4s, v0.4s, v0.4s */ \
	WORD $0x7e30d800 /* faddp s0, v0.2s */

// LOADA loads a's 32 float32 into V16..V23 and advances R0.
#define LOADA \
	VLD1.P 64(R0), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VLD1.P 64(R0), [V20.S4, V21.S4, V22.S4, V23.S4]

// FMLA8 adds V16..V23 × V8..V15 into the accumulators.
#define FMLA8 \
	VFMLA V8.S4, V16.S4, V0.S4 \
	VFMLA V9.S4, V17.S4, V1.S4 \
	VFMLA V10.S4, V18.S4, V2.S4 \
	VFMLA V11.S4, V19.S4, V3.S4 \
	VFMLA V12.S4, V20.S4, V4.S4 \
	VFMLA V13.S4, V21.S4, V5.S4 \
	VFMLA V14.S4, V22.S4, V6.S4 \
	VFMLA V15.S4, V23.S4, V7.S4

// func dotKernel(a, b *float32, n int) float32
TEXT ·dotKernel(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	ZERO
loop:
	LOADA
	VLD1.P 64(R1), [V24.S4, V25.S4, V26.S4, V27.S4]
	VLD1.P 64(R1), [V28.S4, V29.S4, V30.S4, V31.S4]
	VFMLA V24.S4, V16.S4, V0.S4
	VFMLA V25.S4, V17.S4, V1.S4
	VFMLA V26.S4, V18.S4, V2.S4
	VFMLA V27.S4, V19.S4, V3.S4
	VFMLA V28.S4, V20.S4, V4.S4
	VFMLA V29.S4, V21.S4, V5.S4
	VFMLA V30.S4, V22.S4, V6.S4
	VFMLA V31.S4, V23.S4, V7.S4
	SUBS $32, R2
	BNE  loop
	REDUCE
	FMOVS F0, ret+24(FP)
	RET

// func l2sqKernel(a, b *float32, n int) float32
TEXT ·l2sqKernel(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	ZERO
loop:
	LOADA
	VLD1.P 64(R1), [V24.S4, V25.S4, V26.S4, V27.S4]
	VLD1.P 64(R1), [V28.S4, V29.S4, V30.S4, V31.S4]
	WORD $0x4eb8d610 // fsub v16.4s, v16.4s, v24.4s
	WORD $0x4eb9d631 // fsub v17.4s, v17.4s, v25.4s
	WORD $0x4ebad652 // fsub v18.4s, v18.4s, v26.4s
	WORD $0x4ebbd673 // fsub v19.4s, v19.4s, v27.4s
	WORD $0x4ebcd694 // fsub v20.4s, v20.4s, v28.4s
	WORD $0x4ebdd6b5 // fsub v21.4s, v21.4s, v29.4s
	WORD $0x4ebed6d6 // fsub v22.4s, v22.4s, v30.4s
	WORD $0x4ebfd6f7 // fsub v23.4s, v23.4s, v31.4s
	VFMLA V16.S4, V16.S4, V0.S4
	VFMLA V17.S4, V17.S4, V1.S4
	VFMLA V18.S4, V18.S4, V2.S4
	VFMLA V19.S4, V19.S4, V3.S4
	VFMLA V20.S4, V20.S4, V4.S4
	VFMLA V21.S4, V21.S4, V5.S4
	VFMLA V22.S4, V22.S4, V6.S4
	VFMLA V23.S4, V23.S4, V7.S4
	SUBS $32, R2
	BNE  loop
	REDUCE
	FMOVS F0, ret+24(FP)
	RET

// func dotHalfKernel(a *float32, b *uint16, n int) float32
// b's binary16 values widen to float32 with FCVTL/FCVTL2 (ARMv8.0, exact:
// every binary16 is a float32).
TEXT ·dotHalfKernel(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	ZERO
loop:
	LOADA
	VLD1.P 64(R1), [V24.H8, V25.H8, V26.H8, V27.H8]
	WORD $0x0e217b08 // fcvtl v8.4s, v24.4h
	WORD $0x4e217b09 // fcvtl2 v9.4s, v24.8h
	WORD $0x0e217b2a // fcvtl v10.4s, v25.4h
	WORD $0x4e217b2b // fcvtl2 v11.4s, v25.8h
	WORD $0x0e217b4c // fcvtl v12.4s, v26.4h
	WORD $0x4e217b4d // fcvtl2 v13.4s, v26.8h
	WORD $0x0e217b6e // fcvtl v14.4s, v27.4h
	WORD $0x4e217b6f // fcvtl2 v15.4s, v27.8h
	FMLA8
	SUBS $32, R2
	BNE  loop
	REDUCE
	FMOVS F0, ret+24(FP)
	RET

// func dotInt8Kernel(a *float32, b *int8, n int) float32
// b's codes widen to int16, then int32 (SXTL/SXTL2), then convert to
// float32 (SCVTF), exactly.
TEXT ·dotInt8Kernel(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	ZERO
loop:
	LOADA
	VLD1.P 32(R1), [V24.B16, V25.B16]
	WORD $0x0f08a71a // sxtl v26.8h, v24.8b
	WORD $0x4f08a71b // sxtl2 v27.8h, v24.16b
	WORD $0x0f08a73c // sxtl v28.8h, v25.8b
	WORD $0x4f08a73d // sxtl2 v29.8h, v25.16b
	WORD $0x0f10a748 // sxtl v8.4s, v26.4h
	WORD $0x4f10a749 // sxtl2 v9.4s, v26.8h
	WORD $0x0f10a76a // sxtl v10.4s, v27.4h
	WORD $0x4f10a76b // sxtl2 v11.4s, v27.8h
	WORD $0x0f10a78c // sxtl v12.4s, v28.4h
	WORD $0x4f10a78d // sxtl2 v13.4s, v28.8h
	WORD $0x0f10a7ae // sxtl v14.4s, v29.4h
	WORD $0x4f10a7af // sxtl2 v15.4s, v29.8h
	WORD $0x4e21d908 // scvtf v8.4s, v8.4s
	WORD $0x4e21d929 // scvtf v9.4s, v9.4s
	WORD $0x4e21d94a // scvtf v10.4s, v10.4s
	WORD $0x4e21d96b // scvtf v11.4s, v11.4s
	WORD $0x4e21d98c // scvtf v12.4s, v12.4s
	WORD $0x4e21d9ad // scvtf v13.4s, v13.4s
	WORD $0x4e21d9ce // scvtf v14.4s, v14.4s
	WORD $0x4e21d9ef // scvtf v15.4s, v15.4s
	FMLA8
	SUBS $32, R2
	BNE  loop
	REDUCE
	FMOVS F0, ret+24(FP)
	RET
