// The Box-Muller transform of the twin's uniforms, over whole arrays so it vectorises.
#pragma once
#include <cstddef>

namespace erank {

// out[2i] = r cos(2 pi u2[i]), out[2i + 1] = r sin(2 pi u2[i]) with r = sqrt(-2 log u1[i]) * std,
// for i < n_pairs; `out` holds 2 * n_pairs values.
void box_muller(const double* u1, const double* u2, size_t n_pairs, double std, float* out);

}  // namespace erank
