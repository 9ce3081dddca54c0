// A sparse autoencoder on one tap of a model (REFERENCE §2 "Sparse autoencoders").
// Dimension letters: B tokens of a batch, d the tapped width (d_in), W latents (d_sae).
// Inputs are scaled by input_scale s (a fixed mean norm of sqrt(d) on the training data):
//   encode  z = ReLU(TopK_k((s·x - b_dec) W_enc + b_enc))   (relu_l1: no TopK)
//   decode  x̂ = (z W_dec + b_dec) / s
// Saved in SAELens's layout: DIR/sae_weights.safetensors (W_enc [d, W], b_enc [W], W_dec [W, d],
// b_dec [d]) and DIR/cfg.json (SAELens field names plus layer, tap, input_scale).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace erank::sae {

enum class Arch { topk, relu_l1 };

struct Config {
  Arch arch = Arch::topk;
  int64_t d_in = 0, d_sae = 0;
  int k = 32;                   // topk: latents kept per token
  std::string tap = "resid";    // resid | mlp | attn
  int layer = 0;                // resid: HF hidden_states index; mlp/attn: the block
  double input_scale = 1.0;     // s
  double l1_coefficient = 0.0;  // relu_l1 only
  std::string model;            // for the record (model_name)
  std::string dataset;          // for the record (dataset_path)
  int64_t context_size = 0;     // tokens per text at most when collected
  int64_t training_tokens = 0;
  std::string hook_name() const;  // TransformerLens's: blocks.L.hook_resid_pre, ...
};

// The parameters; T = float for training and use, double for the gradient check.
// enc holds W_enc transposed ([W, d], one row per latent) so that a latent's encoder and decoder
// vectors are both contiguous (the sparse TopK gradients touch k rows per token).
template <class T>
struct Params {
  std::vector<T> enc;    // [W, d] = W_enc^T
  std::vector<T> b_enc;  // [W]
  std::vector<T> dec;    // [W, d] = W_dec, rows of unit norm
  std::vector<T> b_dec;  // [d]
};

struct Sae {
  Config cfg;
  Params<float> p;
  int64_t d() const { return cfg.d_in; }
  int64_t W() const { return cfg.d_sae; }

  // Latents of n rows of x (unscaled, [n, d]) as a dense [n, W] matrix.
  void encode(const float* x, int64_t n, std::vector<float>& z) const;
  // x̂ ([n, d], unscaled) from dense latents [n, W].
  void decode(const float* z, int64_t n, std::vector<float>& xhat) const;
  // decode(encode(x)).
  void reconstruct(const float* x, int64_t n, std::vector<float>& xhat) const;
};

// Random unit decoder rows, encoder = decoder transposed (OpenAI's init), b_enc = 0,
// b_dec = given (scaled space).
Sae init_sae(const Config& cfg, const std::vector<float>& b_dec, uint64_t seed);

// Throws erank::Error naming the file: missing files, tensors missing or of the wrong shape or
// dtype, a truncated or corrupt weights file, an unknown architecture.
Sae load_sae(const std::string& dir);
void save_sae(const Sae& s, const std::string& dir);

std::string arch_name(Arch a);

}  // namespace erank::sae
