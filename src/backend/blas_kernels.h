// Debian's OpenBLAS picks its kernels by CPU model name and falls back to the generic (Prescott)
// ones on models it does not know, common in VMs: 3-4x slower. Choose by CPU features instead.
// The library reads OPENBLAS_CORETYPE when it loads, so set it and re-exec once. Shared by the CLI
// and the benchmarks so both measure the same kernels.
#pragma once
#include <unistd.h>

#include <cstdlib>

namespace erank {

inline void select_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  const char* core = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                     : __builtin_cpu_supports("avx2")  ? "Haswell"
                                                       : nullptr;
  if (!core) return;
  ::setenv("OPENBLAS_CORETYPE", core, 1);
  ::execv("/proc/self/exe", argv);  // on failure, go on with the default kernels
}

}  // namespace erank
