// OpenELM (layer-wise scaling) against mlx-lm's implementation (tools/make_openelm_fixture.py):
// hidden states and logits, the per-layer layout read from config.json or derived from the
// multipliers, clear errors for inconsistent lists, the KV cache's per-layer widths, the twin's
// init (modeling_openelm.py's reset_parameters, closed form), and `erank diff` / `erank info`.
// The generic parity and cached-decoding tests (test_hf_parity, test_kv_cache) run this fixture
// too, at their own tolerances; here the bound is 1e-5.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/collect_sink.h"
#include "models/kv_cache.h"
#include "models/model.h"

namespace fs = std::filesystem;
using namespace erank;

namespace {

const fs::path kDir = fs::path(ERANK_SOURCE_DIR) / "tests/fixtures/hf/openelm";

nlohmann::json read_config(const fs::path& dir) {
  std::ifstream f(dir / "config.json");
  return nlohmann::json::parse(f);
}

std::vector<float> tensor(const SafetensorsFile& f, const std::string& name) {
  const TensorView& v = f.tensors().at(name);
  std::vector<float> out(size_t(v.numel()));
  to_f32(v, out.data());
  return out;
}

// max |a - ref| / max |ref| over [begin, begin + a.size()) of ref
double rel_err(const std::vector<float>& a, const std::vector<float>& ref, size_t begin = 0) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - ref[begin + i]));
    den = std::max(den, std::fabs(double(ref[begin + i])));
  }
  return num / den;
}

// A copy of the fixture with config.json edited, in a temporary folder.
struct EditedCopy {
  fs::path dir;
  explicit EditedCopy(const std::function<void(nlohmann::json&)>& edit) {
    dir = fs::temp_directory_path() / ("erank_openelm_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const char* f : {"model.safetensors", "tokenizer.json"}) fs::copy(kDir / f, dir / f);
    nlohmann::json j = read_config(kDir);
    edit(j);
    std::ofstream(dir / "config.json") << j.dump(2);
  }
  ~EditedCopy() { fs::remove_all(dir); }
};

TEST(OpenELM, HiddenStatesAndLogitsMatchMlxLm) {
  auto model = load_model(kDir.string());
  SafetensorsFile ref((kDir / "ref.safetensors").string());
  std::vector<std::vector<int32_t>> seqs;
  for (int i = 0; ref.tensors().count("ids." + std::to_string(i)); ++i) {
    const TensorView& v = ref.tensors().at("ids." + std::to_string(i));
    seqs.emplace_back(size_t(v.numel()));
    std::memcpy(seqs.back().data(), v.data.data(), v.data.size());
  }
  ASSERT_EQ(seqs.size(), 3u);
  const int L = int(model->config().n_layers);
  for (const char* be_name : {"cpu", "reference"}) {
    auto be = make_backend(be_name, 2);
    CollectSink sink({}, true);
    model->forward(*be, seqs, sink);  // all sequences in one batch
    double worst_h = 0, worst_l = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
      const auto hidden = tensor(ref, "hidden." + std::to_string(i));
      size_t off = 0;
      for (int l = 0; l <= L; ++l) {
        const auto& got = sink.hidden.at(l).at(i).v;
        const double e = rel_err(got, hidden, off);
        off += got.size();
        EXPECT_LE(e, 1e-5) << be_name << " seq " << i << " hidden " << l;
        worst_h = std::max(worst_h, e);
      }
      EXPECT_EQ(off, hidden.size());
      const auto logits = tensor(ref, "logits." + std::to_string(i));
      ASSERT_EQ(sink.logits.at(i).v.size(), logits.size());
      const double e = rel_err(sink.logits.at(i).v, logits);
      EXPECT_LE(e, 1e-5) << be_name << " seq " << i << " logits";
      worst_l = std::max(worst_l, e);
    }
    std::printf("[openelm vs mlx-lm] %-9s max rel err: hidden %.3g logits %.3g\n", be_name, worst_h,
                worst_l);
  }
}

TEST(OpenELM, PerLayerLayoutFromConfigAndTensors) {
  auto model = load_model(kDir.string());
  const ModelConfig& c = model->config();
  const auto j = read_config(kDir);
  EXPECT_EQ(c.layer_heads, j["num_query_heads"].get<std::vector<int64_t>>());
  EXPECT_EQ(c.layer_kv_heads, j["num_kv_heads"].get<std::vector<int64_t>>());
  // The FFN widths are those of the tensors the script wrote.
  SafetensorsFile st((kDir / "model.safetensors").string());
  for (int64_t i = 0; i < c.n_layers; ++i)
    EXPECT_EQ(
        c.ffn_at(i),
        st.tensors().at("transformer.layers." + std::to_string(i) + ".ffn.proj_2.weight").shape[1]);
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_TRUE(c.qk_norm);
  // Layer-wise scaling really varies here, so a single shape for all layers could not pass.
  EXPECT_NE(c.layer_heads.front(), c.layer_heads.back());
  EXPECT_NE(c.layer_kv_heads.front(), c.layer_kv_heads.back());
  EXPECT_NE(c.layer_ffn.front(), c.layer_ffn.back());
}

TEST(OpenELM, LayoutDerivedFromMultipliersAsOpenELMConfigDoes) {
  // Without the lists, configuration_openelm.py derives them from qkv_multipliers [lo, hi],
  // num_gqa_groups and ffn_multipliers [lo, hi]; the fixture's lists were expanded by the script
  // with the same rules from [0.5, 1.5] and [0.5, 2.5].
  const auto j = read_config(kDir);
  EditedCopy copy([](nlohmann::json& c) {
    c.erase("num_query_heads");
    c.erase("num_kv_heads");
    c["ffn_multipliers"] = {0.5, 2.5};
  });
  const Architecture* arch = nullptr;
  const ModelConfig c = load_config(resolve_model_source(copy.dir.string()), &arch);
  EXPECT_EQ(c.layer_heads, j["num_query_heads"].get<std::vector<int64_t>>());
  EXPECT_EQ(c.layer_kv_heads, j["num_kv_heads"].get<std::vector<int64_t>>());
  const ModelConfig ref = load_model(kDir.string())->config();
  EXPECT_EQ(c.layer_ffn, ref.layer_ffn);
}

TEST(OpenELM, InconsistentListsNameTheFile) {
  auto expect_error = [](const std::function<void(nlohmann::json&)>& edit, const char* what) {
    EditedCopy copy(edit);
    try {
      load_model(copy.dir.string());
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find((copy.dir / "config.json").string()), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
    }
  };
  expect_error([](nlohmann::json& c) { c["num_query_heads"] = {2, 4, 6}; }, "num_query_heads");
  expect_error([](nlohmann::json& c) { c["num_kv_heads"] = {1, 2, 3, 3, 3}; }, "num_kv_heads");
  expect_error(
      [](nlohmann::json& c) {
        c["ffn_multipliers"] = {0.5, 1.0, 2.0};
      },
      "ffn_multipliers");
  // KV heads that do not divide the query heads of a layer.
  expect_error([](nlohmann::json& c) { c["num_kv_heads"] = {1, 3, 3, 3}; }, "layer 1");
}

TEST(OpenELM, KVCacheHoldsEachLayersOwnWidth) {
  auto model = load_model(kDir.string());
  const ModelConfig& c = model->config();
  const auto j = read_config(kDir);
  auto be = make_backend("cpu", 1);
  KVCache cache(c, *be, 2, 24);
  size_t want = 0;
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const int64_t width = j["num_kv_heads"][size_t(i)].get<int64_t>() * c.head_dim;
    EXPECT_EQ(cache.layer(i).k.cols, width) << "layer " << i;
    want += size_t(2 * 2 * 24 * width) * sizeof(float);
  }
  EXPECT_EQ(cache.bytes(), want);
  // Decoding token by token gives the full forward's last logits.
  const std::vector<int32_t> ids = {1, 17, 400, 33, 999, 5, 250};
  CollectSink full({}, true);
  model->forward(*be, {ids}, full);
  std::vector<float> last;
  for (int32_t id : ids) {
    CollectSink step({}, true);
    model->forward_step(*be, {{id}}, {1}, cache, step);
    last = step.logits.at(0).v;
  }
  EXPECT_EQ(cache.length(1), int64_t(ids.size()));
  const auto& all = full.logits.at(0).v;
  EXPECT_LE(rel_err(last, all, all.size() - last.size()), 1e-5);
}

TEST(OpenELM, TwinFollowsResetParameters) {
  // OpenELMModel.reset_parameters (run after _init_weights, overriding it): Linear
  // N(0, in_features^-1/2), embedding N(0, model_dim^-1/2), norms 1, out_proj and proj_2
  // N(0, model_dim^-1/2 (2 n_layers)^-1/2); the head is tied.
  auto loaded = load_model(kDir.string());
  auto twin = make_twin(loaded->config(), loaded->arch(), 1234);
  const ModelConfig& c = twin->config();
  const double d = double(c.hidden), out_std = 1 / std::sqrt(d) / std::sqrt(2.0 * c.n_layers);
  int checked = 0;
  for (const TensorSpec& s : twin->arch().tensors(c)) {
    if (twin->weights().is_alias(s.name)) {
      EXPECT_EQ(s.name, "lm_head.weight");
      continue;
    }
    const Weight& w = twin->weights().get(s.name);
    ASSERT_EQ(w.shape, loaded->weights().get(s.name).shape) << s.name;
    const std::span<const float> v(w.values(), size_t(w.numel()));
    if (s.name.find("norm") != std::string::npos) {
      EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 1.0f; })) << s.name;
      ++checked;
      continue;
    }
    const bool out = s.name.ends_with("out_proj.weight") || s.name.ends_with("proj_2.weight");
    const double want = out ? out_std : 1 / std::sqrt(d);
    if (!out) {
      EXPECT_EQ(w.dim(1), c.hidden) << s.name;  // fan-in is model_dim
    }
    const double n = double(v.size());
    double mean = 0, var = 0;
    for (float x : v) mean += x;
    mean /= n;
    for (float x : v) var += (x - mean) * (x - mean);
    const double sd = std::sqrt(var / (n - 1));
    EXPECT_NEAR(sd, want, 6 * want / std::sqrt(2 * n)) << s.name;
    EXPECT_NEAR(mean, 0.0, 6 * want / std::sqrt(n)) << s.name;
    ++checked;
  }
  EXPECT_EQ(checked, 2 + 8 * int(c.n_layers));
}

TEST(OpenELM, SavedTwinLoadedByMlxLmGivesTheSameStates) {
  // tools/make_openelm_fixture.py saved `erank twin --seed 1234`, loaded it in mlx-lm (strictly:
  // names and shapes) and dumped its states; the same seed here must give them.
  auto loaded = load_model(kDir.string());
  auto twin = make_twin(loaded->config(), loaded->arch(), 1234);
  SafetensorsFile ref((kDir / "twin_ref.safetensors").string());
  const TensorView& iv = ref.tensors().at("ids.0");
  std::vector<int32_t> ids(size_t(iv.numel()));
  std::memcpy(ids.data(), iv.data.data(), iv.data.size());
  auto be = make_backend("cpu", 2);
  CollectSink sink({}, true);
  twin->forward(*be, {ids}, sink);
  const auto hidden = tensor(ref, "hidden.0");
  size_t off = 0;
  for (int l = 0; l <= int(twin->config().n_layers); ++l) {
    const auto& got = sink.hidden.at(l).at(0).v;
    EXPECT_LE(rel_err(got, hidden, off), 1e-5) << "hidden " << l;
    off += got.size();
  }
  EXPECT_LE(rel_err(sink.logits.at(0).v, tensor(ref, "logits.0")), 1e-5);
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << cmd << "\n" << out;
  return out;
}

TEST(OpenELM, DiffAndInfoRun) {
  const fs::path out =
      fs::temp_directory_path() / ("erank_openelm_diff_" + std::to_string(::getpid()) + ".json");
  const fs::path texts = fs::path(ERANK_SOURCE_DIR) / "tests/fixtures/diff_parity/texts.jsonl";
  run(std::string(ERANK_BINARY) + " diff -q --model " + kDir.string() + " --data " +
      texts.string() + " --limit 3 --max-tokens 24 --twins 1 --out " + out.string() + " 2>&1");
  std::ifstream f(out);
  ASSERT_TRUE(f) << out;
  const auto j = nlohmann::json::parse(f);
  ASSERT_FALSE(j["per_layer"].empty());
  for (const auto& L : j["per_layer"]) {
    EXPECT_TRUE(std::isfinite(L["diff_a"].get<double>())) << L.dump();
    EXPECT_GT(L["trained"]["erank_a"].get<double>(), 1.0) << L.dump();
  }
  fs::remove(out);
  const std::string info = run(std::string(ERANK_BINARY) + " info -m " + kDir.string() + " 2>&1");
  EXPECT_NE(info.find("architecture: openelm"), std::string::npos) << info;
  const auto cfg = read_config(kDir);
  auto list = [](const nlohmann::json& a) {
    std::string s;
    for (const auto& v : a) s += (s.empty() ? "" : " ") + std::to_string(v.get<int64_t>());
    return s;
  };
  const std::string line = "per layer:    heads [" + list(cfg["num_query_heads"]) + "]  kv [" +
                           list(cfg["num_kv_heads"]) + "]";
  EXPECT_NE(info.find(line), std::string::npos) << info;
}

}  // namespace
