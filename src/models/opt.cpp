// OPT in Hugging Face semantics: learned positions with offset 2, ReLU MLP, pre-LN or post-LN
// (do_layer_norm_before), and project_in / project_out when word_embed_proj_dim != hidden_size
// (OPT-350m). hidden_states[0] is after project_in + positions; the last is after the final
// LayerNorm (pre-LN only) and project_out.
#include <cmath>

#include "core/error.h"
#include "models/architecture.h"
#include "models/blocks.h"

namespace erank {
namespace {

constexpr int64_t kPosOffset = 2;  // OPTLearnedPositionalEmbedding.offset

ModelConfig from_hf(const JsonConfig& j) {
  ModelConfig c;
  c.arch = "opt";
  c.model_type = "opt";
  c.vocab_size = j.int_("vocab_size");
  c.hidden = j.int_("hidden_size");
  c.intermediate = j.int_("ffn_dim");
  c.n_layers = j.int_("num_hidden_layers");
  c.n_heads = j.int_("num_attention_heads");
  c.n_kv_heads = c.n_heads;
  c.head_dim = c.hidden / c.n_heads;
  c.max_positions = j.int_or("max_position_embeddings", 2048);
  c.norm_eps = 1e-5;  // nn.LayerNorm default
  c.pre_norm = j.bool_or("do_layer_norm_before", true);
  c.final_norm = c.pre_norm && !j.bool_or("_remove_final_layer_norm", false);
  c.embed_proj_dim = j.int_or("word_embed_proj_dim", c.hidden);
  c.tie_embeddings = j.bool_or("tie_word_embeddings", true);
  c.act = parse_activation(j.str_or("activation_function", "relu"), j.origin);
  c.qkv_bias = c.o_bias = c.mlp_bias = j.bool_or("enable_bias", true);
  if (!j.bool_or("layer_norm_elementwise_affine", true))
    fail("{}: layer_norm_elementwise_affine=false is not supported", j.origin);
  c.init_std = j.num_or("init_std", 0.02);
  c.dropout.resid = j.num_or("dropout", 0.1);  // transformers 5 has no embedding dropout for OPT
  c.dropout.attn = j.num_or("attention_dropout", 0.0);
  c.bos_id = j.int_or("bos_token_id", 2);
  c.eos_id = j.int_or("eos_token_id", 2);
  c.pad_id = j.int_or("pad_token_id", 1);
  return c;
}

std::vector<TensorSpec> tensors(const ModelConfig& c) {
  const int64_t d = c.hidden, p = c.embed_proj_dim, I = c.intermediate;
  const InitSpec w{InitSpec::normal, c.init_std}, one{InitSpec::ones}, zero{InitSpec::zeros};
  std::vector<TensorSpec> t;
  t.push_back({.name = "decoder.embed_tokens.weight",
               .shape = {c.vocab_size, p},
               .init = {InitSpec::normal, c.init_std, c.pad_id}});
  t.push_back({.name = "decoder.embed_positions.weight",
               .shape = {c.max_positions + kPosOffset, d},
               .init = w});
  if (p != d) {
    t.push_back({.name = "decoder.project_in.weight", .shape = {d, p}, .init = w});
    t.push_back({.name = "decoder.project_out.weight", .shape = {p, d}, .init = w});
  }
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto add = [&](const char* pat, std::vector<int64_t> shape, InitSpec init) {
      t.push_back({.name = layer_name(pat, i), .shape = std::move(shape), .init = init});
    };
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      const std::string base = std::string("decoder.layers.{i}.self_attn.") + proj;
      add((base + ".weight").c_str(), {d, d}, w);
      if (c.qkv_bias) add((base + ".bias").c_str(), {d}, zero);
    }
    add("decoder.layers.{i}.self_attn_layer_norm.weight", {d}, one);
    add("decoder.layers.{i}.self_attn_layer_norm.bias", {d}, zero);
    add("decoder.layers.{i}.fc1.weight", {I, d}, w);
    add("decoder.layers.{i}.fc2.weight", {d, I}, w);
    if (c.mlp_bias) {
      add("decoder.layers.{i}.fc1.bias", {I}, zero);
      add("decoder.layers.{i}.fc2.bias", {d}, zero);
    }
    add("decoder.layers.{i}.final_layer_norm.weight", {d}, one);
    add("decoder.layers.{i}.final_layer_norm.bias", {d}, zero);
  }
  if (c.final_norm) {
    t.push_back({.name = "decoder.final_layer_norm.weight", .shape = {d}, .init = one});
    t.push_back({.name = "decoder.final_layer_norm.bias", .shape = {d}, .init = zero});
  }
  t.push_back({.name = "lm_head.weight",
               .shape = {c.vocab_size, p},
               .head = true,
               .tied_to = c.tie_embeddings ? "decoder.embed_tokens.weight" : "",
               .init = w});
  return t;
}

Act head_input(const ModelConfig& c, const Weights& w, Backend& be, const Act& x, bool norm) {
  Act y;
  if (norm && c.final_norm)
    be.layer_norm(x, &w.get("decoder.final_layer_norm.weight"),
                  &w.get("decoder.final_layer_norm.bias"), c.norm_eps, y);
  else
    y = x;
  if (c.embed_proj_dim != c.hidden)  // as the forward's project_in
    y = project(be, y, {&w.get("decoder.project_out.weight"), nullptr});
  return y;
}

void forward(const ModelConfig& c, const Weights& w, Backend& be, const ForwardInput& in,
             TapSink& sink) {
  const bool proj = c.embed_proj_dim != c.hidden, bias = c.qkv_bias;
  Act x, pos;
  be.embed(w.get("decoder.embed_tokens.weight"), in.ids, x);
  if (proj) x = project(be, x, {&w.get("decoder.project_in.weight"), nullptr});
  std::vector<int32_t> pos_ids(in.seqs.positions);
  for (auto& p : pos_ids) p += kPosOffset;
  be.embed(w.get("decoder.embed_positions.weight"), pos_ids, pos);
  be.add(x, pos);
  report_tap(sink, Tap::hidden, 0, x, in.seqs);
  AttentionParams ap{c.n_heads, c.n_heads, c.head_dim, 1.0 / std::sqrt(double(c.head_dim)), 0, 0.0};
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto L = [&](const std::string& p) { return layer_name("decoder.layers.{i}." + p, i); };
    auto lin = [&](const std::string& p, bool b) {
      return linear_of(w, L(p + ".weight"), b ? L(p + ".bias") : "");
    };
    auto norm = [&](const Act& in_, const std::string& p, Act& out) {
      be.layer_norm(in_, &w.get(L(p + ".weight")), &w.get(L(p + ".bias")), c.norm_eps, out);
    };
    Act h = x;
    if (c.pre_norm) norm(x, "self_attn_layer_norm", h);
    std::vector<Act> qkv =
        project_many(be, h,
                     {lin("self_attn.q_proj", bias), lin("self_attn.k_proj", bias),
                      lin("self_attn.v_proj", bias)});
    Act a = attend(be, qkv[0], qkv[1], qkv[2], with_attn_dropout(ap, c.dropout.attn, in), nullptr,
                   in, i);
    Act o = project(be, a, lin("self_attn.out_proj", c.o_bias));
    dropout(be, o, c.dropout.resid, in);
    report_tap(sink, Tap::attn_out, int(i), o, in.seqs);
    be.add(x, o);
    if (!c.pre_norm) norm(Act(x), "self_attn_layer_norm", x);
    h = x;
    if (c.pre_norm) norm(x, "final_layer_norm", h);
    Act m = plain_mlp(be, h, lin("fc1", c.mlp_bias), lin("fc2", c.mlp_bias), c.act);
    dropout(be, m, c.dropout.resid, in);
    report_tap(sink, Tap::mlp_out, int(i), m, in.seqs);
    be.add(x, m);
    if (!c.pre_norm) norm(Act(x), "final_layer_norm", x);
    if (i + 1 < c.n_layers) report_tap(sink, Tap::hidden, int(i + 1), x, in.seqs);
  }
  output_taps(be, head_input(c, w, be, x, true), w.get("lm_head.weight"), 0.0, int(c.n_layers), in,
              sink);
}

}  // namespace

extern const Architecture kOpt{
    .name = "opt",
    .hf_model_types = {"opt"},
    .gguf_archs = {},
    .hf_prefix = "model.",
    .hf_class = "OPTForCausalLM",
    .config_from_hf = from_hf,
    .tensors = tensors,
    .forward = forward,
    .head_input = head_input,
};

}  // namespace erank
