// Llama family in Hugging Face semantics: Llama 2/3 (incl. llama3 rope scaling), Mistral,
// SmolLM2, Qwen2 (q/k/v bias). Pre-RMSNorm, RoPE (rotate-half), GQA, SwiGLU, tied or untied head.
#include <cmath>

#include "core/error.h"
#include "io/gguf.h"
#include "models/architecture.h"
#include "models/blocks.h"

namespace erank {
namespace {

ModelConfig from_hf(const JsonConfig& j) {
  ModelConfig c;
  c.arch = "llama";
  c.model_type = j.str_or("model_type", "llama");
  c.vocab_size = j.int_("vocab_size");
  c.hidden = j.int_("hidden_size");
  c.intermediate = j.int_("intermediate_size");
  c.n_layers = j.int_("num_hidden_layers");
  c.n_heads = j.int_("num_attention_heads");
  c.n_kv_heads = j.int_or("num_key_value_heads", c.n_heads);
  c.head_dim = j.int_or("head_dim", c.n_heads > 0 ? c.hidden / c.n_heads : 0);
  c.max_positions = j.int_or("max_position_embeddings", 2048);
  c.norm_eps = j.num_or("rms_norm_eps", 1e-6);
  c.tie_embeddings = j.bool_or("tie_word_embeddings", false);
  c.act = parse_activation(j.str_or("hidden_act", "silu"), j.origin);
  const bool qwen2 = c.model_type == "qwen2";
  c.qkv_bias = qwen2 || j.bool_or("attention_bias", false);
  c.o_bias = !qwen2 && j.bool_or("attention_bias", false);
  c.mlp_bias = j.bool_or("mlp_bias", false);
  // transformers 5 keeps rope settings in rope_parameters; 4.x in rope_theta / rope_scaling.
  const nlohmann::json* rs = nullptr;
  if (j.has("rope_parameters") && j.j["rope_parameters"].is_object())
    rs = &j.j["rope_parameters"];
  else if (j.has("rope_scaling") && j.j["rope_scaling"].is_object())
    rs = &j.j["rope_scaling"];
  c.rope.theta = j.num_or("rope_theta", 10000.0);
  c.rope.rotary_dim = c.head_dim;
  if (rs) {
    JsonConfig r{*rs, j.origin + " (rope parameters)"};
    c.rope.theta = r.num_or("rope_theta", c.rope.theta);
    std::string type = r.str_or("rope_type", r.str_or("type", "default"));
    if (type == "llama3" || type == "linear") {
      c.rope.scaling_type = type;
      c.rope.factor = r.num("factor");
      c.rope.low_freq_factor = r.num_or("low_freq_factor", 1.0);
      c.rope.high_freq_factor = r.num_or("high_freq_factor", 4.0);
      c.rope.original_max_pos = r.int_or("original_max_position_embeddings", 8192);
    } else if (type != "default") {
      fail("{}: rope type '{}' is not supported", j.origin, type);
    }
  }
  if (c.model_type == "mistral") c.sliding_window = j.int_or("sliding_window", 0);
  c.init_std = j.num_or("initializer_range", 0.02);
  c.dropout.attn = j.num_or("attention_dropout", 0.0);
  c.bos_id = j.int_or("bos_token_id", -1);
  c.eos_id = j.has("eos_token_id") && j.j["eos_token_id"].is_number_integer()
                 ? j.int_("eos_token_id")
                 : -1;
  c.pad_id = j.int_or("pad_token_id", -1);
  return c;
}

ModelConfig from_gguf(const GGUFFile& f) {
  ModelConfig c;
  c.arch = "llama";
  const std::string a = f.get_string("general.architecture");
  c.model_type = a == "qwen2" ? "qwen2" : "llama";
  auto k = [&](const char* s) { return a + "." + s; };
  c.hidden = f.get_int(k("embedding_length"));
  c.intermediate = f.get_int(k("feed_forward_length"));
  c.n_layers = f.get_int(k("block_count"));
  c.n_heads = f.get_int(k("attention.head_count"));
  c.n_kv_heads = f.get_int_or(k("attention.head_count_kv"), c.n_heads);
  c.head_dim = f.get_int_or(k("attention.key_length"), c.hidden / c.n_heads);
  c.max_positions = f.get_int_or(k("context_length"), 2048);
  c.norm_eps = f.get_float_or(k("attention.layer_norm_rms_epsilon"), 1e-6);
  c.rope.theta = f.get_float_or(k("rope.freq_base"), 10000.0);
  c.rope.rotary_dim = f.get_int_or(k("rope.dimension_count"), c.head_dim);
  if (f.has(k("rope.scaling.type")) && f.get_string(k("rope.scaling.type")) == "linear") {
    c.rope.scaling_type = "linear";
    c.rope.factor = f.get_float(k("rope.scaling.factor"));
  }
  // Llama 3 rope scaling travels as per-frequency divisors (convert_hf_to_gguf's rope_freqs).
  if (const GGUFTensorInfo* rf = f.find_tensor("rope_freqs.weight"))
    for (float v : f.dequantize(*rf)) c.rope.freq_factors.push_back(v);
  const GGUFTensorInfo* emb = f.find_tensor("token_embd.weight");
  if (!emb || emb->ne.size() != 2)
    fail("{}: tensor 'token_embd.weight' missing or not 2-D", f.path());
  c.vocab_size = f.get_int_or(k("vocab_size"), emb->ne[1]);
  c.tie_embeddings = f.find_tensor("output.weight") == nullptr;
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.act = Activation::silu;
  c.bos_id = f.get_int_or("tokenizer.ggml.bos_token_id", -1);
  c.eos_id = f.get_int_or("tokenizer.ggml.eos_token_id", -1);
  c.pad_id = f.get_int_or("tokenizer.ggml.padding_token_id", -1);
  return c;
}

nlohmann::json to_hf(const ModelConfig& c) {
  nlohmann::json j = {
      {"model_type", c.model_type},
      {"architectures", {c.model_type == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden},
      {"intermediate_size", c.intermediate},
      {"num_hidden_layers", c.n_layers},
      {"num_attention_heads", c.n_heads},
      {"num_key_value_heads", c.n_kv_heads},
      {"head_dim", c.head_dim},
      {"max_position_embeddings", c.max_positions},
      {"rms_norm_eps", c.norm_eps},
      {"rope_theta", c.rope.theta},
      {"tie_word_embeddings", c.tie_embeddings},
      {"hidden_act", "silu"},
      {"initializer_range", c.init_std},
      {"attention_bias", c.model_type != "qwen2" && c.qkv_bias},
      {"torch_dtype", "float32"}};
  if (c.bos_id >= 0) j["bos_token_id"] = c.bos_id;
  if (c.eos_id >= 0) j["eos_token_id"] = c.eos_id;
  if (c.pad_id >= 0) j["pad_token_id"] = c.pad_id;
  if (c.rope.scaling_type == "linear")
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.rope.factor}};
  return j;
}

std::vector<TensorSpec> tensors(const ModelConfig& c) {
  const int64_t d = c.hidden, q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
  const int64_t I = c.intermediate;
  const InitSpec w{InitSpec::normal, c.init_std}, one{InitSpec::ones}, zero{InitSpec::zeros};
  // llama.cpp permutes Q/K for its RoPE only for models converted as LLaMA (not Qwen2).
  const bool permuted = c.model_type != "qwen2";
  const GGUFFix fq = permuted ? GGUFFix::rope_unpermute_q : GGUFFix::none;
  const GGUFFix fk = permuted ? GGUFFix::rope_unpermute_k : GGUFFix::none;
  std::vector<TensorSpec> t;
  t.push_back({.name = "embed_tokens.weight",
               .gguf = "token_embd.weight",
               .shape = {c.vocab_size, d},
               .init = {InitSpec::normal, c.init_std, c.pad_id}});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto L = [&](const char* p) { return layer_name(p, i); };
    t.push_back({.name = L("layers.{i}.input_layernorm.weight"),
                 .gguf = L("blk.{i}.attn_norm.weight"),
                 .shape = {d},
                 .init = one});
    t.push_back({.name = L("layers.{i}.self_attn.q_proj.weight"),
                 .gguf = L("blk.{i}.attn_q.weight"),
                 .shape = {q, d},
                 .gguf_fix = fq,
                 .init = w});
    t.push_back({.name = L("layers.{i}.self_attn.k_proj.weight"),
                 .gguf = L("blk.{i}.attn_k.weight"),
                 .shape = {kv, d},
                 .gguf_fix = fk,
                 .init = w});
    t.push_back({.name = L("layers.{i}.self_attn.v_proj.weight"),
                 .gguf = L("blk.{i}.attn_v.weight"),
                 .shape = {kv, d},
                 .init = w});
    t.push_back({.name = L("layers.{i}.self_attn.o_proj.weight"),
                 .gguf = L("blk.{i}.attn_output.weight"),
                 .shape = {d, q},
                 .init = w});
    if (c.qkv_bias) {
      t.push_back({.name = L("layers.{i}.self_attn.q_proj.bias"),
                   .gguf = L("blk.{i}.attn_q.bias"),
                   .shape = {q},
                   .gguf_fix = fq,
                   .init = zero});
      t.push_back({.name = L("layers.{i}.self_attn.k_proj.bias"),
                   .gguf = L("blk.{i}.attn_k.bias"),
                   .shape = {kv},
                   .gguf_fix = fk,
                   .init = zero});
      t.push_back({.name = L("layers.{i}.self_attn.v_proj.bias"),
                   .gguf = L("blk.{i}.attn_v.bias"),
                   .shape = {kv},
                   .init = zero});
    }
    if (c.o_bias)
      t.push_back({.name = L("layers.{i}.self_attn.o_proj.bias"),
                   .gguf = L("blk.{i}.attn_output.bias"),
                   .shape = {d},
                   .init = zero});
    t.push_back({.name = L("layers.{i}.post_attention_layernorm.weight"),
                 .gguf = L("blk.{i}.ffn_norm.weight"),
                 .shape = {d},
                 .init = one});
    t.push_back({.name = L("layers.{i}.mlp.gate_proj.weight"),
                 .gguf = L("blk.{i}.ffn_gate.weight"),
                 .shape = {I, d},
                 .init = w});
    t.push_back({.name = L("layers.{i}.mlp.up_proj.weight"),
                 .gguf = L("blk.{i}.ffn_up.weight"),
                 .shape = {I, d},
                 .init = w});
    t.push_back({.name = L("layers.{i}.mlp.down_proj.weight"),
                 .gguf = L("blk.{i}.ffn_down.weight"),
                 .shape = {d, I},
                 .init = w});
    if (c.mlp_bias) {
      t.push_back({.name = L("layers.{i}.mlp.gate_proj.bias"), .shape = {I}, .init = zero});
      t.push_back({.name = L("layers.{i}.mlp.up_proj.bias"), .shape = {I}, .init = zero});
      t.push_back({.name = L("layers.{i}.mlp.down_proj.bias"), .shape = {d}, .init = zero});
    }
  }
  t.push_back({.name = "norm.weight", .gguf = "output_norm.weight", .shape = {d}, .init = one});
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
  be.rms_norm(x, w.get("norm.weight"), c.norm_eps, c.hidden, false, y);
  return y;
}

void forward(const ModelConfig& c, const Weights& w, Backend& be, const ForwardInput& in,
             TapSink& sink) {
  Act x = embed_input(be, w.get("embed_tokens.weight"), in);
  report_tap(sink, Tap::hidden, 0, x, in.seqs);
  const Rope rope{c.head_dim, c.rope.rotary_dim, c.rope.inv_freq()};
  AttentionParams ap{c.n_heads,        c.n_kv_heads,
                     c.head_dim,       1.0 / std::sqrt(double(c.head_dim)),
                     c.sliding_window, 0.0};
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto L = [&](const char* p) { return layer_name(p, i); };
    const bool bq = c.qkv_bias;
    Act h;
    be.rms_norm(x, w.get(L("layers.{i}.input_layernorm.weight")), c.norm_eps, c.hidden, false, h);
    std::vector<Act> qkv =
        project_many(be, h,
                     {linear_of(w, L("layers.{i}.self_attn.q_proj.weight"),
                                bq ? L("layers.{i}.self_attn.q_proj.bias") : ""),
                      linear_of(w, L("layers.{i}.self_attn.k_proj.weight"),
                                bq ? L("layers.{i}.self_attn.k_proj.bias") : ""),
                      linear_of(w, L("layers.{i}.self_attn.v_proj.weight"),
                                bq ? L("layers.{i}.self_attn.v_proj.bias") : "")});
    Act a =
        attend(be, qkv[0], qkv[1], qkv[2], with_attn_dropout(ap, c.dropout.attn, in), &rope, in, i);
    Act o = project(be, a,
                    linear_of(w, L("layers.{i}.self_attn.o_proj.weight"),
                              c.o_bias ? L("layers.{i}.self_attn.o_proj.bias") : ""));
    report_tap(sink, Tap::attn_out, int(i), o, in.seqs);
    be.add(x, o);
    be.rms_norm(x, w.get(L("layers.{i}.post_attention_layernorm.weight")), c.norm_eps, c.hidden,
                false, h);
    Act m = gated_mlp(be, h,
                      linear_of(w, L("layers.{i}.mlp.gate_proj.weight"),
                                c.mlp_bias ? L("layers.{i}.mlp.gate_proj.bias") : ""),
                      linear_of(w, L("layers.{i}.mlp.up_proj.weight"),
                                c.mlp_bias ? L("layers.{i}.mlp.up_proj.bias") : ""),
                      linear_of(w, L("layers.{i}.mlp.down_proj.weight"),
                                c.mlp_bias ? L("layers.{i}.mlp.down_proj.bias") : ""),
                      c.act);
    report_tap(sink, Tap::mlp_out, int(i), m, in.seqs);
    be.add(x, m);
    if (i + 1 < c.n_layers) report_tap(sink, Tap::hidden, int(i + 1), x, in.seqs);
  }
  output_taps(be, head_input(c, w, be, x, true), w.get("lm_head.weight"), 0.0, int(c.n_layers), in,
              sink);
}

}  // namespace

extern const Architecture kLlama{
    .name = "llama",
    .hf_model_types = {"llama", "mistral", "qwen2"},
    .gguf_archs = {"llama", "qwen2"},
    .hf_prefix = "model.",
    .hf_class = "LlamaForCausalLM",
    .config_from_hf = from_hf,
    .config_from_gguf = from_gguf,
    .config_to_hf = to_hf,
    .tensors = tensors,
    .forward = forward,
    .head_input = head_input,
    .embed_table = "embed_tokens.weight",
    .input_rows = true,
};

}  // namespace erank
