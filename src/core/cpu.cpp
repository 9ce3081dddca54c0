#include "core/cpu.h"

#include <cstdlib>
#include <string_view>

#include "core/error.h"

namespace erank {

namespace {

Simd detect() {
  Simd s = Simd::none;
  // (Every CPU with AVX2 and FMA has F16C; clang 14 has no "f16c" for __builtin_cpu_supports.)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) s = Simd::avx2;
  if (s == Simd::avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq"))
    s = Simd::avx512;
  const char* e = std::getenv("ERANK_SIMD");
  const std::string_view cap = e ? e : "";
  if (cap == "none") return Simd::none;
  if (cap == "avx2") return s == Simd::avx512 ? Simd::avx2 : s;
  if (!cap.empty() && cap != "avx512")
    fail("ERANK_SIMD={}: expected 'avx2' or 'none' (a cap on the detected instruction set)", cap);
  return s;
}

}  // namespace

Simd simd_level() {
  static const Simd s = detect();
  return s;
}

}  // namespace erank
