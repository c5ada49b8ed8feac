#include "textflag.h"

// The kernels behind tileF32 and tileF16 (tile_arm64.go): six rows of x
// against one panel of sixteen weight columns, ARMv8.0 Advanced SIMD
// (NEON), which every arm64 CPU has, the Pi 4's Cortex-A72 included. Per
// input t the panel's sixteen weights are four 4-lane vectors (V24..V27;
// half ones widen from V28, V29 with FCVTL), each row's x[t] is loaded
// into all four lanes (LD1R), and 24 FMLAs add into 24 accumulators:
// V(4r)..V(4r+3) for row r, which start as the bias. The loads stay
// within what the Go side checked; k > 0.
//
// Go's assembler has no FCVTL, SXTL, SCVTF or vector FMUL: those are WORDs, each with the instruction
// in ARM syntax beside it, checked by assembling the comment with GNU as
// (binutils-aarch64-linux-gnu, -march=armv8-a, which refuses anything
// past ARMv8.0) and comparing the bytes, and again by disassembling the
// built kernels with aarch64-linux-gnu-objdump.
//
// Registers: R10..R15 the six rows of x, R2 the panel, R3 inputs left;
// V30, V31 the broadcasts.

// SETUP loads the row pointers (x + offs[r]*4), the panel, k, and the
// bias into every row's accumulators.
#define SETUP \
	MOVD x+0(FP), R0 \
	MOVD offs+8(FP), R1 \
	MOVD 0(R1), R10 \
	ADD R10<<2, R0, R10 \
	MOVD 8(R1), R11 \
	ADD R11<<2, R0, R11 \
	MOVD 16(R1), R12 \
	ADD R12<<2, R0, R12 \
	MOVD 24(R1), R13 \
	ADD R13<<2, R0, R13 \
	MOVD 32(R1), R14 \
	ADD R14<<2, R0, R14 \
	MOVD 40(R1), R15 \
	ADD R15<<2, R0, R15 \
	MOVD w+16(FP), R2 \
	MOVD k+24(FP), R3 \
	MOVD bias+48(FP), R4 \
	VLD1 (R4), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VLD1 (R4), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VLD1 (R4), [V8.S4, V9.S4, V10.S4, V11.S4] \
	VLD1 (R4), [V12.S4, V13.S4, V14.S4, V15.S4] \
	VLD1 (R4), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VLD1 (R4), [V20.S4, V21.S4, V22.S4, V23.S4]

// FMLA24 multiplies the weights of t (V24..V27) by each row's x[t].
#define FMLA24 \
	VLD1R.P 4(R10), [V30.S4] \
	VFMLA V24.S4, V30.S4, V0.S4 \
	VFMLA V25.S4, V30.S4, V1.S4 \
	VFMLA V26.S4, V30.S4, V2.S4 \
	VFMLA V27.S4, V30.S4, V3.S4 \
	VLD1R.P 4(R11), [V31.S4] \
	VFMLA V24.S4, V31.S4, V4.S4 \
	VFMLA V25.S4, V31.S4, V5.S4 \
	VFMLA V26.S4, V31.S4, V6.S4 \
	VFMLA V27.S4, V31.S4, V7.S4 \
	VLD1R.P 4(R12), [V30.S4] \
	VFMLA V24.S4, V30.S4, V8.S4 \
	VFMLA V25.S4, V30.S4, V9.S4 \
	VFMLA V26.S4, V30.S4, V10.S4 \
	VFMLA V27.S4, V30.S4, V11.S4 \
	VLD1R.P 4(R13), [V31.S4] \
	VFMLA V24.S4, V31.S4, V12.S4 \
	VFMLA V25.S4, V31.S4, V13.S4 \
	VFMLA V26.S4, V31.S4, V14.S4 \
	VFMLA V27.S4, V31.S4, V15.S4 \
	VLD1R.P 4(R14), [V30.S4] \
	VFMLA V24.S4, V30.S4, V16.S4 \
	VFMLA V25.S4, V30.S4, V17.S4 \
	VFMLA V26.S4, V30.S4, V18.S4 \
	VFMLA V27.S4, V30.S4, V19.S4 \
	VLD1R.P 4(R15), [V31.S4] \
	VFMLA V24.S4, V31.S4, V20.S4 \
	VFMLA V25.S4, V31.S4, V21.S4 \
	VFMLA V26.S4, V31.S4, V22.S4 \
	VFMLA V27.S4, V31.S4, V23.S4

// STORE writes the six rows of sixteen floats, ldy floats apart.
#define STORE \
	MOVD y+32(FP), R5 \
	MOVD ldy+40(FP), R6 \
	LSL $2, R6, R6 \
	VST1 [V0.S4, V1.S4, V2.S4, V3.S4], (R5) \
	ADD R6, R5, R5 \
	VST1 [V4.S4, V5.S4, V6.S4, V7.S4], (R5) \
	ADD R6, R5, R5 \
	VST1 [V8.S4, V9.S4, V10.S4, V11.S4], (R5) \
	ADD R6, R5, R5 \
	VST1 [V12.S4, V13.S4, V14.S4, V15.S4], (R5) \
	ADD R6, R5, R5 \
	VST1 [V16.S4, V17.S4, V18.S4, V19.S4], (R5) \
	ADD R6, R5, R5 \
	VST1 [V20.S4, V21.S4, V22.S4, V23.S4], (R5)

// func tileF32Kernel(x *float32, offs *[6]int, w *float32, k int, y *float32, ldy int, bias *[16]float32)
TEXT ·tileF32Kernel(SB), NOSPLIT, $0-56
	SETUP
loop:
	VLD1.P 64(R2), [V24.S4, V25.S4, V26.S4, V27.S4]
	FMLA24
	SUBS $1, R3, R3
	BNE  loop
	STORE
	RET

// func tileF16Kernel(x *float32, offs *[6]int, w *uint16, k int, y *float32, ldy int, bias *[16]float32)
TEXT ·tileF16Kernel(SB), NOSPLIT, $0-56
	SETUP
loop:
	VLD1.P 32(R2), [V28.H8, V29.H8]
	WORD $0x0e217b98 // fcvtl v24.4s, v28.4h
	WORD $0x4e217b99 // fcvtl2 v25.4s, v28.8h
	WORD $0x0e217bba // fcvtl v26.4s, v29.4h
	WORD $0x4e217bbb // fcvtl2 v27.4s, v29.8h
	FMLA24
	SUBS $1, R3, R3
	BNE  loop
	STORE
	RET

// func tileQ8Kernel(x *float32, offs *[6]int, w *byte, k int, y *float32, ldy int, bias *[16]float32)
// Per block of 32 inputs: sixteen float32 scales (R7), then 32 steps of
// sixteen int8, which widen (SXTL, SCVTF) and scale (FMUL) to the weights
// of the step; k is a positive multiple of 32.
TEXT ·tileQ8Kernel(SB), NOSPLIT, $0-56
	SETUP
	LSR  $5, R3, R3
block:
	MOVD R2, R7
	ADD  $64, R2, R2
	MOVD $32, R8
step:
	VLD1.P 16(R2), [V28.B16]
	WORD $0x0f08a79d // sxtl v29.8h, v28.8b
	WORD $0x4f08a79c // sxtl2 v28.8h, v28.16b
	WORD $0x0f10a7b8 // sxtl v24.4s, v29.4h
	WORD $0x4f10a7b9 // sxtl2 v25.4s, v29.8h
	WORD $0x0f10a79a // sxtl v26.4s, v28.4h
	WORD $0x4f10a79b // sxtl2 v27.4s, v28.8h
	WORD $0x4e21db18 // scvtf v24.4s, v24.4s
	WORD $0x4e21db39 // scvtf v25.4s, v25.4s
	WORD $0x4e21db5a // scvtf v26.4s, v26.4s
	WORD $0x4e21db7b // scvtf v27.4s, v27.4s
	VLD1 (R7), [V28.S4, V29.S4, V30.S4, V31.S4]
	WORD $0x6e3cdf18 // fmul v24.4s, v24.4s, v28.4s
	WORD $0x6e3ddf39 // fmul v25.4s, v25.4s, v29.4s
	WORD $0x6e3edf5a // fmul v26.4s, v26.4s, v30.4s
	WORD $0x6e3fdf7b // fmul v27.4s, v27.4s, v31.4s
	FMLA24
	SUBS $1, R8, R8
	BNE  step
	SUBS $1, R3, R3
	BNE  block
	STORE
	RET
