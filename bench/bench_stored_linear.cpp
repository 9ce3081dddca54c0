// Few-row products on weights kept in their file's type (decoding: 1 to a few rows), against the
// same product on the weight expanded to f32 (what the f32 path and the decode cache run), in one
// run: GB/s of weight bytes read, GFLOP/s, and whether the outputs are bitwise equal.
//   bench_stored_linear [TYPE [N K [seconds [M]]]]   (default Q4_0 4096 4096 1, M 1..64; TYPE
//   may be "all")
// The weight is random bytes with every block's f16 scales set to small finite values, a valid
// block of any type without a quantiser.
#include <fmt/core.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "io/quant.h"
#include "models/weights.h"

namespace {

using erank::GGMLType;

double seconds_per_call(double budget, const std::function<void()>& f) {
  using clk = std::chrono::steady_clock;
  f();
  int reps = 0;
  const auto t0 = clk::now();
  double el = 0;
  do {
    f();
    ++reps;
    el = std::chrono::duration<double>(clk::now() - t0).count();
  } while (el < budget);
  return el / reps;
}

void run(GGMLType t, int64_t N, int64_t K, double budget, int64_t only_m) {
  const auto& codec = erank::weight_codec(t);
  const size_t row_bytes = erank::ggml_row_bytes(t, K);
  auto bytes = std::make_shared<std::vector<uint8_t>>(row_bytes * size_t(N));
  std::mt19937 rng(7);
  for (auto& b : *bytes) b = uint8_t(rng());
  const auto offs = erank::ggml_scale_offsets(t);
  const bool elementwise = codec.block == 1;
  for (size_t blk = 0; blk < bytes->size() / codec.block_bytes; ++blk) {
    uint8_t* p = bytes->data() + blk * codec.block_bytes;
    if (elementwise) {  // bf16/f16 values: keep them finite and small
      const uint16_t v = t == GGMLType::BF16 ? uint16_t(0x3c00 | (rng() & 0xff))
                                             : uint16_t(0x2000 | (rng() & 0x3ff));
      std::memcpy(p, &v, 2);
      continue;
    }
    for (size_t o : offs) {
      const uint16_t h = uint16_t(0x1000 | (rng() & 0x3ff));  // ~1e-4 .. 2e-4
      std::memcpy(p + o, &h, 2);
    }
  }
  erank::Weight w;
  w.shape = {N, K};
  w.raw = bytes->data();
  w.codec = &codec;
  w.row_bytes = row_bytes;
  w.keep = bytes;
  const erank::Weight wf = w.to_f32();

  auto be = erank::make_backend("cpu", omp_get_max_threads());
  for (int64_t M : {1, 2, 3, 4, 6, 8, 16, 64}) {
    if (only_m > 0 && M != only_m) continue;
    erank::Act x = be->alloc(M, K), ys, yf;
    for (int64_t i = 0; i < x.size(); ++i) x.f[size_t(i)] = float(int(rng() % 2001) - 1000) * 1e-3f;
    be->set_decode_cache(false);
    be->set_decoding(true);  // one row: gemv_stored, as in generation
    const double ts = seconds_per_call(budget, [&] { be->linear(x, w, nullptr, ys); });
    const double tf = seconds_per_call(budget, [&] { be->linear(x, wf, nullptr, yf); });
    if (M == 1) {  // one row: dot-product order against the lanes kernel (full forwards)
      erank::Act yl;
      be->set_decoding(false);
      const double tl = seconds_per_call(budget, [&] { be->linear(x, w, nullptr, yl); });
      be->set_decoding(true);
      fmt::print(
          "{:<5} N {:5} K {:5} M   1  one-row kernel {:7.1f} GB/s, rows-in-lanes kernel {:7.1f} "
          "GB/s: {:5.2f}x\n",
          codec.name, N, K, double(bytes->size()) / ts / 1e9, double(bytes->size()) / tl / 1e9,
          tl / ts);
    }
    const bool same = std::memcmp(ys.f.data(), yf.f.data(), ys.f.size() * 4) == 0;
    double num = 0, den = 0;  // one row sums in dot-product order: rounding apart
    for (size_t i = 0; i < ys.f.size(); ++i) {
      num += (double(ys.f[i]) - yf.f[i]) * (double(ys.f[i]) - yf.f[i]);
      den += double(yf.f[i]) * yf.f[i];
    }
    fmt::print(
        "{:<5} N {:5} K {:5} M {:3}  stored {:7.1f} GB/s {:6.1f} GFLOP/s   f32 {:7.1f} GB/s "
        "{:6.1f} "
        "GFLOP/s   stored/f32 time {:5.2f}  {}\n",
        codec.name, N, K, M, double(bytes->size()) / ts / 1e9, 2.0 * M * N * K / ts / 1e9,
        double(N * K * 4) / tf / 1e9, 2.0 * M * N * K / tf / 1e9, ts / tf,
        same ? std::string("bitwise equal") : fmt::format("rel diff {:.2g}", std::sqrt(num / den)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string type = argc > 1 ? argv[1] : "Q4_0";
  const int64_t N = argc > 2 ? std::atoll(argv[2]) : 4096;
  const int64_t K = argc > 3 ? std::atoll(argv[3]) : 4096;
  const double budget = argc > 4 ? std::atof(argv[4]) : 1.0;
  const int64_t only_m = argc > 5 ? std::atoll(argv[5]) : 0;
  const GGMLType all[] = {GGMLType::Q4_0, GGMLType::Q4_1, GGMLType::Q5_0, GGMLType::Q5_1,
                          GGMLType::Q8_0, GGMLType::Q2_K, GGMLType::Q3_K, GGMLType::Q4_K,
                          GGMLType::Q5_K, GGMLType::Q6_K, GGMLType::BF16, GGMLType::F16};
  for (GGMLType t : all)
    if (type == "all" || type == erank::ggml_type_name(t)) run(t, N, K, budget, only_m);
  return 0;
}
