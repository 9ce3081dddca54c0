// erank info: resolved config, parameter count, the tensor table with each tensor's type in the
// file, and the memory a run will take (models/memory_estimate.h).
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "cli/command.h"
#include "cli/common.h"
#include "models/kv_cache.h"
#include "models/memory_estimate.h"
#include "models/model.h"

namespace erank::cli {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) r += (i ? " x " : "") + std::to_string(s[i]);
  return r;
}

RunFn setup(CLI::App& app) {
  auto opt = std::make_shared<EngineOptions>();
  auto tensors = std::make_shared<bool>(true);
  auto ctx = std::make_shared<int64_t>(0);
  auto batch = std::make_shared<int64_t>(1);
  auto plan = std::make_shared<MemoryPlan>();
  plan->twins = 1;
  opt->add(app);
  app.add_option("--batch-tokens", plan->batch_tokens, "memory estimate: tokens per forward")
      ->capture_default_str();
  app.add_option("--twins", plan->twins, "memory estimate: untrained twins (0: rank, loss)")
      ->capture_default_str();
  app.add_option("--max-context", *ctx,
                 "KV cache size for sequences of this many tokens (0: the model's positions)");
  app.add_option("--batch", *batch, "KV cache size for this many sequences")->capture_default_str();
  app.add_flag("!--no-tensors", *tensors, "omit the per-tensor table");
  return [opt, tensors, ctx, batch, plan] {
    const ModelSource src = resolve_model_source(opt->model);
    auto m = load_model(src);
    const ModelConfig& c = m->config();
    fmt::print("model:        {} ({})\n", src.name, src.path);
    fmt::print("architecture: {} (model_type {})\n", m->arch().name, c.model_type);
    fmt::print("layers {}  hidden {}  heads {} (kv {})  head_dim {}  ffn {}  vocab {}\n",
               c.n_layers, c.hidden, c.n_heads, c.n_kv_heads, c.head_dim, c.intermediate,
               c.vocab_size);
    if (!c.layer_heads.empty())  // layer-wise scaling (OpenELM): the line above shows the largest
      fmt::print("per layer:    heads [{}]  kv [{}]  ffn [{}]\n", fmt::join(c.layer_heads, " "),
                 fmt::join(c.layer_kv_heads, " "), fmt::join(c.layer_ffn, " "));
    fmt::print("parameters:   {} ({:.1f} M){}\n", m->n_params(), m->n_params() / 1e6,
               c.tie_embeddings ? ", head tied to embeddings" : "");
    fmt::print("file dtype:   {}  ({:.1f} MiB of tensor data)\n", m->report().source_dtype,
               m->report().file_bytes / 1048576.0);
    plan->threads = opt->threads;
    const MemoryEstimate est = estimate_memory(src, c, m->arch(), *plan);
    fmt::print("memory:       erank diff/loss with --batch-tokens {}, --twins {} (about):\n{}",
               plan->batch_tokens, plan->twins, describe(est, *plan));
    // What `erank generate --batch B --max-context N` allocates (sliding layers keep a window).
    const int64_t n_ctx = *ctx > 0 ? *ctx : c.max_positions;
    const double per_token = double(KVCache::bytes_for(c, 1, 1, Precision::f32));
    fmt::print(
        "kv cache:     {:.1f} MiB for {} x {} tokens (f32; {:.1f} KiB per token, sliding-window "
        "layers stop at their window)\n",
        double(KVCache::bytes_for(c, *batch, n_ctx, Precision::f32)) / 1048576.0, *batch, n_ctx,
        per_token / 1024.0);
    fmt::print("config:       {}\n", c.raw.dump());
    if (*tensors) {
      fmt::print("\n{:<56} {:<18} {}\n", "tensor", "shape", "type in file");
      for (const TensorSpec& s : m->arch().tensors(c)) {
        const Weight* w = m->weights().find(s.name);
        if (!w) continue;
        const auto it = m->report().tensor_types.find(s.name);
        const std::string type = m->weights().is_alias(s.name)          ? "tied to " + s.tied_to
                                 : it != m->report().tensor_types.end() ? it->second
                                                                        : "F32";
        fmt::print("{:<56} {:<18} {}\n", s.name, shape_str(w->shape), type);
      }
    }
    for (auto& u : m->report().unused) fmt::print("unused tensor in file: {}\n", u);
    return 0;
  };
}

ERANK_COMMAND("info", "Show a model's resolved config, parameters, tensors and memory", setup);

}  // namespace
}  // namespace erank::cli
