#include "textflag.h"

// The kernels behind dot, l2sq, dotHalf and dotInt8 (vector_amd64.go):
// AVX2 with FMA, four 8-lane accumulators, 32 elements a round. n is a
// positive multiple of 32; the Go side checks the lengths and adds the tail.

// reduce sums Y0..Y3 into X0's lowest lane.
#define REDUCE \
	VADDPS Y1, Y0, Y0 \
	VADDPS Y3, Y2, Y2 \
	VADDPS Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VHADDPS X0, X0, X0 \
	VHADDPS X0, X0, X0 \
	VZEROUPPER

#define ZERO \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3

// func dotKernel(a, b *float32, n int) float32
TEXT ·dotKernel(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	MOVQ n+16(FP), CX
	ZERO
loop:
	VMOVUPS (BX), Y4
	VMOVUPS 32(BX), Y5
	VMOVUPS 64(BX), Y6
	VMOVUPS 96(BX), Y7
	VFMADD231PS (AX), Y4, Y0
	VFMADD231PS 32(AX), Y5, Y1
	VFMADD231PS 64(AX), Y6, Y2
	VFMADD231PS 96(AX), Y7, Y3
	ADDQ $128, AX
	ADDQ $128, BX
	SUBQ $32, CX
	JNZ  loop
	REDUCE
	MOVSS X0, ret+24(FP)
	RET

// func l2sqKernel(a, b *float32, n int) float32
TEXT ·l2sqKernel(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	MOVQ n+16(FP), CX
	ZERO
loop:
	VMOVUPS (AX), Y4
	VMOVUPS 32(AX), Y5
	VMOVUPS 64(AX), Y6
	VMOVUPS 96(AX), Y7
	VSUBPS  (BX), Y4, Y4
	VSUBPS  32(BX), Y5, Y5
	VSUBPS  64(BX), Y6, Y6
	VSUBPS  96(BX), Y7, Y7
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	VFMADD231PS Y6, Y6, Y2
	VFMADD231PS Y7, Y7, Y3
	ADDQ $128, AX
	ADDQ $128, BX
	SUBQ $32, CX
	JNZ  loop
	REDUCE
	MOVSS X0, ret+24(FP)
	RET

// func dotHalfKernel(a *float32, b *uint16, n int) float32
// b's binary16 values widen to float32 with F16C's VCVTPH2PS.
TEXT ·dotHalfKernel(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	MOVQ n+16(FP), CX
	ZERO
loop:
	VCVTPH2PS (BX), Y4
	VCVTPH2PS 16(BX), Y5
	VCVTPH2PS 32(BX), Y6
	VCVTPH2PS 48(BX), Y7
	VFMADD231PS (AX), Y4, Y0
	VFMADD231PS 32(AX), Y5, Y1
	VFMADD231PS 64(AX), Y6, Y2
	VFMADD231PS 96(AX), Y7, Y3
	ADDQ $128, AX
	ADDQ $64, BX
	SUBQ $32, CX
	JNZ  loop
	REDUCE
	MOVSS X0, ret+24(FP)
	RET

// func dotInt8Kernel(a *float32, b *int8, n int) float32
// b's codes widen to int32 (VPMOVSXBD), then to float32, exactly.
TEXT ·dotInt8Kernel(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	MOVQ n+16(FP), CX
	ZERO
loop:
	VPMOVSXBD (BX), Y4
	VPMOVSXBD 8(BX), Y5
	VPMOVSXBD 16(BX), Y6
	VPMOVSXBD 24(BX), Y7
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VFMADD231PS (AX), Y4, Y0
	VFMADD231PS 32(AX), Y5, Y1
	VFMADD231PS 64(AX), Y6, Y2
	VFMADD231PS 96(AX), Y7, Y3
	ADDQ $128, AX
	ADDQ $32, BX
	SUBQ $32, CX
	JNZ  loop
	REDUCE
	MOVSS X0, ret+24(FP)
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
