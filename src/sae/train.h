// One training step of a sparse autoencoder with hand-written gradients, and Adam.
// Dimension letters as in sae.h: B tokens of a batch, d inputs, W latents. Inputs here are already
// scaled (s·x). With U = X - b_dec, P = U W_enc + b_enc, Z = ReLU(TopK(P)), X̂ = Z W_dec + b_dec:
//   loss = (1/B) Σ_t |X̂_t - X_t|²                                  (MSE, summed over d)
//        + λ (1/B) Σ_t Σ_i Z_ti                                     (relu_l1; unit-norm decoder)
//        + α (1/B) Σ_t |Za_t W_dec - E_t|²                          (topk AuxK on dead latents)
// where E = X - X̂ is held constant and Za = ReLU(top aux_k of P over the dead latents).
// The gradients are computed by the same code in float (training) and double (the check against
// finite differences, tests/sae/).
#pragma once
#include <cstdint>
#include <vector>

#include "sae/sae.h"

namespace erank::sae {

struct LossParts {
  double mse = 0, l1 = 0, aux = 0, total = 0;
  double var = 0;  // Σ_t |X_t - mean X|² over the batch (FVU = B·mse / var)
  double l0 = 0;   // mean latents firing per token
  double fvu() const { return var > 0 ? mse / var : 0; }
};

struct LossOptions {
  const uint8_t* dead = nullptr;  // [W] 1 = dead (AuxK candidates); null: none
  int aux_k = 0;                  // topk: latents of the AuxK reconstruction
  double aux_coef = 1.0 / 32;     // α
};

// Loss of n rows of X (scaled, [n, d]); with grad non-null, its gradients (sized and overwritten).
// fired (size W, optional) counts the tokens on which each latent fired; sq_err (size n,
// optional) gets each token's |X̂_t - X_t|². AuxK's target E = X - X̂ is a constant of the
// loss: aux_e_out (optional) receives it, and aux_e_in (optional, [n, d]) is used instead of the
// current one (the finite-difference check holds it fixed as the gradient does).
template <class T>
LossParts loss_and_grad(const Config& cfg, const Params<T>& p, const T* X, int64_t n,
                        const LossOptions& lo, Params<T>* grad,
                        std::vector<int64_t>* fired = nullptr,
                        std::vector<double>* sq_err = nullptr, const T* aux_e_in = nullptr,
                        std::vector<T>* aux_e_out = nullptr);

struct TrainOptions {
  double lr = 4e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int aux_k = 256;                // topk: 0 = no AuxK
  double aux_coef = 1.0 / 32;     // α
  int64_t dead_window = 1 << 20;  // tokens without firing after which a latent is dead
  int64_t resample_every = 0;     // relu_l1: steps between dead-latent resamplings (0: never)
  uint64_t seed = 0;
};

struct StepStats {
  LossParts loss;
  double dead_fraction = 0;  // after this step
  int64_t resampled = 0;
};

// Adam on the parameters, the decoder kept at unit-norm rows: each row's gradient loses its
// component along the row before the update, and the row is renormalised after it.
class Trainer {
 public:
  Trainer(Sae& sae, TrainOptions o);
  StepStats step(const float* X, int64_t n);  // X scaled, [n, d]
  double dead_fraction() const;

  // State saved by checkpoints.
  Params<float> m, v;
  int64_t steps = 0, tokens = 0;
  std::vector<int64_t> last_fired;  // [W] token count at the latent's last firing

 private:
  void resample(const float* X, int64_t n, const std::vector<double>& sq_err);
  Sae& sae_;
  TrainOptions o_;
  Params<float> g_;
  std::vector<uint8_t> dead_;
};

// The geometric median of n rows [n, d] (Weiszfeld's iteration from the mean): b_dec's start.
std::vector<float> geometric_median(const float* X, int64_t n, int64_t d, int iters = 100);

}  // namespace erank::sae
