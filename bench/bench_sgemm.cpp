// The machine's sgemm peak, for the forward's GFLOP/s to be compared against in the same run:
// OpenBLAS sgemm on all cores (its own threading) and erank's cpu backend `linear` (column blocks
// of single-threaded sgemm, OpenMP), on the same shapes. Prints one JSON object.
//   bench_sgemm [M N K [seconds]]   (default 2048 2048 2048 3)
#include <cblas.h>
#include <fmt/core.h>
#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/blas_kernels.h"

namespace {

double gflops(int64_t m, int64_t n, int64_t k, double secs_budget, const std::function<void()>& f) {
  using clk = std::chrono::steady_clock;
  f();  // warm up (thread pools, page faults)
  int reps = 0;
  const auto t0 = clk::now();
  double el = 0;
  do {
    f();
    ++reps;
    el = std::chrono::duration<double>(clk::now() - t0).count();
  } while (el < secs_budget);
  return 2.0 * double(m) * double(n) * double(k) * reps / el / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  erank::select_blas_kernels(argv);
  const int64_t M = argc > 1 ? std::atoll(argv[1]) : 2048;
  const int64_t N = argc > 2 ? std::atoll(argv[2]) : 2048;
  const int64_t K = argc > 3 ? std::atoll(argv[3]) : 2048;
  const double budget = argc > 4 ? std::atof(argv[4]) : 3.0;
  std::vector<float> a(size_t(M * K)), b(size_t(N * K)), c(size_t(M * N));
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i % 17) * 0.01f - 0.08f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = float(i % 13) * 0.01f - 0.06f;
  const int cores = omp_get_max_threads();

  openblas_set_num_threads(cores);
  const double blas = gflops(M, N, K, budget, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.0f, a.data(),
                int(K), b.data(), int(K), 0.0f, c.data(), int(N));
  });
  openblas_set_num_threads(1);
  const double blas1 = gflops(M, N, K, budget, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.0f, a.data(),
                int(K), b.data(), int(K), 0.0f, c.data(), int(N));
  });
  auto be = erank::make_backend("cpu");
  erank::Act x = be->alloc(M, K), y;
  x.f.assign(a.begin(), a.end());
  erank::Weight w{{N, K}, b};
  const double lin = gflops(M, N, K, budget, [&] { be->linear(x, w, nullptr, y); });
  fmt::print(
      "{{\"m\": {}, \"n\": {}, \"k\": {}, \"threads\": {}, \"openblas_coretype\": \"{}\", "
      "\"sgemm_gflops\": {:.1f}, \"sgemm_1thread_gflops\": {:.1f}, \"erank_linear_gflops\": "
      "{:.1f}}}\n",
      M, N, K, cores, std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "",
      blas, blas1, lin);
}
