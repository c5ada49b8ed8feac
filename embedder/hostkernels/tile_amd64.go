package hostkernels

import "golang.org/x/sys/cpu"

// simd is whether this CPU runs the AVX2 kernels of tile_amd64.s: AVX2 and
// FMA (which x/sys/cpu reports only when the OS saves the YMM registers) and
// F16C, which a virtual machine could hide. A variable so that tests can
// compare both paths.
var simd = cpu.X86.HasAVX2 && cpu.X86.HasFMA && hasF16C()

func hasF16C() bool
