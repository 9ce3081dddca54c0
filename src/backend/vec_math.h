// Vectorised float transcendental loops for the cpu backend (softmax, SiLU).
#pragma once
#include <cstdint>

namespace erank {

void vec_exp(float* x, int64_t n);   // x = exp(x)
void vec_silu(float* x, int64_t n);  // x = x / (1 + exp(-x))

}  // namespace erank
