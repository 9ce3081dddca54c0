// OpenELM (apple/OpenELM-*, HF remote code modeling_openelm.py; mlx-lm models/openelm.py) in
// Hugging Face semantics: a Llama-like pre-RMSNorm decoder with layer-wise scaling, i.e. each
// layer has its own number of query and KV heads and its own FFN width. Fused qkv_proj with
// per-head q/k RMSNorm, RoPE (rotate-half), GQA, GLU FFN whose proj_1 is [gate; up], usually tied
// embeddings. The checkpoints ship no tokenizer: the Llama-2 tokenizer.json goes in the folder.
// Dimension letters: d = model_dim, hd = head_dim, Hq / Hkv = the layer's heads, F = its FFN width.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "core/error.h"
#include "models/architecture.h"
#include "models/blocks.h"

namespace erank {
namespace {

// configuration_openelm.py's make_divisible: v rounded to a multiple of divisor, never more than
// 10% below v.
int64_t make_divisible(double v, int64_t divisor) {
  int64_t r = std::max(divisor, static_cast<int64_t>(v + double(divisor) / 2) / divisor * divisor);
  if (double(r) < 0.9 * v) r += divisor;
  return r;
}

// Python's round(v, 2): printf rounds the exact binary value correctly, as CPython does.
double round2(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return std::strtod(buf, nullptr);
}

// A key that is one number or a list of numbers.
std::vector<double> numbers(const JsonConfig& j, const char* k, double def) {
  if (!j.has(k)) return {def};
  const auto& v = j.j[k];
  if (v.is_number()) return {v.get<double>()};
  if (!v.is_array() || v.empty())
    fail("{}: key '{}' must be a number or a list of numbers", j.origin, k);
  std::vector<double> out;
  for (const auto& e : v) {
    if (!e.is_number()) fail("{}: key '{}' must be a number or a list of numbers", j.origin, k);
    out.push_back(e.get<double>());
  }
  return out;
}

// Per-layer multipliers as OpenELMConfig.__post_init__ expands them: a number for every layer;
// two numbers [lo, hi] as np.linspace(lo, hi, n_layers) rounded to 2 decimals; or (FFN only)
// one number per layer.
std::vector<double> per_layer(const JsonConfig& j, const char* k, double def, int64_t n,
                              bool allow_full) {
  const std::vector<double> m = numbers(j, k, def);
  const bool number = !j.has(k) || j.j[k].is_number();
  if (number) return std::vector<double>(static_cast<size_t>(n), m[0]);
  if (m.size() == 2) {
    std::vector<double> out(static_cast<size_t>(n));
    const double step = n > 1 ? (m[1] - m[0]) / double(n - 1) : 0.0;
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = round2(double(i) * step + m[0]);
    if (n > 1) out.back() = round2(m[1]);
    return out;
  }
  if (allow_full && static_cast<int64_t>(m.size()) == n) return m;
  fail("{}: key '{}' has {} entries; expected 1, 2{} (num_transformer_layers = {})", j.origin, k,
       m.size(), allow_full ? fmt::format(" or {}", n) : "", n);
}

// num_query_heads / num_kv_heads as written (the checkpoints' config.json carries them).
std::vector<int64_t> int_list(const JsonConfig& j, const char* k, int64_t n) {
  std::vector<int64_t> out;
  for (const auto& e : j.j[k]) {
    if (!e.is_number_integer() || e.get<int64_t>() <= 0)
      fail("{}: key '{}' must be a list of positive integers", j.origin, k);
    out.push_back(e.get<int64_t>());
  }
  if (static_cast<int64_t>(out.size()) != n)
    fail("{}: key '{}' has {} entries for {} layers (num_transformer_layers)", j.origin, k,
         out.size(), n);
  return out;
}

ModelConfig from_hf(const JsonConfig& j) {
  ModelConfig c;
  c.arch = "openelm";
  c.model_type = "openelm";
  c.vocab_size = j.int_or("vocab_size", 32000);
  c.hidden = j.int_("model_dim");
  c.n_layers = j.int_("num_transformer_layers");
  c.head_dim = j.int_("head_dim");
  c.max_positions = j.int_or("max_context_length", 2048);
  using Key = std::pair<int64_t, const char*>;
  for (auto [v, k] : {Key{c.hidden, "model_dim"}, Key{c.n_layers, "num_transformer_layers"},
                      Key{c.head_dim, "head_dim"}})
    if (v <= 0 || v > (int64_t{1} << 20)) fail("{}: {} = {} is out of range", j.origin, k, v);
  const int64_t n = c.n_layers, groups = j.int_or("num_gqa_groups", 1);
  const int64_t divisor = j.int_or("ffn_dim_divisor", 256);
  if (groups <= 0 || divisor <= 0)
    fail("{}: num_gqa_groups {} and ffn_dim_divisor {} must be positive", j.origin, groups,
         divisor);
  if (j.str_or("normalization_layer_name", "rms_norm") != "rms_norm")
    fail("{}: normalization_layer_name '{}' is not supported (rms_norm only)", j.origin,
         j.str_or("normalization_layer_name", ""));
  if (!j.bool_or("ffn_with_glu", true))
    fail("{}: ffn_with_glu = false is not supported (every released OpenELM uses GLU)", j.origin);
  // Lists as written win (mlx-lm and llama.cpp read them); without them the layout is derived
  // from the multipliers as OpenELMConfig.__post_init__ does.
  if (j.has("num_query_heads") && j.j["num_query_heads"].is_array()) {
    c.layer_heads = int_list(j, "num_query_heads", n);
  } else {
    for (double m : per_layer(j, "qkv_multipliers", 1.0, n, false))
      c.layer_heads.push_back(make_divisible(double(c.hidden) * m, c.head_dim * groups) /
                              c.head_dim);
  }
  if (j.has("num_kv_heads") && j.j["num_kv_heads"].is_array()) {
    c.layer_kv_heads = int_list(j, "num_kv_heads", n);
  } else {
    for (int64_t h : c.layer_heads) c.layer_kv_heads.push_back(h / groups);
  }
  for (double m : per_layer(j, "ffn_multipliers", 4.0, n, true))
    c.layer_ffn.push_back(make_divisible(m * double(c.hidden), divisor));
  c.n_heads = *std::max_element(c.layer_heads.begin(), c.layer_heads.end());
  c.n_kv_heads = *std::max_element(c.layer_kv_heads.begin(), c.layer_kv_heads.end());
  c.intermediate = *std::max_element(c.layer_ffn.begin(), c.layer_ffn.end());
  c.norm_eps = 1e-6;  // OpenELMRMSNorm's default; the config has no key for it
  c.qk_norm = j.bool_or("normalize_qk_projections", false);
  c.tie_embeddings = j.bool_or("share_input_output_layers", false);
  c.act = parse_activation(j.str_or("activation_fn_name", "swish"), j.origin);
  c.rope.theta = j.num_or("rope_freq_constant", 10000.0);
  c.rope.rotary_dim = c.head_dim;
  c.init_std = j.num_or("initializer_range", 0.02);
  c.bos_id = j.int_or("bos_token_id", 1);
  c.eos_id =
      j.has("eos_token_id") && j.j["eos_token_id"].is_number_integer() ? j.int_("eos_token_id") : 2;
  c.pad_id = j.int_or("pad_token_id", -1);
  return c;
}

// The twin follows what OpenELMModel.__init__ leaves after post_init(): its reset_parameters
// overrides _init_weights (N(0, initializer_range)) for the base model with OPT's scheme: every
// Linear N(0, in_features^-1/2), the embedding N(0, model_dim^-1/2), norms 1, and out_proj /
// proj_2 N(0, model_dim^-1/2 (2 n_layers)^-1/2). Only an untied lm_head keeps initializer_range.
std::vector<TensorSpec> tensors(const ModelConfig& c) {
  const int64_t d = c.hidden, hd = c.head_dim;
  const double s_in = 1.0 / std::sqrt(double(d));
  const double s_out = s_in / std::sqrt(2.0 * double(c.n_layers));
  const InitSpec in{InitSpec::normal, s_in}, out{InitSpec::normal, s_out}, one{InitSpec::ones};
  std::vector<TensorSpec> t;
  t.push_back({.name = "token_embeddings.weight", .shape = {c.vocab_size, d}, .init = in});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const int64_t hq = c.heads_at(i), hkv = c.kv_heads_at(i), F = c.ffn_at(i);
    auto add = [&](const char* name, std::vector<int64_t> shape, InitSpec init) {
      t.push_back({.name = layer_name(name, i), .shape = std::move(shape), .init = init});
    };
    add("layers.{i}.attn_norm.weight", {d}, one);
    add("layers.{i}.attn.qkv_proj.weight", {(hq + 2 * hkv) * hd, d}, in);
    if (c.qk_norm) {
      add("layers.{i}.attn.q_norm.weight", {hd}, one);
      add("layers.{i}.attn.k_norm.weight", {hd}, one);
    }
    add("layers.{i}.attn.out_proj.weight", {d, hq * hd}, out);
    add("layers.{i}.ffn_norm.weight", {d}, one);
    add("layers.{i}.ffn.proj_1.weight", {2 * F, d}, in);
    add("layers.{i}.ffn.proj_2.weight", {d, F}, out);
  }
  t.push_back({.name = "norm.weight", .shape = {d}, .init = one});
  t.push_back({.name = "lm_head.weight",
               .shape = {c.vocab_size, d},
               .head = true,
               .tied_to = c.tie_embeddings ? "token_embeddings.weight" : "",
               .init = {InitSpec::normal, c.init_std}});
  return t;
}

Act head_input(const ModelConfig& c, const Weights& w, Backend& be, const Act& x, bool norm) {
  if (!norm) return x;
  Act y;
  be.rms_norm(x, w.get("norm.weight"), c.norm_eps, c.hidden, false, y);
  return y;
}

Act cols(Backend& be, const Act& x, int64_t offset, int64_t width) {
  Act y;
  be.slice_cols(x, x.cols, offset, width, y);
  return y;
}

void forward(const ModelConfig& c, const Weights& w, Backend& be, const ForwardInput& in,
             TapSink& sink) {
  const int64_t d = c.hidden, hd = c.head_dim;
  Act x = embed_input(be, w.get("token_embeddings.weight"), in);
  report_tap(sink, Tap::hidden, 0, x, in.seqs);
  const Rope rope{hd, hd, c.rope.inv_freq()};
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto L = [&](const char* p) { return layer_name(p, i); };
    const int64_t hq = c.heads_at(i), hkv = c.kv_heads_at(i), F = c.ffn_at(i);
    Act h;
    be.rms_norm(x, w.get(L("layers.{i}.attn_norm.weight")), c.norm_eps, d, false, h);
    const Act qkv = project(be, h, linear_of(w, L("layers.{i}.attn.qkv_proj.weight")));
    Act q = cols(be, qkv, 0, hq * hd), k = cols(be, qkv, hq * hd, hkv * hd);
    const Act v = cols(be, qkv, (hq + hkv) * hd, hkv * hd);
    if (c.qk_norm) {  // per head, before RoPE
      Act qn, kn;
      be.rms_norm(q, w.get(L("layers.{i}.attn.q_norm.weight")), c.norm_eps, hd, false, qn);
      be.rms_norm(k, w.get(L("layers.{i}.attn.k_norm.weight")), c.norm_eps, hd, false, kn);
      q = std::move(qn);
      k = std::move(kn);
    }
    const AttentionParams ap{hq, hkv, hd, 1.0 / std::sqrt(double(hd)), 0, 0.0};
    Act a = attend(be, q, k, v, ap, &rope, in, i);
    Act o = project(be, a, linear_of(w, L("layers.{i}.attn.out_proj.weight")));
    report_tap(sink, Tap::attn_out, int(i), o, in.seqs);
    be.add(x, o);
    be.rms_norm(x, w.get(L("layers.{i}.ffn_norm.weight")), c.norm_eps, d, false, h);
    // proj_1's output is [gate | up]: act(gate) * up, then proj_2.
    const Act gu = project(be, h, linear_of(w, L("layers.{i}.ffn.proj_1.weight")));
    Act g = cols(be, gu, 0, F);
    be.activation(g, c.act);
    be.mul(g, cols(be, gu, F, F));
    Act m = project(be, g, linear_of(w, L("layers.{i}.ffn.proj_2.weight")));
    report_tap(sink, Tap::mlp_out, int(i), m, in.seqs);
    be.add(x, m);
    if (i + 1 < c.n_layers) report_tap(sink, Tap::hidden, int(i + 1), x, in.seqs);
  }
  output_taps(be, head_input(c, w, be, x, true), w.get("lm_head.weight"), 0.0, int(c.n_layers), in,
              sink);
}

}  // namespace

extern const Architecture kOpenELM{
    .name = "openelm",
    .hf_model_types = {"openelm"},
    .hf_prefix = "transformer.",
    .hf_class = "OpenELMForCausalLM",
    .config_from_hf = from_hf,
    .tensors = tensors,
    .forward = forward,
    .head_input = head_input,
    .embed_table = "token_embeddings.weight",
    .input_rows = true,
};

}  // namespace erank
