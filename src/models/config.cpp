#include "models/config.h"

#include <cmath>

#include "core/error.h"

namespace erank {

std::vector<double> RopeConfig::inv_freq() const {
  const int64_t half = rotary_dim / 2;
  std::vector<double> f(static_cast<size_t>(half));
  // transformers: 1 / base ** (arange(0, dim, 2, int64).float() / dim), computed in float32.
  for (int64_t i = 0; i < half; ++i) {
    const float expo = static_cast<float>(2 * i) / static_cast<float>(rotary_dim);
    f[i] = static_cast<double>(1.0f / std::pow(static_cast<float>(theta), expo));
  }
  if (!freq_factors.empty()) {
    if (freq_factors.size() != f.size())
      fail("rope_freqs has {} factors for {} frequencies", freq_factors.size(), f.size());
    for (size_t i = 0; i < f.size(); ++i) f[i] /= freq_factors[i];
  }
  if (scaling_type == "linear") {
    for (auto& v : f) v /= factor;
  } else if (scaling_type == "llama3") {
    // _compute_llama3_parameters: long wavelengths slowed by `factor`, short kept, smooth between.
    const double low_wavelen = original_max_pos / low_freq_factor;
    const double high_wavelen = original_max_pos / high_freq_factor;
    for (auto& v : f) {
      const double wavelen = 2 * M_PI / v;
      if (wavelen > low_wavelen) {
        v = v / factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (original_max_pos / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
        v = (1 - smooth) * v / factor + smooth * v;
      }
    }
  }
  return f;
}

int64_t JsonConfig::int_(const char* k) const {
  if (!has(k)) fail("{}: missing key '{}'", origin, k);
  if (!j[k].is_number_integer()) fail("{}: key '{}' must be an integer", origin, k);
  return j[k].get<int64_t>();
}

double JsonConfig::num(const char* k) const {
  if (!has(k)) fail("{}: missing key '{}'", origin, k);
  if (!j[k].is_number()) fail("{}: key '{}' must be a number", origin, k);
  return j[k].get<double>();
}

bool JsonConfig::bool_or(const char* k, bool def) const {
  if (!has(k)) return def;
  if (!j[k].is_boolean()) fail("{}: key '{}' must be true or false", origin, k);
  return j[k].get<bool>();
}

std::string JsonConfig::str_or(const char* k, const std::string& def) const {
  if (!has(k)) return def;
  if (!j[k].is_string()) fail("{}: key '{}' must be a string", origin, k);
  return j[k].get<std::string>();
}

Activation parse_activation(const std::string& n, const std::string& origin) {
  if (n == "relu") return Activation::relu;
  if (n == "silu" || n == "swish") return Activation::silu;
  if (n == "gelu_new" || n == "gelu_pytorch_tanh" || n == "gelu_fast") return Activation::gelu_tanh;
  if (n == "gelu") return Activation::gelu_erf;
  if (n == "quick_gelu") return Activation::quick_gelu;
  fail("{}: unsupported activation '{}'", origin, n);
}

void validate_config(const ModelConfig& c, const std::string& origin) {
  auto pos = [&](int64_t v, const char* what) {
    if (v <= 0 || v > (int64_t{1} << 24)) fail("{}: {} = {} is out of range", origin, what, v);
  };
  pos(c.vocab_size, "vocab_size");
  pos(c.hidden, "hidden_size");
  pos(c.n_layers, "num_hidden_layers");
  pos(c.n_heads, "num_attention_heads");
  pos(c.n_kv_heads, "num_key_value_heads");
  pos(c.head_dim, "head_dim");
  pos(c.intermediate, "intermediate_size");
  const bool per_layer =
      !c.layer_heads.empty() || !c.layer_kv_heads.empty() || !c.layer_ffn.empty();
  if (!per_layer && c.n_heads % c.n_kv_heads != 0)
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", origin,
         c.n_heads, c.n_kv_heads);
  // Layer-wise scaling: every list has one entry per layer, each layer's shape is valid.
  for (auto* v : {&c.layer_heads, &c.layer_kv_heads, &c.layer_ffn})
    if (!v->empty() && static_cast<int64_t>(v->size()) != c.n_layers)
      fail("{}: a per-layer list has {} entries for {} layers", origin, v->size(), c.n_layers);
  if (per_layer)
    for (int64_t i = 0; i < c.n_layers; ++i) {
      const int64_t h = c.heads_at(i), kv = c.kv_heads_at(i), f = c.ffn_at(i);
      if (h <= 0 || kv <= 0 || f <= 0 || h % kv != 0)
        fail(
            "{}: layer {} has {} query heads, {} KV heads, FFN width {} (heads must be a positive "
            "multiple of KV heads)",
            origin, i, h, kv, f);
    }
  if (c.rope.rotary_dim % 2 != 0 || c.rope.rotary_dim > c.head_dim)
    fail("{}: rotary dims {} invalid for head_dim {}", origin, c.rope.rotary_dim, c.head_dim);
}

}  // namespace erank
