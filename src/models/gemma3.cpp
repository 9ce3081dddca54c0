// Gemma 3 text in Hugging Face semantics: RMSNorm with gain (1 + w), norms before and after both
// attention and MLP, q/k RMSNorm per head, queries scaled by query_pre_attn_scalar^-1/2,
// sliding-window and global layers with their own RoPE bases, GELU-tanh gated MLP, embeddings
// scaled by sqrt(hidden) (rounded to the weights' dtype, f32), tied head, optional soft-capping.
#include <cmath>

#include "core/error.h"
#include "io/gguf.h"
#include "models/architecture.h"
#include "models/blocks.h"

namespace erank {
namespace {

void parse_rope(const nlohmann::json& r, const std::string& origin, RopeConfig& out) {
  JsonConfig j{r, origin};
  out.theta = j.num_or("rope_theta", out.theta);
  const std::string type = j.str_or("rope_type", j.str_or("type", "default"));
  if (type == "linear") {
    out.scaling_type = "linear";
    out.factor = j.num("factor");
  } else if (type != "default") {
    fail("{}: rope type '{}' is not supported", origin, type);
  }
}

ModelConfig from_hf(const JsonConfig& j) {
  ModelConfig c;
  c.arch = "gemma3";
  c.model_type = j.str_or("model_type", "gemma3_text");
  c.vocab_size = j.int_("vocab_size");
  c.hidden = j.int_("hidden_size");
  c.intermediate = j.int_("intermediate_size");
  c.n_layers = j.int_("num_hidden_layers");
  c.n_heads = j.int_("num_attention_heads");
  c.n_kv_heads = j.int_or("num_key_value_heads", c.n_heads);
  c.head_dim = j.int_or("head_dim", 256);
  c.max_positions = j.int_or("max_position_embeddings", 131072);
  c.norm_eps = j.num_or("rms_norm_eps", 1e-6);
  c.tie_embeddings = j.bool_or("tie_word_embeddings", true);
  c.act = parse_activation(j.str_or("hidden_activation", "gelu_pytorch_tanh"), j.origin);
  c.query_pre_attn_scalar = j.num_or("query_pre_attn_scalar", 256);
  c.final_softcap = j.num_or("final_logit_softcapping", 0.0);
  // transformers 5 never passes attn_logit_softcapping to Gemma 3 attention; neither do we.
  c.attn_softcap = 0.0;
  c.sliding_window = j.int_or("sliding_window", 4096);
  if (j.bool_or("use_bidirectional_attention", false))
    fail("{}: bidirectional attention is not supported", j.origin);
  if (j.has("layer_types")) {
    for (auto& t : j.j["layer_types"]) c.sliding.push_back(t == "sliding_attention");
    if (static_cast<int64_t>(c.sliding.size()) != c.n_layers)
      fail("{}: layer_types has {} entries for {} layers", j.origin, c.sliding.size(), c.n_layers);
  } else {
    const int64_t pattern =
        j.int_or("sliding_window_pattern", j.int_or("_sliding_window_pattern", 6));
    for (int64_t i = 0; i < c.n_layers; ++i) c.sliding.push_back((i + 1) % pattern != 0);
  }
  c.rope.theta = j.num_or("rope_theta", 1e6);
  c.rope_local.theta = j.num_or("rope_local_base_freq", 1e4);
  if (j.has("rope_parameters") && j.j["rope_parameters"].contains("full_attention")) {
    parse_rope(j.j["rope_parameters"]["full_attention"], j.origin, c.rope);
    if (j.j["rope_parameters"].contains("sliding_attention"))
      parse_rope(j.j["rope_parameters"]["sliding_attention"], j.origin, c.rope_local);
  } else if (j.has("rope_scaling") && j.j["rope_scaling"].is_object()) {
    parse_rope(j.j["rope_scaling"], j.origin, c.rope);
  }
  c.rope.rotary_dim = c.rope_local.rotary_dim = c.head_dim;
  c.init_std = j.num_or("initializer_range", 0.02);
  c.dropout.attn = j.num_or("attention_dropout", 0.0);
  c.bos_id = j.int_or("bos_token_id", 2);
  c.eos_id =
      j.has("eos_token_id") && j.j["eos_token_id"].is_number_integer() ? j.int_("eos_token_id") : 1;
  c.pad_id = j.int_or("pad_token_id", 0);
  return c;
}

ModelConfig from_gguf(const GGUFFile& f) {
  ModelConfig c;
  c.arch = "gemma3";
  c.model_type = "gemma3_text";
  c.hidden = f.get_int("gemma3.embedding_length");
  c.intermediate = f.get_int("gemma3.feed_forward_length");
  c.n_layers = f.get_int("gemma3.block_count");
  c.n_heads = f.get_int("gemma3.attention.head_count");
  c.n_kv_heads = f.get_int_or("gemma3.attention.head_count_kv", c.n_heads);
  c.head_dim = f.get_int_or("gemma3.attention.key_length", 256);
  c.max_positions = f.get_int_or("gemma3.context_length", 32768);
  c.norm_eps = f.get_float_or("gemma3.attention.layer_norm_rms_epsilon", 1e-6);
  c.sliding_window = f.get_int_or("gemma3.attention.sliding_window", 512);
  c.final_softcap = f.get_float_or("gemma3.final_logit_softcapping", 0.0);
  // llama.cpp hard-codes these for Gemma 3: every 6th layer global, local base 10000, and the
  // query scale 1/sqrt(head_dim) (query_pre_attn_scalar = head_dim) for all but the 27B.
  for (int64_t i = 0; i < c.n_layers; ++i) c.sliding.push_back((i + 1) % 6 != 0);
  c.rope.theta = f.get_float_or("gemma3.rope.freq_base", 1e6);
  c.rope_local.theta = 10000.0;
  c.rope.rotary_dim = c.rope_local.rotary_dim = c.head_dim;
  if (f.has("gemma3.rope.scaling.type") && f.get_string("gemma3.rope.scaling.type") == "linear") {
    c.rope.scaling_type = "linear";
    c.rope.factor = f.get_float("gemma3.rope.scaling.factor");
  }
  c.query_pre_attn_scalar = double(c.head_dim);
  const GGUFTensorInfo* emb = f.find_tensor("token_embd.weight");
  if (!emb || emb->ne.size() != 2)
    fail("{}: tensor 'token_embd.weight' missing or not 2-D", f.path());
  c.vocab_size = emb->ne[1];
  c.tie_embeddings = f.find_tensor("output.weight") == nullptr;
  c.act = Activation::gelu_tanh;
  c.bos_id = f.get_int_or("tokenizer.ggml.bos_token_id", 2);
  c.eos_id = f.get_int_or("tokenizer.ggml.eos_token_id", 1);
  c.pad_id = f.get_int_or("tokenizer.ggml.padding_token_id", 0);
  return c;
}

nlohmann::json to_hf(const ModelConfig& c) {
  nlohmann::json layer_types = nlohmann::json::array();
  for (bool s : c.sliding) layer_types.push_back(s ? "sliding_attention" : "full_attention");
  nlohmann::json full = {{"rope_type", "default"}, {"rope_theta", c.rope.theta}};
  if (c.rope.scaling_type == "linear")
    full = {{"rope_type", "linear"}, {"rope_theta", c.rope.theta}, {"factor", c.rope.factor}};
  nlohmann::json j = {
      {"model_type", "gemma3_text"},
      {"architectures", {"Gemma3ForCausalLM"}},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden},
      {"intermediate_size", c.intermediate},
      {"num_hidden_layers", c.n_layers},
      {"num_attention_heads", c.n_heads},
      {"num_key_value_heads", c.n_kv_heads},
      {"head_dim", c.head_dim},
      {"max_position_embeddings", c.max_positions},
      {"rms_norm_eps", c.norm_eps},
      {"sliding_window", c.sliding_window},
      {"layer_types", layer_types},
      {"query_pre_attn_scalar", static_cast<int64_t>(c.query_pre_attn_scalar)},
      {"hidden_activation", "gelu_pytorch_tanh"},
      {"tie_word_embeddings", c.tie_embeddings},
      {"rope_parameters",
       {{"full_attention", full},
        {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", c.rope_local.theta}}}}},
      {"initializer_range", c.init_std},
      {"bos_token_id", c.bos_id},
      {"eos_token_id", c.eos_id},
      {"pad_token_id", c.pad_id}};
  j["final_logit_softcapping"] =
      c.final_softcap > 0 ? nlohmann::json(c.final_softcap) : nlohmann::json();
  j["attn_logit_softcapping"] =
      c.attn_softcap > 0 ? nlohmann::json(c.attn_softcap) : nlohmann::json();
  return j;
}

std::vector<TensorSpec> tensors(const ModelConfig& c) {
  const int64_t d = c.hidden, q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
  const int64_t I = c.intermediate, hd = c.head_dim;
  const InitSpec w{InitSpec::normal, c.init_std};
  const InitSpec norm{InitSpec::zeros};  // Gemma3RMSNorm stores w of the (1 + w) gain
  const GGUFFix m1 = GGUFFix::minus_one;
  std::vector<TensorSpec> t;
  t.push_back({.name = "embed_tokens.weight",
               .gguf = "token_embd.weight",
               .shape = {c.vocab_size, d},
               .init = {InitSpec::normal, c.init_std, c.pad_id}});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto add = [&](const char* hf, const char* gg, std::vector<int64_t> shape, InitSpec init,
                   GGUFFix fix = GGUFFix::none) {
      t.push_back({.name = layer_name(hf, i),
                   .gguf = layer_name(gg, i),
                   .shape = std::move(shape),
                   .gguf_fix = fix,
                   .init = init});
    };
    add("layers.{i}.input_layernorm.weight", "blk.{i}.attn_norm.weight", {d}, norm, m1);
    add("layers.{i}.self_attn.q_proj.weight", "blk.{i}.attn_q.weight", {q, d}, w);
    add("layers.{i}.self_attn.k_proj.weight", "blk.{i}.attn_k.weight", {kv, d}, w);
    add("layers.{i}.self_attn.v_proj.weight", "blk.{i}.attn_v.weight", {kv, d}, w);
    add("layers.{i}.self_attn.o_proj.weight", "blk.{i}.attn_output.weight", {d, q}, w);
    add("layers.{i}.self_attn.q_norm.weight", "blk.{i}.attn_q_norm.weight", {hd}, norm, m1);
    add("layers.{i}.self_attn.k_norm.weight", "blk.{i}.attn_k_norm.weight", {hd}, norm, m1);
    add("layers.{i}.post_attention_layernorm.weight", "blk.{i}.post_attention_norm.weight", {d},
        norm, m1);
    add("layers.{i}.pre_feedforward_layernorm.weight", "blk.{i}.ffn_norm.weight", {d}, norm, m1);
    add("layers.{i}.post_feedforward_layernorm.weight", "blk.{i}.post_ffw_norm.weight", {d}, norm,
        m1);
    add("layers.{i}.mlp.gate_proj.weight", "blk.{i}.ffn_gate.weight", {I, d}, w);
    add("layers.{i}.mlp.up_proj.weight", "blk.{i}.ffn_up.weight", {I, d}, w);
    add("layers.{i}.mlp.down_proj.weight", "blk.{i}.ffn_down.weight", {d, I}, w);
  }
  t.push_back({.name = "norm.weight",
               .gguf = "output_norm.weight",
               .shape = {d},
               .gguf_fix = m1,
               .init = norm});
  t.push_back({.name = "lm_head.weight",
               .gguf = "output.weight",
               .shape = {c.vocab_size, d},
               .head = true,
               .tied_to = c.tie_embeddings ? "embed_tokens.weight" : "",
               .init = w});
  return t;
}

Act head_input(const ModelConfig& c, const Weights& w, Backend& be, const Act& x, bool norm) {
  if (!norm) return x;
  Act y;
  be.rms_norm(x, w.get("norm.weight"), c.norm_eps, c.hidden, true, y);
  return y;
}

void forward(const ModelConfig& c, const Weights& w, Backend& be, const ForwardInput& in,
             TapSink& sink) {
  const int64_t d = c.hidden, hd = c.head_dim;
  Act x;
  be.embed(w.get("embed_tokens.weight"), in.ids, x);
  be.scale(x, static_cast<double>(static_cast<float>(std::sqrt(double(d)))));
  report_tap(sink, Tap::hidden, 0, x, in.seqs);
  const Rope global{hd, hd, c.rope.inv_freq()}, local{hd, hd, c.rope_local.inv_freq()};
  auto rms = [&](const Act& a, const std::string& name, int64_t group, Act& out) {
    be.rms_norm(a, w.get(name), c.norm_eps, group, true, out);
  };
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto L = [&](const std::string& p) { return layer_name("layers.{i}." + p, i); };
    auto lin = [&](const std::string& p) { return linear_of(w, L(p + ".weight")); };
    const bool sliding = c.sliding[static_cast<size_t>(i)];
    AttentionParams ap{c.n_heads,
                       c.n_kv_heads,
                       hd,
                       1.0 / std::sqrt(c.query_pre_attn_scalar),
                       sliding ? c.sliding_window : 0,
                       c.attn_softcap};
    Act h, qn, kn;
    rms(x, L("input_layernorm.weight"), d, h);
    std::vector<Act> qkv = project_many(
        be, h, {lin("self_attn.q_proj"), lin("self_attn.k_proj"), lin("self_attn.v_proj")});
    rms(qkv[0], L("self_attn.q_norm.weight"), hd, qn);
    rms(qkv[1], L("self_attn.k_norm.weight"), hd, kn);
    Act a = attend(be, qn, kn, qkv[2], with_attn_dropout(ap, c.dropout.attn, in),
                   sliding ? &local : &global, in, i);
    Act o = project(be, a, lin("self_attn.o_proj")), on;
    rms(o, L("post_attention_layernorm.weight"), d, on);
    report_tap(sink, Tap::attn_out, int(i), on, in.seqs);
    be.add(x, on);
    rms(x, L("pre_feedforward_layernorm.weight"), d, h);
    Act m = gated_mlp(be, h, lin("mlp.gate_proj"), lin("mlp.up_proj"), lin("mlp.down_proj"), c.act),
        mn;
    rms(m, L("post_feedforward_layernorm.weight"), d, mn);
    report_tap(sink, Tap::mlp_out, int(i), mn, in.seqs);
    be.add(x, mn);
    if (i + 1 < c.n_layers) report_tap(sink, Tap::hidden, int(i + 1), x, in.seqs);
  }
  output_taps(be, head_input(c, w, be, x, true), w.get("lm_head.weight"), c.final_softcap,
              int(c.n_layers), in, sink);
}

}  // namespace

extern const Architecture kGemma3{
    .name = "gemma3",
    .hf_model_types = {"gemma3_text"},
    .gguf_archs = {"gemma3"},
    .hf_prefix = "model.",
    .hf_class = "Gemma3ForCausalLM",
    .config_from_hf = from_hf,
    .config_from_gguf = from_gguf,
    .config_to_hf = to_hf,
    .tensors = tensors,
    .forward = forward,
    .head_input = head_input,
};

}  // namespace erank
