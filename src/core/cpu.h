// The vector instruction set the kernels dispatch on, detected once. ERANK_SIMD=avx2 or =none
// caps it (never raises it), so that a CPU with AVX-512 can run and test the AVX2 kernels too.
#pragma once

namespace erank {

enum class Simd { none, avx2, avx512 };  // avx2 includes FMA and F16C

Simd simd_level();

}  // namespace erank
