// The machine's arithmetic peak per instruction kind, on all cores: the ceiling any kernel (ours,
// OpenBLAS, MKL) works under. 24 independent accumulators per core, so the figure is throughput,
// not latency. Kinds: f32 FMA (what an f32 forward runs on), bf16 pairs dotted into f32
// (vdpbf16ps), fp16 FMA (vfmadd231ph, fp16 accumulation) and u8 x s8 dotted into i32 (vpdpbusd).
// A kind this CPU lacks prints null. Also says whether CPUID reports AMX tiles.
//   bench_peak [seconds per kind]   (default 1) -> one JSON object
#include <cpuid.h>
#include <fmt/core.h>
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

#define ERANK_ACC24(I)                                                \
  I " %%zmm30, %%zmm31, %%zmm0\n" I " %%zmm30, %%zmm31, %%zmm1\n" I   \
    " %%zmm30, %%zmm31, %%zmm2\n" I " %%zmm30, %%zmm31, %%zmm3\n" I   \
    " %%zmm30, %%zmm31, %%zmm4\n" I " %%zmm30, %%zmm31, %%zmm5\n" I   \
    " %%zmm30, %%zmm31, %%zmm6\n" I " %%zmm30, %%zmm31, %%zmm7\n" I   \
    " %%zmm30, %%zmm31, %%zmm8\n" I " %%zmm30, %%zmm31, %%zmm9\n" I   \
    " %%zmm30, %%zmm31, %%zmm10\n" I " %%zmm30, %%zmm31, %%zmm11\n" I \
    " %%zmm30, %%zmm31, %%zmm12\n" I " %%zmm30, %%zmm31, %%zmm13\n" I \
    " %%zmm30, %%zmm31, %%zmm14\n" I " %%zmm30, %%zmm31, %%zmm15\n" I \
    " %%zmm30, %%zmm31, %%zmm16\n" I " %%zmm30, %%zmm31, %%zmm17\n" I \
    " %%zmm30, %%zmm31, %%zmm18\n" I " %%zmm30, %%zmm31, %%zmm19\n" I \
    " %%zmm30, %%zmm31, %%zmm20\n" I " %%zmm30, %%zmm31, %%zmm21\n" I \
    " %%zmm30, %%zmm31, %%zmm22\n" I " %%zmm30, %%zmm31, %%zmm23\n"

// One loop of `iters` x 24 instructions; zero inputs keep every value finite.
#define ERANK_PEAK_LOOP(NAME, INSN)                                                             \
  __attribute__((target("avx512f"))) void NAME(int64_t iters) {                                 \
    __asm__ volatile(                                                                           \
        "vpxord %%zmm30, %%zmm30, %%zmm30\n vpxord %%zmm31, %%zmm31, %%zmm31\n"                 \
        "1:\n" ERANK_ACC24(INSN) "dec %0\n jnz 1b\n"                                            \
        : "+r"(iters)                                                                           \
        :                                                                                       \
        : "cc", "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9", \
          "zmm10", "zmm11", "zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "zmm17", "zmm18",      \
          "zmm19", "zmm20", "zmm21", "zmm22", "zmm23", "zmm30", "zmm31");                       \
  }

ERANK_PEAK_LOOP(loop_fma_f32, "vfmadd231ps")
ERANK_PEAK_LOOP(loop_dot_bf16, "vdpbf16ps")
ERANK_PEAK_LOOP(loop_fma_f16, "vfmadd231ph")
ERANK_PEAK_LOOP(loop_dot_u8s8, "vpdpbusd")

// Operations (a multiply and an add count two) per second on all cores, in units of 1e9.
double rate(void (*loop)(int64_t), double ops_per_insn, double seconds) {
  using clk = std::chrono::steady_clock;
  constexpr int64_t kIters = 1 << 20;
  loop(kIters);  // warm up (AVX-512 frequency licence, page-in)
  double total = 0;
#pragma omp parallel reduction(+ : total)
  {
    int64_t reps = 0;
    const auto t0 = clk::now();
    double el = 0;
    do {
      loop(kIters);
      ++reps;
      el = std::chrono::duration<double>(clk::now() - t0).count();
    } while (el < seconds);
    total += double(reps) * kIters * 24 * ops_per_insn / el / 1e9;
  }
  return total;
}

std::string field(bool ok, void (*loop)(int64_t), double ops, double seconds) {
  return ok ? fmt::format("{:.1f}", rate(loop, ops, seconds)) : "null";
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid_count(7, 0, a, b, c, d);
  const bool amx_tile = (d >> 24) & 1, amx_bf16 = (d >> 22) & 1;
  const bool f32 = __builtin_cpu_supports("avx512f");
  // 16 lanes x (multiply + add) for f32; 32 products per instruction for bf16 and fp16; 64 u8 x s8
  // products for vpdpbusd.
  fmt::print(
      "{{\"threads\": {}, \"amx_tile\": {}, \"amx_bf16\": {}, \"f32_fma_gflops\": {}, "
      "\"bf16_dot_gflops\": {}, \"f16_fma_gflops\": {}, \"u8s8_dot_gops\": {}}}\n",
      omp_get_max_threads(), amx_tile, amx_bf16, field(f32, loop_fma_f32, 32, seconds),
      field(f32 && __builtin_cpu_supports("avx512bf16"), loop_dot_bf16, 64, seconds),
      field(f32 && __builtin_cpu_supports("avx512fp16"), loop_fma_f16, 64, seconds),
      field(f32 && __builtin_cpu_supports("avx512vnni"), loop_dot_u8s8, 128, seconds));
}
