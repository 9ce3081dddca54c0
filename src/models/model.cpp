#include "models/model.h"

#include "models/blocks.h"
#include "models/box_muller.h"
#include "models/kv_cache.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "core/dtype.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/gguf.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;

namespace erank {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("{}: cannot open", path);
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed JSON: {}", path, e.what());
  }
}

ModelConfig hf_config(const std::string& dir, const Architecture** arch) {
  const std::string path = dir + "/config.json";
  nlohmann::json j = read_json(path);
  if (!j.is_object()) fail("{}: not a JSON object", path);
  JsonConfig jc{j, path};
  if (!jc.has("model_type")) fail("{}: no 'model_type'", path);
  const Architecture& a = architecture_for_hf(jc.str_or("model_type", ""), path);
  ModelConfig c = a.config_from_hf(jc);
  c.raw = j;
  validate_config(c, path);
  *arch = &a;
  return c;
}

// Q/K rows of a head are stored by llama.cpp as [hd/2, 2] instead of [2, hd/2]; swap back. A
// weight kept in its file's type has its rows' bytes moved (rows are whole blocks).
void rope_unpermute(Weight& w, int64_t n_heads) {
  const int64_t rows = w.dim(0), cols = w.shape.size() > 1 ? w.dim(1) : 1;
  ERANK_CHECK(rows % (2 * n_heads) == 0, "rope un-permute: {} rows, {} heads", rows, n_heads);
  const int64_t hd = rows / n_heads, half = hd / 2;
  auto each_row = [&](auto&& move_row) {
    for (int64_t h = 0; h < n_heads; ++h)
      for (int64_t a = 0; a < 2; ++a)
        for (int64_t b = 0; b < half; ++b) move_row(h * hd + a * half + b, h * hd + 2 * b + a);
  };
  if (w.stored()) {
    const size_t rb = w.row_bytes;
    auto bytes = std::make_shared<std::vector<uint8_t>>(size_t(rows) * rb);
    each_row([&](int64_t dst, int64_t src) {
      std::memcpy(bytes->data() + size_t(dst) * rb, w.raw + size_t(src) * rb, rb);
    });
    w.raw = bytes->data();
    w.keep = std::move(bytes);
    return;
  }
  const Buffer<float>& in = w.mutable_values();
  Buffer<float> out(in.size());
  each_row([&](int64_t dst, int64_t src) {
    std::copy_n(in.begin() + src * cols, cols, out.begin() + dst * cols);
  });
  w.own = std::move(out);
}

void transpose2d(Weight& w) {
  const int64_t r = w.dim(0), c = w.dim(1);
  const float* in = w.values();
  Buffer<float> out(static_cast<size_t>(w.numel()));
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) out[j * r + i] = in[i * c + j];
  w.own = std::move(out);
  w.view = nullptr;
  w.keep.reset();
  w.shape = {c, r};
}

// The safetensors files of an HF folder (shards from the index, else the single file), mapped.
struct HFFiles {
  std::vector<std::string> files;
  std::vector<std::shared_ptr<SafetensorsFile>> open;
  std::map<std::string, std::pair<const TensorView*, std::string>> views;  // name -> view, file
  std::map<const TensorView*, std::shared_ptr<SafetensorsFile>> owner;
  size_t bytes = 0;
};

HFFiles open_hf_files(const std::string& dir) {
  HFFiles h;
  const std::string index = dir + "/model.safetensors.index.json";
  if (fs::exists(index)) {
    nlohmann::json j = read_json(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      fail("{}: no 'weight_map' object", index);
    std::set<std::string> uniq;
    for (auto& [k, v] : j["weight_map"].items()) {
      if (!v.is_string()) fail("{}: weight_map['{}'] is not a file name", index, k);
      uniq.insert(v.get<std::string>());
    }
    for (auto& f : uniq) {
      if (f.find('/') != std::string::npos)
        fail("{}: shard name '{}' must be a plain file name", index, f);
      h.files.push_back(dir + "/" + f);
    }
  } else if (fs::exists(dir + "/model.safetensors")) {
    h.files.push_back(dir + "/model.safetensors");
  } else {
    fail("{}: no model.safetensors or model.safetensors.index.json", dir);
  }
  for (auto& f : h.files) {
    h.open.push_back(std::make_shared<SafetensorsFile>(f, /*populate=*/true));
    for (auto& [name, v] : h.open.back()->tensors()) {
      h.views[name] = {&v, f};
      h.owner[&v] = h.open.back();
      h.bytes += v.data.size();
    }
  }
  return h;
}

// Reads the table's tensors: base-model tensors under each of `prefixes` in turn, head tensors
// under `head_prefixes`; checks shapes and dtypes; records what was used in `rep`.
Weights read_hf_table(const std::string& dir, const HFFiles& h,
                      const std::vector<TensorSpec>& specs,
                      const std::vector<std::string>& prefixes,
                      const std::vector<std::string>& head_prefixes, LoadReport& rep) {
  std::set<std::string> used, dtypes;
  Weights w;
  for (const TensorSpec& s : specs) {
    const TensorView* v = nullptr;
    std::string file;
    for (const std::string& pre : s.head ? head_prefixes : prefixes) {
      if (auto it = h.views.find(pre + s.name); it != h.views.end()) {
        v = it->second.first;
        file = it->second.second;
        used.insert(pre + s.name);
        break;
      }
    }
    if (!v) {
      if (!s.tied_to.empty()) {
        w.alias(s.name, s.tied_to);
        rep.tied.push_back(s.name);
        continue;
      }
      if (!s.required) continue;
      fail("{}: tensor '{}' is missing (expected shape {})", dir,
           (s.head ? head_prefixes : prefixes).at(0) + s.name, shape_str(s.shape));
    }
    std::vector<int64_t> want = s.shape;
    if (s.hf_transposed) std::reverse(want.begin(), want.end());
    if (v->shape != want)
      fail("{}: tensor '{}' has shape {}, expected {}", file, v->name, shape_str(v->shape),
           shape_str(want));
    if (v->dtype != DType::f32 && v->dtype != DType::f16 && v->dtype != DType::bf16)
      fail("{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", file, v->name,
           dtype_name(v->dtype));
    dtypes.insert(std::string(dtype_name(v->dtype)));
    rep.tensor_types[s.name] = std::string(dtype_name(v->dtype));
    Weight t;
    t.shape = want;
    if ((v->dtype == DType::bf16 || v->dtype == DType::f16) && want.size() == 2 &&
        !s.hf_transposed && keep_stored_weights()) {
      // A matrix kept as the file's 16-bit values (mapped, no copy), widened per panel.
      t.codec = &weight_codec(v->dtype == DType::bf16 ? GGMLType::BF16 : GGMLType::F16);
      t.raw = v->data.data();
      t.row_bytes = size_t(want[1]) * 2;
      t.keep = h.owner.at(v);
    } else if (v->dtype == DType::f32 && !s.hf_transposed &&
               reinterpret_cast<uintptr_t>(v->data.data()) % alignof(float) == 0) {
      // Used in place: the mapping stays alive with the weight, nothing is copied.
      t.view = reinterpret_cast<const float*>(v->data.data());
      t.keep = h.owner.at(v);
    } else {
      t.own.resize(static_cast<size_t>(v->numel()));
      to_f32(*v, t.own.data());
      if (s.hf_transposed) transpose2d(t);
    }
    w.set(s.name, std::move(t));
  }
  rep.files = h.files;
  rep.file_bytes = h.bytes;
  for (auto& [name, _] : h.views)
    if (!used.count(name)) rep.unused.push_back(name);
  rep.source_dtype = dtypes.size() == 1 ? *dtypes.begin() : "mixed";
  return w;
}

std::unique_ptr<Model> load_hf(const ModelSource& src) {
  const Architecture* arch = nullptr;
  ModelConfig cfg = hf_config(src.path, &arch);
  LoadReport rep;
  Weights w = read_hf_table(src.path, open_hf_files(src.path), arch->tensors(cfg),
                            {arch->hf_prefix, ""}, {""}, rep);
  return std::make_unique<Model>(std::move(cfg), *arch, std::move(w), std::move(rep));
}

std::unique_ptr<Model> load_gguf(const ModelSource& src) {
  auto file = std::make_shared<GGUFFile>(src.path);  // held by the weights used in place
  const GGUFFile& f = *file;
  const bool keep_type = keep_stored_weights();
  const Architecture& arch = architecture_for_gguf(f.get_string("general.architecture"), src.path);
  if (!arch.config_from_gguf) fail("{}: GGUF loading is not supported for {}", src.path, arch.name);
  ModelConfig cfg = arch.config_from_gguf(f);
  validate_config(cfg, src.path);
  cfg.raw = arch.config_to_hf(cfg);
  LoadReport rep;
  rep.files = {src.path};
  std::set<std::string> used, types;
  Weights w;
  for (const TensorSpec& s : arch.tensors(cfg)) {
    const GGUFTensorInfo* t = s.gguf.empty() ? nullptr : f.find_tensor(s.gguf);
    if (!t) {
      if (!s.tied_to.empty()) {
        w.alias(s.name, s.tied_to);
        rep.tied.push_back(s.name);
        continue;
      }
      if (!s.required) continue;
      fail("{}: tensor '{}' ({}) is missing", src.path, s.gguf.empty() ? s.name : s.gguf, s.name);
    }
    used.insert(t->name);
    std::vector<int64_t> shape(t->ne.rbegin(), t->ne.rend());
    if (shape != s.shape)
      fail("{}: tensor '{}' has shape {}, expected {}", src.path, t->name, shape_str(shape),
           shape_str(s.shape));
    rep.file_bytes += t->data.size();
    types.insert(std::string(ggml_type_name(t->type)));
    rep.tensor_types[s.name] = std::string(ggml_type_name(t->type));
    Weight wt;
    if (keep_type && shape.size() == 2 && t->type != GGMLType::F32 &&
        s.gguf_fix != GGUFFix::minus_one) {
      // A matrix kept in its blocks, mapped from the file; the backend expands them per panel.
      wt.shape = s.shape;
      wt.codec = &weight_codec(t->type);
      wt.raw = t->data.data();
      wt.row_bytes = ggml_row_bytes(t->type, shape[1]);
      wt.keep = file;
    } else if (keep_type && t->type == GGMLType::F32 &&
               reinterpret_cast<uintptr_t>(t->data.data()) % alignof(float) == 0) {
      wt.shape = s.shape;  // f32 used in place (a fix below copies it first)
      wt.view = reinterpret_cast<const float*>(t->data.data());
      wt.keep = file;
    } else {
      wt = Weight{s.shape, f.dequantize(*t)};
    }
    switch (s.gguf_fix) {
      case GGUFFix::rope_unpermute_q:
        rope_unpermute(wt, cfg.n_heads);
        break;
      case GGUFFix::rope_unpermute_k:
        rope_unpermute(wt, cfg.n_kv_heads);
        break;
      case GGUFFix::minus_one:
        for (auto& x : wt.mutable_values()) x -= 1.0f;
        break;
      case GGUFFix::none:
        break;
    }
    w.set(s.name, std::move(wt));
  }
  for (auto& t : f.tensors())  // rope_freqs was read into the config
    if (!used.count(t.name) && t.name != "rope_freqs.weight") rep.unused.push_back(t.name);
  for (auto& t : types) rep.source_dtype += (rep.source_dtype.empty() ? "" : "+") + t;
  return std::make_unique<Model>(std::move(cfg), arch, std::move(w), std::move(rep));
}

// splitmix64 / xoshiro256**: a small, fully specified generator, so twins are the same on every
// platform and standard library (std::normal_distribution is not specified bit-for-bit).
struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed) {
    for (auto& v : s) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      v = z ^ (z >> 31);
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

}  // namespace

int64_t Model::n_params() const {
  int64_t n = 0;
  w_.for_each([&](const std::string&, const Weight& t) { n += t.numel(); });
  return n;
}

std::unique_ptr<Model> load_hf_part(const std::string& dir, ModelConfig cfg,
                                    const Architecture& arch,
                                    const std::vector<std::string>& prefixes,
                                    const std::vector<std::string>& head_prefixes) {
  validate_config(cfg, dir + "/config.json");
  LoadReport rep;
  Weights w =
      read_hf_table(dir, open_hf_files(dir), arch.tensors(cfg), prefixes, head_prefixes, rep);
  return std::make_unique<Model>(std::move(cfg), arch, std::move(w), std::move(rep));
}

Weights load_hf_tensors(const std::string& dir, const std::vector<TensorSpec>& specs,
                        const std::vector<std::string>& prefixes) {
  LoadReport rep;
  return read_hf_table(dir, open_hf_files(dir), specs, prefixes, prefixes, rep);
}

void Model::forward_rows(Backend& be, const Act& x, const std::vector<int64_t>& lengths,
                         TapSink& sink) const {
  if (!arch_->input_rows) fail("{} models take token ids only, not input rows", arch_->name);
  ForwardInput in;
  in.seqs.offsets.push_back(0);
  for (int64_t n : lengths) {
    ERANK_CHECK(n > 0, "forward_rows: empty sequence");
    for (int64_t i = 0; i < n; ++i) in.seqs.positions.push_back(static_cast<int32_t>(i));
    in.seqs.offsets.push_back(in.seqs.offsets.back() + n);
  }
  ERANK_CHECK(x.rows == in.seqs.rows(), "forward_rows: {} rows for {} positions", x.rows,
              in.seqs.rows());
  in.input_rows = &x;
  arch_->forward(cfg_, w_, be, in, sink);
}

Act Model::embed(Backend& be, const std::vector<int32_t>& ids) const {
  if (!arch_->embed_table) fail("{} models have no token embeddings", arch_->name);
  for (int32_t id : ids)
    if (id < 0 || id >= cfg_.vocab_size)
      fail("token id {} is outside the vocabulary (size {})", id, cfg_.vocab_size);
  Act x;
  be.embed(w_.get(arch_->embed_table), ids, x);
  return x;
}

void Model::forward(Backend& be, const std::vector<std::vector<int32_t>>& seqs, TapSink& sink,
                    std::optional<uint64_t> train_seed) const {
  const bool learned_pos = cfg_.arch == "opt" || cfg_.arch == "gpt2";
  for (auto& s : seqs) {
    for (int32_t id : s)
      if (id < 0 || id >= cfg_.vocab_size)
        fail("token id {} is outside the vocabulary (size {})", id, cfg_.vocab_size);
    if (learned_pos && static_cast<int64_t>(s.size()) > cfg_.max_positions)
      fail("sequence of {} tokens exceeds the model's {} learned positions", s.size(),
           cfg_.max_positions);
  }
  ForwardInput in = make_input(seqs);
  if (train_seed) in.drop = {true, *train_seed, 0};
  arch_->forward(cfg_, w_, be, in, sink);
}

void Model::forward_step(Backend& be, const std::vector<std::vector<int32_t>>& seqs,
                         const std::vector<int64_t>& slots, KVCache& cache, TapSink& sink,
                         bool last_logits_only) const {
  StepOptions opt;
  int64_t rows = 0;
  for (const auto& s : seqs) {
    rows += static_cast<int64_t>(s.size());
    if (last_logits_only) opt.logit_rows.push_back(rows - 1);
  }
  forward_step(be, seqs, slots, cache, sink, opt);
}

void Model::forward_step(Backend& be, const std::vector<std::vector<int32_t>>& seqs,
                         const std::vector<int64_t>& slots, KVCache& cache, TapSink& sink,
                         const StepOptions& opt) const {
  ERANK_CHECK(seqs.size() == slots.size(), "forward_step: {} sequences, {} slots", seqs.size(),
              slots.size());
  ERANK_CHECK(opt.read_only.empty() || opt.read_only.size() == seqs.size(),
              "forward_step: {} read-only flags for {} sequences", opt.read_only.size(),
              seqs.size());
  const bool learned_pos = cfg_.arch == "opt" || cfg_.arch == "gpt2";
  auto read_only = [&](size_t i) { return !opt.read_only.empty() && opt.read_only[i]; };
  std::vector<int64_t> past;
  // Per slot: 0 unused, 1 read by read-only sequences, 2 extended by one sequence.
  std::vector<int8_t> use(static_cast<size_t>(cache.n_slots()), 0);
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int64_t slot = slots[i];
    const int8_t u = read_only(i) ? 1 : 2;
    ERANK_CHECK(slot >= 0 && slot < cache.n_slots() &&
                    (use[size_t(slot)] == 0 || (u == 1 && use[size_t(slot)] == 1)),
                "forward_step: slot {} (of {}) missing or used twice", slot, cache.n_slots());
    use[size_t(slot)] = u;
    ERANK_CHECK(!seqs[i].empty(), "forward_step: sequence {} has no new tokens", i);
    for (int32_t id : seqs[i])
      if (id < 0 || id >= cfg_.vocab_size)
        fail("token id {} is outside the vocabulary (size {})", id, cfg_.vocab_size);
    const int64_t end = cache.length(slot) + static_cast<int64_t>(seqs[i].size());
    if (end > cache.max_context())
      fail("sequence of {} tokens exceeds the context of {} tokens (--max-context)", end,
           cache.max_context());
    if (learned_pos && end > cfg_.max_positions)
      fail("sequence of {} tokens exceeds the model's {} learned positions", end,
           cfg_.max_positions);
    past.push_back(cache.length(slot));
  }
  ForwardInput in = make_input(seqs, past);
  in.cache = &cache;
  in.refs = {slots, past, opt.read_only};
  in.logit_rows = opt.logit_rows;
  for (int64_t r : in.logit_rows)
    ERANK_CHECK(r >= 0 && r < in.seqs.rows(), "forward_step: logit row {} of {}", r,
                in.seqs.rows());
  arch_->forward(cfg_, w_, be, in, sink);
  for (size_t i = 0; i < seqs.size(); ++i)
    if (!read_only(i)) cache.advance(slots[i], static_cast<int64_t>(seqs[i].size()));
}

Act Model::early_exit_logits(Backend& be, const Act& x, int layer, bool final_norm,
                             bool softcap) const {
  if (layer < 0 || layer > cfg_.n_layers)
    fail("layer {} is out of range: hidden states are numbered 0..{} (0 = embeddings)", layer,
         cfg_.n_layers);
  ERANK_CHECK(arch_->head_input, "{}: no head_input for early exits", arch_->name);
  Act logits;
  if (layer < cfg_.n_layers)
    be.linear(arch_->head_input(cfg_, w_, be, x, final_norm), w_.get(arch_->head), nullptr, logits);
  else
    be.linear(x, w_.get(arch_->head), nullptr, logits);
  if (softcap && cfg_.final_softcap > 0) be.softcap(logits, cfg_.final_softcap);
  return logits;
}

double forward_flops(const ModelConfig& cfg, const Architecture& arch,
                     const std::vector<int64_t>& seq_lengths, bool logits) {
  double per_token = 0;
  for (const TensorSpec& s : arch.tensors(cfg)) {
    if (s.shape.size() != 2) continue;
    const bool lookup = !s.head && (s.name.find("embed") != std::string::npos ||
                                    s.name == "wte.weight" || s.name == "wpe.weight");
    if (lookup || (s.head && !logits)) continue;
    per_token += 2.0 * double(s.shape[0]) * double(s.shape[1]);
  }
  double q_width = 0;  // query heads x head_dim, summed over layers
  for (int64_t i = 0; i < cfg.n_layers; ++i) q_width += double(cfg.heads_at(i) * cfg.head_dim);
  double total = 0;
  for (int64_t n : seq_lengths)
    total += per_token * double(n) + 2.0 * double(n) * double(n + 1) * q_width;
  return total;
}

std::unique_ptr<Model> load_model(const ModelSource& src) {
  return src.kind == ModelSource::Kind::gguf ? load_gguf(src) : load_hf(src);
}

ModelConfig load_config(const ModelSource& src, const Architecture** arch) {
  if (src.kind == ModelSource::Kind::hf_folder) return hf_config(src.path, arch);
  GGUFFile f(src.path);
  const Architecture& a = architecture_for_gguf(f.get_string("general.architecture"), src.path);
  ModelConfig c = a.config_from_gguf(f);
  validate_config(c, src.path);
  c.raw = a.config_to_hf(c);
  *arch = &a;
  return c;
}

std::unique_ptr<Model> make_twin(const ModelConfig& cfg, const Architecture& arch, uint64_t seed,
                                 bool bf16) {
  Weights w;
  LoadReport rep;
  std::vector<TensorSpec> todo;
  for (const TensorSpec& s : arch.tensors(cfg)) {
    if (!s.tied_to.empty()) {
      w.alias(s.name, s.tied_to);
      rep.tied.push_back(s.name);
    } else {
      todo.push_back(s);
    }
  }
  std::vector<Weight> filled(todo.size());
  // One RNG stream per tensor, keyed by (seed, name): the result does not depend on the order
  // or on how many threads fill the tensors.
#pragma omp parallel for schedule(dynamic)
  for (size_t k = 0; k < todo.size(); ++k) {
    const TensorSpec& s = todo[k];
    Weight& t = filled[k];
    t.shape = s.shape;
    Buffer<float>& v = t.own;
    v.resize(static_cast<size_t>(t.numel()));  // uninitialised: every branch below fills it
    if (s.init.kind == InitSpec::ones) {
      std::fill(v.begin(), v.end(), 1.0f);
    } else if (s.init.kind != InitSpec::normal) {
      std::fill(v.begin(), v.end(), 0.0f);
    } else if (s.init.kind == InitSpec::normal) {
      // Box-Muller on pairs of uniforms drawn in order from the tensor's stream; chunked so
      // the transform runs on arrays.
      Rng rng(seed ^ fnv1a(s.name));
      constexpr size_t kChunk = 4096;
      double u1[kChunk], u2[kChunk];
      float pair_out[2 * kChunk];
      for (size_t i = 0; i < v.size(); i += 2 * kChunk) {
        const size_t pairs = std::min(kChunk, (v.size() - i + 1) / 2);
        for (size_t k = 0; k < pairs; ++k) {
          u1[k] = rng.uniform();
          u2[k] = rng.uniform();
        }
        box_muller(u1, u2, pairs, s.init.std, pair_out);
        std::copy_n(pair_out, std::min(2 * pairs, v.size() - i), v.begin() + long(i));
      }
      if (s.init.zero_row >= 0 && s.init.zero_row < s.shape[0]) {
        const int64_t cols = t.numel() / s.shape[0];
        std::fill_n(v.begin() + s.init.zero_row * cols, cols, 0.0f);
      }
    }
    if (bf16 && t.shape.size() == 2) {  // the matrices; norms and biases stay f32
      auto bytes = std::make_shared<std::vector<uint16_t>>(v.size());
      for (size_t i = 0; i < v.size(); ++i) (*bytes)[i] = f32_to_bf16(v[i]);
      v = Buffer<float>();
      t.codec = &weight_codec(GGMLType::BF16);
      t.raw = reinterpret_cast<const uint8_t*>(bytes->data());
      t.row_bytes = size_t(t.shape[1]) * sizeof(uint16_t);
      t.keep = std::move(bytes);
    }
  }
  for (size_t k = 0; k < todo.size(); ++k) w.set(todo[k].name, std::move(filled[k]));
  rep.source_dtype = bf16 ? "BF16+F32" : "F32";
  return std::make_unique<Model>(cfg, arch, std::move(w), std::move(rep));
}

void save_hf_folder(const Model& m, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create folder: {}", dir, ec.message());
  std::vector<TensorToWrite> out;
  for (const TensorSpec& s : m.arch().tensors(m.config())) {
    if (m.weights().is_alias(s.name)) continue;
    const Weight* w = m.weights().find(s.name);
    if (!w) continue;
    Weight t = w->stored() ? w->to_f32() : *w;  // saved as f32 (HF's loader reads any dtype)
    if (s.hf_transposed) transpose2d(t);
    out.push_back(make_f32(s.head ? s.name : m.arch().hf_prefix + s.name, t.shape,
                           {t.values(), static_cast<size_t>(t.numel())}));
  }
  nlohmann::json cfg = m.config().raw;
  if (!cfg.contains("architectures")) cfg["architectures"] = {m.arch().hf_class};
  cfg["torch_dtype"] = "float32";
  if (cfg.contains("dtype")) cfg["dtype"] = "float32";
  write_safetensors(dir + "/model.safetensors", out, {{"format", "pt"}});
  write_file_atomic(dir + "/config.json", cfg.dump(2) + "\n");
}

}  // namespace erank
