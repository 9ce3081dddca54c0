// Memory estimate and check. The terms mirror what the code holds at the peak of a forward:
// load_gguf/read_hf_table decide per tensor whether it stays mapped in its file's type, is used
// in place as f32, or is expanded (the same rules are applied here to the headers).
#include "models/memory_estimate.h"

#include "models/taps.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/error.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "models/kv_cache.h"
#include "models/weights.h"

namespace erank {

namespace {

constexpr double kMiB = 1048576.0, kGiB = 1073741824.0;

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t gguf_weights(const std::string& path, const ModelConfig& cfg, const Architecture& arch) {
  const GGUFFile f(path);
  const bool keep = keep_stored_weights();
  size_t bytes = 0;
  for (const TensorSpec& s : arch.tensors(cfg)) {
    const GGUFTensorInfo* t = s.gguf.empty() ? nullptr : f.find_tensor(s.gguf);
    if (!t) continue;  // tied (shares its target) or optional and absent
    const size_t f32 = size_t(numel_of(s.shape)) * sizeof(float);
    const bool kept =
        keep && s.shape.size() == 2 && t->type != GGMLType::F32 && s.gguf_fix != GGUFFix::minus_one;
    if (kept) {
      bytes += t->data.size();  // mapped
      if (s.gguf_fix == GGUFFix::rope_unpermute_q || s.gguf_fix == GGUFFix::rope_unpermute_k)
        bytes += t->data.size();  // rows copied into their HF order
    } else if (keep && t->type == GGMLType::F32) {
      bytes += t->data.size() + (s.gguf_fix != GGUFFix::none ? f32 : 0);  // in place (or copied)
    } else {
      bytes += f32;  // expanded
    }
  }
  return bytes;
}

size_t hf_weights(const std::string& dir, const ModelConfig& cfg, const Architecture& arch) {
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  namespace fs = std::filesystem;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors")
      files.push_back(std::make_unique<SafetensorsFile>(e.path().string()));
  const bool keep = keep_stored_weights();
  size_t bytes = 0;
  for (const TensorSpec& s : arch.tensors(cfg)) {
    const TensorView* v = nullptr;
    for (const std::string& pre :
         s.head ? std::vector<std::string>{""} : std::vector<std::string>{arch.hf_prefix, ""})
      for (auto& f : files)
        if (!v)
          if (auto it = f->tensors().find(pre + s.name); it != f->tensors().end()) v = &it->second;
    if (!v) continue;
    const size_t f32 = size_t(numel_of(s.shape)) * sizeof(float);
    const bool half = v->dtype == DType::bf16 || v->dtype == DType::f16;
    if (keep && half && s.shape.size() == 2 && !s.hf_transposed)
      bytes += v->data.size();  // mapped 16-bit
    else if (v->dtype == DType::f32 && !s.hf_transposed)
      bytes += v->data.size();  // in place
    else
      bytes += f32;
  }
  return bytes;
}

std::string gib(double b) {
  return b >= kGiB ? fmt::format("{:.2f} GiB", b / kGiB) : fmt::format("{:.0f} MiB", b / kMiB);
}

std::optional<size_t> read_number_file(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  if (!(f >> s) || s == "max") return std::nullopt;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (!end || *end) return std::nullopt;
  return size_t(v);
}

}  // namespace

size_t stored_weights_bytes(const ModelSource& src, const ModelConfig& cfg,
                            const Architecture& arch) {
  return src.kind == ModelSource::Kind::gguf ? gguf_weights(src.path, cfg, arch)
                                             : hf_weights(src.path, cfg, arch);
}

MemoryEstimate estimate_memory(const ModelConfig& c, const Architecture& arch, size_t weights_bytes,
                               const MemoryPlan& plan) {
  MemoryEstimate e;
  // Process, OpenMP/OpenBLAS and the tokenizer (measured: ~40 MiB + ~300 bytes per token, its
  // tables and the GGUF metadata).
  e.base_bytes = size_t(40 * kMiB) + size_t(c.vocab_size) * 300;
  e.weights_bytes = weights_bytes;
  if (plan.twins > 0) {  // make_twin: every tensor of the table in f32 (bf16 matrices), tied shared
    for (const TensorSpec& t : arch.tensors(c))
      if (t.tied_to.empty())
        e.twin_bytes += size_t(numel_of(t.shape)) *
                        (plan.twin_bf16 && t.shape.size() == 2 ? sizeof(uint16_t) : sizeof(float));
  }
  if (plan.kv_slots > 0 && plan.kv_context > 0)
    e.kv_bytes = KVCache::bytes_for(c, plan.kv_slots, plan.kv_context, Precision::f32);
  // One forward, f32: the residual stream, its norm, the block output and the tap (4 x hidden),
  // q, k, v and the attention output, and the MLP's gate and up (2 x ffn) live at once.
  int64_t q_max = 0, kv_max = 0, ffn_max = 0;
  for (int64_t i = 0; i < c.n_layers; ++i) {
    q_max = std::max(q_max, c.heads_at(i) * c.head_dim);
    kv_max = std::max(kv_max, c.kv_heads_at(i) * c.head_dim);
    ffn_max = std::max(ffn_max, c.ffn_at(i));
  }
  const double row = double(4 * c.hidden + 2 * q_max + 2 * kv_max + 2 * ffn_max) * sizeof(float);
  const int64_t rows = std::max<int64_t>(1, plan.batch_tokens);
  const int threads =
      plan.threads > 0 ? plan.threads : std::max(1, int(std::thread::hardware_concurrency()));
  // eRank per text: a min(tokens, hidden)^2 Gram or covariance matrix in double per thread.
  const double gram = double(std::min(rows, c.hidden)) * double(std::min(rows, c.hidden)) * 8;
  e.activation_bytes = size_t(row * double(rows) + gram * threads);
  // The loss takes the logits in blocks of 256 rows (a last block of up to 320), not all rows.
  const int64_t q = TapSink::logit_block_quantum;
  const int64_t all = rows <= q ? rows : std::min(rows, q + 64);
  const int64_t lrows = !plan.logits ? 0 : plan.logit_rows >= 0 ? plan.logit_rows : all;
  e.logits_bytes = size_t(lrows) * size_t(c.vocab_size) * sizeof(float);
  e.bytes_per_row = row;
  e.total_bytes = e.base_bytes + std::max(e.weights_bytes, e.twin_bytes) + e.kv_bytes +
                  e.activation_bytes + e.logits_bytes;
  return e;
}

MemoryEstimate estimate_memory(const ModelSource& src, const ModelConfig& cfg,
                               const Architecture& arch, const MemoryPlan& plan) {
  return estimate_memory(cfg, arch, stored_weights_bytes(src, cfg, arch), plan);
}

std::string describe(const MemoryEstimate& e, const MemoryPlan& plan) {
  std::string o;
  o += fmt::format("  weights      {:>10}  as erank holds them ({})\n", gib(e.weights_bytes),
                   keep_stored_weights() ? "matrices in their file's type, mapped"
                                         : "ERANK_WEIGHTS=f32: expanded");
  if (plan.twins > 0)
    o += fmt::format(
        "  twin         {:>10}  f32, built after the trained model is freed (max of the two)\n",
        gib(e.twin_bytes));
  if (e.kv_bytes > 0)
    o += fmt::format("  kv cache     {:>10}  {} x {} tokens\n", gib(e.kv_bytes), plan.kv_slots,
                     plan.kv_context);
  o += fmt::format("  activations  {:>10}  {} tokens per forward\n", gib(e.activation_bytes),
                   plan.batch_tokens);
  if (e.logits_bytes > 0)
    o += fmt::format("  logits       {:>10}  [{}, vocab] f32\n", gib(e.logits_bytes),
                     plan.logit_rows >= 0 ? plan.logit_rows : plan.batch_tokens);
  o += fmt::format("  process      {:>10}  runtime, tokenizer\n", gib(e.base_bytes));
  o += fmt::format("  total        {:>10}  peak", gib(e.total_bytes));
  if (auto a = available_memory())
    o += fmt::format(" ({} available, {}{})", gib(a->bytes), a->source,
                     e.total_bytes > a->bytes ? ": does NOT fit" : "");
  return o + "\n";
}

std::optional<AvailableMemory> available_memory() {
  if (const char* v = std::getenv("ERANK_MEMORY_LIMIT_BYTES"); v && *v) {
    char* end = nullptr;
    const unsigned long long b = std::strtoull(v, &end, 10);
    if (!end || *end) fail("ERANK_MEMORY_LIMIT_BYTES={}: expected a number of bytes", v);
    return AvailableMemory{size_t(b), "ERANK_MEMORY_LIMIT_BYTES"};
  }
  std::optional<AvailableMemory> out;
  std::ifstream mi("/proc/meminfo");
  for (std::string key; mi >> key;) {
    size_t kb = 0;
    mi >> kb;
    if (key == "MemAvailable:") {
      out = AvailableMemory{kb * 1024, "MemAvailable"};
      break;
    }
    mi.ignore(1 << 10, '\n');
  }
  // cgroup v2: the limit of this process's group less what the group already uses.
  if (auto max = read_number_file("/sys/fs/cgroup/memory.max")) {
    const size_t cur = read_number_file("/sys/fs/cgroup/memory.current").value_or(0);
    const size_t left = *max > cur ? *max - cur : 0;
    if (!out || left < out->bytes) out = AvailableMemory{left, "cgroup memory.max"};
  }
  return out;
}

void check_memory(const MemoryEstimate& e, const std::string& what, const std::string& knob,
                  int64_t knob_value, double bytes_per_knob_unit, const std::string& otherwise) {
  if (const char* v = std::getenv("ERANK_NO_MEMORY_CHECK"); v && std::string(v) == "1") return;
  const auto avail = available_memory();
  if (!avail || e.total_bytes <= avail->bytes) return;
  std::string hint;
  const double fixed = double(e.total_bytes) - double(knob_value) * bytes_per_knob_unit;
  const size_t weights = std::max(e.weights_bytes, e.twin_bytes);
  if (bytes_per_knob_unit > 0 && fixed < double(avail->bytes)) {
    const auto n = int64_t((double(avail->bytes) - fixed) / bytes_per_knob_unit);
    if (n >= 1 && n < knob_value) hint = fmt::format("try {} {}, or ", knob, n);
  }
  if (hint.empty() && e.base_bytes + weights > avail->bytes)
    hint = fmt::format("the weights alone need {}: use a smaller or more quantized model, or ",
                       gib(double(weights)));
  if (hint.empty() && !otherwise.empty()) hint = fmt::format("try {}, or ", otherwise);
  fail(
      "{}: needs about {} (weights {}{}, activations {}, logits {}{}), {} available ({}); {}set "
      "ERANK_NO_MEMORY_CHECK=1 to run anyway",
      what, gib(e.total_bytes), gib(e.weights_bytes),
      e.twin_bytes ? fmt::format(", twin {}", gib(e.twin_bytes)) : "", gib(e.activation_bytes),
      gib(e.logits_bytes), e.kv_bytes ? fmt::format(", kv cache {}", gib(e.kv_bytes)) : "",
      gib(avail->bytes), avail->source, hint);
}

}  // namespace erank
