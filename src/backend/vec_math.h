// Vectorised row loops for the cpu backend (SiLU, norms, softmax).
#pragma once
#include <cstdint>

namespace erank {

void vec_silu(float* x, int64_t n);  // x = x / (1 + exp(-x))
// x = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), within a few ulp
void vec_gelu_tanh(float* x, int64_t n);
// y = x / sqrt(mean(x^2) + eps) * (one_plus ? 1 + w : w), in double as the reference does.
void vec_rms_norm(const float* x, const float* w, int64_t n, double eps, bool one_plus, float* y);
// y = (x - mean) / sqrt(var + eps) (* w) (+ b), biased variance, in double; w, b may be null.
void vec_layer_norm(const float* x, const float* w, const float* b, int64_t n, double eps,
                    float* y);
void vec_softmax(float* x, int64_t n);  // x = exp(x - max x) / sum; n >= 1, finite x

}  // namespace erank
