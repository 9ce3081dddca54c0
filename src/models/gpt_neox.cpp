// GPT-NeoX (Pythia) in Hugging Face semantics: fused QKV laid out per head as [q | k | v],
// partial rotary (rotary_pct of each head), parallel or serial residual, LayerNorm, GELU (erf).
#include <cmath>

#include "core/error.h"
#include "models/architecture.h"
#include "models/blocks.h"

namespace erank {
namespace {

ModelConfig from_hf(const JsonConfig& j) {
  ModelConfig c;
  c.arch = "gpt_neox";
  c.model_type = "gpt_neox";
  c.vocab_size = j.int_("vocab_size");
  c.hidden = j.int_("hidden_size");
  c.intermediate = j.int_("intermediate_size");
  c.n_layers = j.int_("num_hidden_layers");
  c.n_heads = c.n_kv_heads = j.int_("num_attention_heads");
  c.head_dim = c.hidden / c.n_heads;
  c.max_positions = j.int_or("max_position_embeddings", 2048);
  c.norm_eps = j.num_or("layer_norm_eps", 1e-5);
  c.tie_embeddings = j.bool_or("tie_word_embeddings", false);
  c.act = parse_activation(j.str_or("hidden_act", "gelu"), j.origin);
  c.parallel_residual = j.bool_or("use_parallel_residual", true);
  c.qkv_bias = c.o_bias = c.mlp_bias = j.bool_or("attention_bias", true);
  // transformers 5: rope_parameters {rope_theta, partial_rotary_factor}; 4.x: rotary_pct/_emb_base.
  double pct = j.num_or("rotary_pct", 0.25), theta = j.num_or("rotary_emb_base", 10000.0);
  if (j.has("rope_parameters") && j.j["rope_parameters"].is_object()) {
    JsonConfig r{j.j["rope_parameters"], j.origin + " (rope_parameters)"};
    pct = r.num_or("partial_rotary_factor", pct);
    theta = r.num_or("rope_theta", theta);
    if (r.str_or("rope_type", "default") != "default")
      fail("{}: rope type '{}' is not supported", j.origin, r.str_or("rope_type", ""));
  }
  c.rope.theta = theta;
  c.rope.rotary_dim = static_cast<int64_t>(double(c.head_dim) * pct);  // int(), as HF
  c.init_std = j.num_or("initializer_range", 0.02);
  c.dropout.embed = c.dropout.resid = j.num_or("hidden_dropout", 0.0);
  c.dropout.attn = j.num_or("attention_dropout", 0.0);
  c.bos_id = j.int_or("bos_token_id", 0);
  c.eos_id = j.int_or("eos_token_id", 0);
  return c;
}

std::vector<TensorSpec> tensors(const ModelConfig& c) {
  const int64_t d = c.hidden, I = c.intermediate;
  const InitSpec w{InitSpec::normal, c.init_std}, one{InitSpec::ones}, zero{InitSpec::zeros};
  std::vector<TensorSpec> t;
  t.push_back({.name = "embed_in.weight", .shape = {c.vocab_size, d}, .init = w});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto add = [&](const char* pat, std::vector<int64_t> shape, InitSpec init) {
      t.push_back({.name = layer_name(pat, i), .shape = std::move(shape), .init = init});
    };
    add("layers.{i}.input_layernorm.weight", {d}, one);
    add("layers.{i}.input_layernorm.bias", {d}, zero);
    add("layers.{i}.post_attention_layernorm.weight", {d}, one);
    add("layers.{i}.post_attention_layernorm.bias", {d}, zero);
    add("layers.{i}.attention.query_key_value.weight", {3 * d, d}, w);
    add("layers.{i}.attention.dense.weight", {d, d}, w);
    add("layers.{i}.mlp.dense_h_to_4h.weight", {I, d}, w);
    add("layers.{i}.mlp.dense_4h_to_h.weight", {d, I}, w);
    if (c.qkv_bias) {
      add("layers.{i}.attention.query_key_value.bias", {3 * d}, zero);
      add("layers.{i}.attention.dense.bias", {d}, zero);
      add("layers.{i}.mlp.dense_h_to_4h.bias", {I}, zero);
      add("layers.{i}.mlp.dense_4h_to_h.bias", {d}, zero);
    }
  }
  t.push_back({.name = "final_layer_norm.weight", .shape = {d}, .init = one});
  t.push_back({.name = "final_layer_norm.bias", .shape = {d}, .init = zero});
  t.push_back({.name = "embed_out.weight",
               .shape = {c.vocab_size, d},
               .head = true,
               .tied_to = c.tie_embeddings ? "embed_in.weight" : "",
               .init = w});
  return t;
}

Act head_input(const ModelConfig& c, const Weights& w, Backend& be, const Act& x, bool norm) {
  if (!norm) return x;
  Act y;
  be.layer_norm(x, &w.get("final_layer_norm.weight"), &w.get("final_layer_norm.bias"), c.norm_eps,
                y);
  return y;
}

void forward(const ModelConfig& c, const Weights& w, Backend& be, const ForwardInput& in,
             TapSink& sink) {
  const int64_t hd = c.head_dim;
  Act x;
  be.embed(w.get("embed_in.weight"), in.ids, x);
  dropout(be, x, c.dropout.embed, in);
  report_tap(sink, Tap::hidden, 0, x, in.seqs);
  const Rope rope{hd, c.rope.rotary_dim, c.rope.inv_freq()};
  AttentionParams ap{c.n_heads, c.n_heads, hd, 1.0 / std::sqrt(double(hd)), 0, 0.0};
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto L = [&](const std::string& p) { return layer_name("layers.{i}." + p, i); };
    auto lin = [&](const std::string& p) {
      return linear_of(w, L(p + ".weight"), c.qkv_bias ? L(p + ".bias") : "");
    };
    auto norm = [&](const std::string& p, Act& out) {
      be.layer_norm(x, &w.get(L(p + ".weight")), &w.get(L(p + ".bias")), c.norm_eps, out);
    };
    Act h;
    norm("input_layernorm", h);
    Act qkv = project(be, h, lin("attention.query_key_value")), q, k, v;
    be.slice_cols(qkv, 3 * hd, 0, hd, q);
    be.slice_cols(qkv, 3 * hd, hd, hd, k);
    be.slice_cols(qkv, 3 * hd, 2 * hd, hd, v);
    Act o =
        project(be, attend(be, q, k, v, with_attn_dropout(ap, c.dropout.attn, in), &rope, in, i),
                lin("attention.dense"));
    dropout(be, o, c.dropout.resid, in);
    report_tap(sink, Tap::attn_out, int(i), o, in.seqs);
    if (c.parallel_residual) {  // x + attn(ln1(x)) + mlp(ln2(x))
      norm("post_attention_layernorm", h);
      Act m = plain_mlp(be, h, lin("mlp.dense_h_to_4h"), lin("mlp.dense_4h_to_h"), c.act);
      dropout(be, m, c.dropout.resid, in);
      report_tap(sink, Tap::mlp_out, int(i), m, in.seqs);
      be.add(m, o);
      be.add(x, m);
    } else {
      be.add(x, o);
      norm("post_attention_layernorm", h);
      Act m = plain_mlp(be, h, lin("mlp.dense_h_to_4h"), lin("mlp.dense_4h_to_h"), c.act);
      dropout(be, m, c.dropout.resid, in);
      report_tap(sink, Tap::mlp_out, int(i), m, in.seqs);
      be.add(x, m);
    }
    if (i + 1 < c.n_layers) report_tap(sink, Tap::hidden, int(i + 1), x, in.seqs);
  }
  output_taps(be, head_input(c, w, be, x, true), w.get("embed_out.weight"), 0.0, int(c.n_layers),
              in, sink);
}

}  // namespace

extern const Architecture kGptNeox{
    .name = "gpt_neox",
    .hf_model_types = {"gpt_neox"},
    .gguf_archs = {},
    .hf_prefix = "gpt_neox.",
    .hf_class = "GPTNeoXForCausalLM",
    .config_from_hf = from_hf,
    .tensors = tensors,
    .forward = forward,
    .head_input = head_input,
    .head = "embed_out.weight",
};

}  // namespace erank
