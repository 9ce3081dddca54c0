// GPT-2 (also Cerebras-GPT) in Hugging Face semantics: Conv1D weights stored [in, out] (the table
// transposes them), learned positions, pre-LN, GELU (tanh), fused c_attn = [q | k | v].
#include <cmath>

#include "core/error.h"
#include "io/gguf.h"
#include "models/architecture.h"
#include "models/blocks.h"

namespace erank {
namespace {

ModelConfig from_hf(const JsonConfig& j) {
  ModelConfig c;
  c.arch = "gpt2";
  c.model_type = "gpt2";
  c.vocab_size = j.int_("vocab_size");
  c.hidden = j.int_or("n_embd", 768);
  c.n_layers = j.int_or("n_layer", 12);
  c.n_heads = j.int_or("n_head", 12);
  c.n_kv_heads = c.n_heads;
  c.head_dim = c.hidden / c.n_heads;
  c.intermediate = j.int_or("n_inner", 4 * c.hidden);
  c.max_positions = j.int_or("n_positions", 1024);
  c.norm_eps = j.num_or("layer_norm_epsilon", 1e-5);
  c.tie_embeddings = j.bool_or("tie_word_embeddings", true);
  c.act = parse_activation(j.str_or("activation_function", "gelu_new"), j.origin);
  if (!j.bool_or("scale_attn_weights", true) || j.bool_or("scale_attn_by_inverse_layer_idx", false))
    fail("{}: non-default GPT-2 attention scaling is not supported", j.origin);
  c.init_std = j.num_or("initializer_range", 0.02);
  c.dropout.embed = j.num_or("embd_pdrop", 0.1);
  c.dropout.resid = j.num_or("resid_pdrop", 0.1);
  c.dropout.attn = j.num_or("attn_pdrop", 0.1);
  c.bos_id = j.int_or("bos_token_id", 50256);
  c.eos_id = j.int_or("eos_token_id", 50256);
  return c;
}

std::vector<TensorSpec> tensors(const ModelConfig& c) {
  const int64_t d = c.hidden, I = c.intermediate;
  const InitSpec w{InitSpec::normal, c.init_std}, one{InitSpec::ones}, zero{InitSpec::zeros};
  // GPT2PreTrainedModel._init_weights: c_proj weights get std / sqrt(2 * n_layer).
  const InitSpec proj{InitSpec::normal, c.init_std / std::sqrt(2.0 * double(c.n_layers))};
  std::vector<TensorSpec> t;
  t.push_back(
      {.name = "wte.weight", .gguf = "token_embd.weight", .shape = {c.vocab_size, d}, .init = w});
  t.push_back({.name = "wpe.weight",
               .gguf = "position_embd.weight",
               .shape = {c.max_positions, d},
               .init = w});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto add = [&](const char* hf, const char* gg, std::vector<int64_t> shape, InitSpec init,
                   bool transposed = false) {
      t.push_back({.name = layer_name(hf, i),
                   .gguf = layer_name(gg, i),
                   .shape = std::move(shape),
                   .hf_transposed = transposed,
                   .init = init});
    };
    add("h.{i}.ln_1.weight", "blk.{i}.attn_norm.weight", {d}, one);
    add("h.{i}.ln_1.bias", "blk.{i}.attn_norm.bias", {d}, zero);
    add("h.{i}.attn.c_attn.weight", "blk.{i}.attn_qkv.weight", {3 * d, d}, w, true);
    add("h.{i}.attn.c_attn.bias", "blk.{i}.attn_qkv.bias", {3 * d}, zero);
    add("h.{i}.attn.c_proj.weight", "blk.{i}.attn_output.weight", {d, d}, proj, true);
    add("h.{i}.attn.c_proj.bias", "blk.{i}.attn_output.bias", {d}, zero);
    add("h.{i}.ln_2.weight", "blk.{i}.ffn_norm.weight", {d}, one);
    add("h.{i}.ln_2.bias", "blk.{i}.ffn_norm.bias", {d}, zero);
    add("h.{i}.mlp.c_fc.weight", "blk.{i}.ffn_up.weight", {I, d}, w, true);
    add("h.{i}.mlp.c_fc.bias", "blk.{i}.ffn_up.bias", {I}, zero);
    add("h.{i}.mlp.c_proj.weight", "blk.{i}.ffn_down.weight", {d, I}, proj, true);
    add("h.{i}.mlp.c_proj.bias", "blk.{i}.ffn_down.bias", {d}, zero);
  }
  t.push_back({.name = "ln_f.weight", .gguf = "output_norm.weight", .shape = {d}, .init = one});
  t.push_back({.name = "ln_f.bias", .gguf = "output_norm.bias", .shape = {d}, .init = zero});
  t.push_back({.name = "lm_head.weight",
               .gguf = "output.weight",
               .shape = {c.vocab_size, d},
               .head = true,
               .tied_to = c.tie_embeddings ? "wte.weight" : "",
               .init = w});
  return t;
}

ModelConfig from_gguf(const GGUFFile& f) {
  ModelConfig c;
  c.arch = c.model_type = "gpt2";
  c.hidden = f.get_int("gpt2.embedding_length");
  c.n_layers = f.get_int("gpt2.block_count");
  c.n_heads = c.n_kv_heads = f.get_int("gpt2.attention.head_count");
  c.head_dim = c.hidden / c.n_heads;
  c.intermediate = f.get_int_or("gpt2.feed_forward_length", 4 * c.hidden);
  c.max_positions = f.get_int("gpt2.context_length");
  c.norm_eps = f.get_float_or("gpt2.attention.layer_norm_epsilon", 1e-5);
  const GGUFTensorInfo* emb = f.find_tensor("token_embd.weight");
  if (!emb || emb->ne.size() != 2)
    fail("{}: tensor 'token_embd.weight' missing or not 2-D", f.path());
  c.vocab_size = emb->ne[1];
  c.tie_embeddings = f.find_tensor("output.weight") == nullptr;
  c.act = Activation::gelu_tanh;
  return c;
}

nlohmann::json to_hf(const ModelConfig& c) {
  return {{"model_type", "gpt2"},
          {"architectures", {"GPT2LMHeadModel"}},
          {"vocab_size", c.vocab_size},
          {"n_embd", c.hidden},
          {"n_layer", c.n_layers},
          {"n_head", c.n_heads},
          {"n_inner", c.intermediate},
          {"n_positions", c.max_positions},
          {"layer_norm_epsilon", c.norm_eps},
          {"activation_function", "gelu_new"},
          {"tie_word_embeddings", c.tie_embeddings},
          {"initializer_range", c.init_std}};
}

Act head_input(const ModelConfig& c, const Weights& w, Backend& be, const Act& x, bool norm) {
  if (!norm) return x;
  Act y;
  be.layer_norm(x, &w.get("ln_f.weight"), &w.get("ln_f.bias"), c.norm_eps, y);
  return y;
}

void forward(const ModelConfig& c, const Weights& w, Backend& be, const ForwardInput& in,
             TapSink& sink) {
  const int64_t d = c.hidden;
  Act x, pos;
  be.embed(w.get("wte.weight"), in.ids, x);
  be.embed(w.get("wpe.weight"), in.seqs.positions, pos);
  be.add(x, pos);
  dropout(be, x, c.dropout.embed, in);
  report_tap(sink, Tap::hidden, 0, x, in.seqs);
  AttentionParams ap{c.n_heads, c.n_heads, c.head_dim, 1.0 / std::sqrt(double(c.head_dim)), 0, 0.0};
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto L = [&](const std::string& p) { return layer_name("h.{i}." + p, i); };
    auto lin = [&](const std::string& p) { return linear_of(w, L(p + ".weight"), L(p + ".bias")); };
    Act h;
    be.layer_norm(x, &w.get(L("ln_1.weight")), &w.get(L("ln_1.bias")), c.norm_eps, h);
    Act qkv = project(be, h, lin("attn.c_attn")), q, k, v;
    be.slice_cols(qkv, 3 * d, 0, d, q);
    be.slice_cols(qkv, 3 * d, d, d, k);
    be.slice_cols(qkv, 3 * d, 2 * d, d, v);
    Act o =
        project(be, attend(be, q, k, v, with_attn_dropout(ap, c.dropout.attn, in), nullptr, in, i),
                lin("attn.c_proj"));
    dropout(be, o, c.dropout.resid, in);
    report_tap(sink, Tap::attn_out, int(i), o, in.seqs);
    be.add(x, o);
    be.layer_norm(x, &w.get(L("ln_2.weight")), &w.get(L("ln_2.bias")), c.norm_eps, h);
    Act m = plain_mlp(be, h, lin("mlp.c_fc"), lin("mlp.c_proj"), c.act);
    dropout(be, m, c.dropout.resid, in);
    report_tap(sink, Tap::mlp_out, int(i), m, in.seqs);
    be.add(x, m);
    if (i + 1 < c.n_layers) report_tap(sink, Tap::hidden, int(i + 1), x, in.seqs);
  }
  output_taps(be, head_input(c, w, be, x, true), w.get("lm_head.weight"), 0.0, int(c.n_layers), in,
              sink);
}

}  // namespace

extern const Architecture kGpt2{
    .name = "gpt2",
    .hf_model_types = {"gpt2"},
    .gguf_archs = {"gpt2"},
    .hf_prefix = "transformer.",
    .hf_class = "GPT2LMHeadModel",
    .config_from_hf = from_hf,
    .config_from_gguf = from_gguf,
    .config_to_hf = to_hf,
    .tensors = tensors,
    .forward = forward,
    .head_input = head_input,
};

}  // namespace erank
