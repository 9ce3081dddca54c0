// CLIP ViT vision tower in Hugging Face semantics (CLIPVisionModel, LLaVA's vision_tower): patch
// embedding as a matrix product, class token, learned positions, pre_layrnorm, pre-LN encoder
// layers with bidirectional attention and quick_gelu, hidden_states[0..L] without post_layernorm.
// Dimension letters: P patches per image, D hidden, C channels, p patch side.
// The forward takes ForwardInput::input_rows: P rows of C*p*p pixels per image, each patch
// flattened channel-major (c, y, x) as Conv2d's weight [D, C, p, p] is; sequences are images.
#include <cmath>

#include "core/error.h"
#include "models/architecture.h"
#include "models/blocks.h"

namespace erank {
namespace {

ModelConfig from_hf(const JsonConfig& j) {
  ModelConfig c;
  c.arch = "clip_vision";
  c.model_type = j.str_or("model_type", "clip_vision_model");
  c.hidden = j.int_or("hidden_size", 768);
  c.intermediate = j.int_or("intermediate_size", 3072);
  c.n_layers = j.int_or("num_hidden_layers", 12);
  c.n_heads = j.int_or("num_attention_heads", 12);
  c.n_kv_heads = c.n_heads;
  c.head_dim = c.n_heads > 0 ? c.hidden / c.n_heads : 0;
  c.image_size = j.int_or("image_size", 224);
  c.patch_size = j.int_or("patch_size", 32);
  c.channels = j.int_or("num_channels", 3);
  c.norm_eps = j.num_or("layer_norm_eps", 1e-5);
  c.act = parse_activation(j.str_or("hidden_act", "quick_gelu"), j.origin);
  if (c.head_dim * c.n_heads != c.hidden)
    fail("{}: hidden_size {} is not a multiple of num_attention_heads {}", j.origin, c.hidden,
         c.n_heads);
  if (c.patch_size <= 0 || c.image_size <= 0 || c.image_size % c.patch_size != 0)
    fail("{}: image_size {} is not a multiple of patch_size {}", j.origin, c.image_size,
         c.patch_size);
  if (c.channels != 3)
    fail("{}: num_channels {} (only RGB, 3, is supported)", j.origin, c.channels);
  const int64_t side = c.image_size / c.patch_size;
  c.max_positions = 1 + side * side;  // class token + patches
  c.vocab_size = c.max_positions;     // no token vocabulary: the position table's rows
  c.rope.rotary_dim = 0;
  c.init_std = j.num_or("initializer_range", 0.02) * j.num_or("initializer_factor", 1.0);
  c.dropout.attn = j.num_or("attention_dropout", 0.0);
  return c;
}

// HF CLIPPreTrainedModel._init_weights (factor folded into init_std where it applies).
std::vector<TensorSpec> tensors(const ModelConfig& c) {
  const int64_t D = c.hidden, I = c.intermediate, pp = c.patch_size;
  const double f = c.init_std / 0.02;  // initializer_factor, assuming the default range
  const double in_std = std::pow(double(D), -0.5) * std::pow(2.0 * double(c.n_layers), -0.5) * f;
  const InitSpec one{InitSpec::ones}, zero{InitSpec::zeros};
  std::vector<TensorSpec> t;
  t.push_back({.name = "embeddings.class_embedding",
               .shape = {D},
               .init = {InitSpec::normal, std::pow(double(D), -0.5) * f}});
  t.push_back({.name = "embeddings.patch_embedding.weight",
               .shape = {D, c.channels, pp, pp},
               .init = {InitSpec::normal, c.init_std}});
  t.push_back({.name = "embeddings.position_embedding.weight",
               .shape = {c.max_positions, D},
               .init = {InitSpec::normal, c.init_std}});
  t.push_back({.name = "pre_layrnorm.weight", .shape = {D}, .init = one});
  t.push_back({.name = "pre_layrnorm.bias", .shape = {D}, .init = zero});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto L = [&](const char* p) { return layer_name(p, i); };
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      const bool out = std::string(n) == "out_proj";
      const std::string base = L("encoder.layers.{i}.self_attn.") + n;
      t.push_back({.name = base + ".weight",
                   .shape = {D, D},
                   .init = {InitSpec::normal, out ? std::pow(double(D), -0.5) * f : in_std}});
      t.push_back({.name = base + ".bias", .shape = {D}, .init = zero});
    }
    t.push_back({.name = L("encoder.layers.{i}.layer_norm1.weight"), .shape = {D}, .init = one});
    t.push_back({.name = L("encoder.layers.{i}.layer_norm1.bias"), .shape = {D}, .init = zero});
    t.push_back({.name = L("encoder.layers.{i}.mlp.fc1.weight"),
                 .shape = {I, D},
                 .init = {InitSpec::normal, std::pow(2.0 * double(D), -0.5) * f}});
    t.push_back({.name = L("encoder.layers.{i}.mlp.fc1.bias"), .shape = {I}, .init = zero});
    t.push_back({.name = L("encoder.layers.{i}.mlp.fc2.weight"),
                 .shape = {D, I},
                 .init = {InitSpec::normal, in_std}});
    t.push_back({.name = L("encoder.layers.{i}.mlp.fc2.bias"), .shape = {D}, .init = zero});
    t.push_back({.name = L("encoder.layers.{i}.layer_norm2.weight"), .shape = {D}, .init = one});
    t.push_back({.name = L("encoder.layers.{i}.layer_norm2.bias"), .shape = {D}, .init = zero});
  }
  // Only the pooled output reads it (LLaVA does not); optional so towers saved without it load.
  t.push_back({.name = "post_layernorm.weight", .shape = {D}, .required = false, .init = one});
  t.push_back({.name = "post_layernorm.bias", .shape = {D}, .required = false, .init = zero});
  return t;
}

// Row r of `src` into row `dst_row` of `dst` (same width, either precision).
void copy_row(const Act& src, int64_t r, Act& dst, int64_t dst_row) {
  const int64_t n = src.cols;
  if (src.prec == Precision::f32)
    std::copy_n(src.f.begin() + r * n, n, dst.f.begin() + dst_row * n);
  else
    std::copy_n(src.d.begin() + r * n, n, dst.d.begin() + dst_row * n);
}

void forward(const ModelConfig& c, const Weights& w, Backend& be, const ForwardInput& in,
             TapSink& sink) {
  if (!in.input_rows) fail("the CLIP vision tower takes image patches (erank mm), not token ids");
  const int64_t D = c.hidden, P = c.max_positions - 1;
  // Patch embedding: Conv2d with stride = kernel = p and no bias is this product.
  const Weight& conv = w.get("embeddings.patch_embedding.weight");
  Weight patch;
  patch.shape = {D, conv.numel() / D};
  patch.view = conv.values();
  Act pe;
  be.linear(*in.input_rows, patch, nullptr, pe);
  // Each image becomes [class, patch 1..P]; the layout grows by one row per sequence.
  ForwardInput vin;
  vin.seqs.offsets.push_back(0);
  for (int64_t s = 0; s < in.seqs.n_seq(); ++s) {
    const int64_t n = in.seqs.offsets[s + 1] - in.seqs.offsets[s];
    if (n != P) fail("an image of {} patches given to a tower of {} patches", n, P);
    for (int64_t i = 0; i <= P; ++i) vin.seqs.positions.push_back(static_cast<int32_t>(i));
    vin.seqs.offsets.push_back(vin.seqs.offsets.back() + P + 1);
  }
  const Weight& cls = w.get("embeddings.class_embedding");
  Act cls_row = be.alloc_uninit(1, D);
  for (int64_t k = 0; k < D; ++k) {
    if (cls_row.prec == Precision::f32)
      cls_row.f[size_t(k)] = cls[k];
    else
      cls_row.d[size_t(k)] = cls[k];
  }
  Act x = be.alloc_uninit(vin.seqs.rows(), D);
  for (int64_t s = 0; s < in.seqs.n_seq(); ++s) {
    const int64_t at = vin.seqs.offsets[s];
    copy_row(cls_row, 0, x, at);
    for (int64_t i = 0; i < P; ++i) copy_row(pe, in.seqs.offsets[s] + i, x, at + 1 + i);
  }
  Act pos;
  be.embed(w.get("embeddings.position_embedding.weight"), vin.seqs.positions, pos);
  be.add(x, pos);
  Act h;
  be.layer_norm(x, &w.get("pre_layrnorm.weight"), &w.get("pre_layrnorm.bias"), c.norm_eps, h);
  x = std::move(h);
  sink.on_tap(Tap::hidden, 0, x, vin.seqs);
  AttentionParams ap{c.n_heads, c.n_kv_heads, c.head_dim, 1.0 / std::sqrt(double(c.head_dim))};
  ap.causal = false;
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto L = [&](const char* p) { return layer_name(p, i); };
    auto lin = [&](const char* p) {
      const std::string b = L(p);
      return linear_of(w, b + ".weight", b + ".bias");
    };
    be.layer_norm(x, &w.get(L("encoder.layers.{i}.layer_norm1.weight")),
                  &w.get(L("encoder.layers.{i}.layer_norm1.bias")), c.norm_eps, h);
    Act q = project(be, h, lin("encoder.layers.{i}.self_attn.q_proj"));
    Act k = project(be, h, lin("encoder.layers.{i}.self_attn.k_proj"));
    Act v = project(be, h, lin("encoder.layers.{i}.self_attn.v_proj"));
    Act a = attend(be, q, k, v, with_attn_dropout(ap, c.dropout.attn, in), nullptr, vin, i);
    Act o = project(be, a, lin("encoder.layers.{i}.self_attn.out_proj"));
    sink.on_tap(Tap::attn_out, int(i), o, vin.seqs);
    be.add(x, o);
    be.layer_norm(x, &w.get(L("encoder.layers.{i}.layer_norm2.weight")),
                  &w.get(L("encoder.layers.{i}.layer_norm2.bias")), c.norm_eps, h);
    Act m = plain_mlp(be, h, lin("encoder.layers.{i}.mlp.fc1"), lin("encoder.layers.{i}.mlp.fc2"),
                      c.act);
    sink.on_tap(Tap::mlp_out, int(i), m, vin.seqs);
    be.add(x, m);
    sink.on_tap(Tap::hidden, int(i + 1), x, vin.seqs);
  }
}

}  // namespace

extern const Architecture kClipVision{
    .name = "clip_vision",
    .hf_model_types = {"clip_vision_model"},
    .hf_prefix = "vision_model.",
    .hf_class = "CLIPVisionModel",
    .config_from_hf = from_hf,
    .tensors = tensors,
    .forward = forward,
    .head = "",
    .input_rows = true,
};

}  // namespace erank
