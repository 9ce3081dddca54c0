// Compiled with -ffast-math (CMakeLists.txt) so that log/sin/cos vectorise through glibc's
// libmvec: the twin of a 1B-parameter model is drawn in about a second instead of ten. Vector and
// scalar libm differ by a few ulp in double, which the float result almost never shows.
#include "models/box_muller.h"

#include <cmath>
#include <vector>

namespace erank {

namespace {

// Separate, restrict-qualified arrays, an int index and one function per loop: the shape GCC
// vectorises (sin and cos in one loop become sincos, which has no vector variant).
void transform(const double* __restrict u1, const double* __restrict u2, int n, double sd,
               double* __restrict c, double* __restrict s) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  for (int i = 0; i < n; ++i) c[i] = std::cos(kTwoPi * u2[i]);
  for (int i = 0; i < n; ++i) s[i] = std::sin(kTwoPi * u2[i]);
  for (int i = 0; i < n; ++i) {
    const double r = std::sqrt(-2.0 * std::log(u1[i])) * sd;
    c[i] *= r;
    s[i] *= r;
  }
}

}  // namespace

void box_muller(const double* u1, const double* u2, size_t n_pairs, double std, float* out) {
  thread_local std::vector<double> c, s;
  c.resize(n_pairs);
  s.resize(n_pairs);
  transform(u1, u2, static_cast<int>(n_pairs), std, c.data(), s.data());
  for (size_t i = 0; i < n_pairs; ++i) {
    out[2 * i] = static_cast<float>(c[i]);
    out[2 * i + 1] = static_cast<float>(s[i]);
  }
}

}  // namespace erank
