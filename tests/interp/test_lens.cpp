// The logit lens against transformers (tools/make_lens_refs.py: SmolLM2, every hidden state of
// five texts, with and without the final norm): top-1 ids equal except near-ties (reference top-2
// margin under 1e-3, counted), KL, JSD and entropy within 1e-4 nats. Also: the divergences on
// closed forms, every architecture's early exit on the tiny fixtures, the heatmap writers, and
// bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "core/error.h"
#include "interp/lens.h"
#include "interp/lens_plot.h"
#include "io/model_source.h"
#include "models/model.h"

using namespace erank;
using namespace erank::interp;
namespace fs = std::filesystem;

namespace {

const std::string kSrc = ERANK_SOURCE_DIR;
const bool kQuick = std::getenv("ERANK_SANITIZED") != nullptr;

const Model& smollm2() {
  static std::unique_ptr<Model> m = load_model(resolve_model_source("smollm2-135m"));
  return *m;
}
bool have_smollm2() {
  return fs::exists(kSrc + "/models/smollm2-135m.gguf");
}

TEST(LensMath, ClosedForms) {
  const double l2 = std::log(2.0);
  // p = (1, 0), q = (0, 1): disjoint supports, JSD = ln 2, KL infinite (not used on such rows).
  const std::vector<double> p = {0.0, -INFINITY}, q = {-INFINITY, 0.0};
  EXPECT_NEAR(js_div(p, q), l2, 1e-15);
  EXPECT_NEAR(js_div(p, p), 0.0, 1e-15);
  EXPECT_NEAR(kl_div(p, p), 0.0, 1e-15);
  // Uniform over 4: entropy ln 4; against (1/2, 1/2, 0, 0) KL(half || uniform) = ln 2.
  const std::vector<double> u(4, -std::log(4.0)), h = {-l2, -l2, -INFINITY, -INFINITY};
  EXPECT_NEAR(entropy(u), std::log(4.0), 1e-15);
  EXPECT_NEAR(kl_div(h, u), l2, 1e-15);
  // JSD is symmetric and below ln 2; log-softmax normalises.
  std::vector<double> a(3), b(3);
  log_softmax(std::vector<double>{1.0, 2.0, 3.0}, a);
  log_softmax(std::vector<double>{3.0, 0.5, -1.0}, b);
  double s = 0;
  for (double v : a) s += std::exp(v);
  EXPECT_NEAR(s, 1.0, 1e-15);
  EXPECT_NEAR(js_div(a, b), js_div(b, a), 1e-15);
  EXPECT_LT(js_div(a, b), l2);
}

TEST(LensParity, EqualsTransformers) {
  if (!have_smollm2()) GTEST_SKIP() << "models/smollm2-135m.gguf missing (scripts/install.sh)";
  std::ifstream f(kSrc + "/tests/fixtures/lens/lens_smollm2-135m.json");
  const nlohmann::json ref = nlohmann::json::parse(f);
  const Model& m = smollm2();
  ASSERT_EQ(ref["n_layers"].get<int>(), m.config().n_layers);
  auto be = make_backend("cpu", 1);
  int64_t compared = 0, near_ties = 0, tie_flips = 0;
  double max_kl = 0, max_kl_rel = 0, max_jsd = 0, max_ent = 0;
  for (const auto& c : ref["cases"]) {
    LensOptions o;
    o.top_k = 2;
    o.final_norm = c["final_norm"].get<bool>();
    if (kQuick) o.layers = {0, 1, 15, 29, 30};  // ASan: a few layers of the first text
    const LensText t = lens_of(m, *be, c["ids"].get<std::vector<int32_t>>(), o);
    for (const LensLayer& l : t.layers) {
      const auto& r = c["layers"][size_t(l.layer)];
      ASSERT_EQ(r["layer"].get<int>(), l.layer);
      for (size_t i = 0; i < l.top.size(); ++i) {
        ++compared;
        const double margin = r["logp1"][i].get<double>() - r["logp2"][i].get<double>();
        const bool tie = margin < 1e-3;
        near_ties += tie;
        if (l.top[i][0] != r["top1"][i].get<int32_t>()) {
          EXPECT_TRUE(tie) << c["name"] << " layer " << l.layer << " pos " << i << ": top-1 "
                           << l.top[i][0] << " vs " << r["top1"][i] << " (margin " << margin << ")";
          tie_flips += tie;
        }
        // KL is unbounded (without the final norm, the first position's massive activation
        // gives ~5000 nats) and float32 logits bound its agreement relatively: 1e-4 x max(1, KL)
        // (measured: 2e-5 relative; JSD, at most ln 2, within 1e-4 absolute).
        const double kl_ref = r["kl"][i].get<double>(), dkl = std::abs(l.kl[i] - kl_ref);
        if (kl_ref < 10) max_kl = std::max(max_kl, dkl);
        max_kl_rel = std::max(max_kl_rel, dkl / std::max(1.0, kl_ref));
        max_jsd = std::max(max_jsd, std::abs(l.jsd[i] - r["jsd"][i].get<double>()));
        max_ent = std::max(max_ent, std::abs(l.entropy[i] - r["entropy"][i].get<double>()));
      }
    }
    if (kQuick) break;
  }
  EXPECT_LE(max_kl_rel, 1e-4);
  EXPECT_LE(max_jsd, 1e-4);
  EXPECT_LE(max_ent, 1e-4);
  std::printf(
      "lens parity: %lld (layer, position) pairs, top-1 differs at %lld of %lld near-ties "
      "(margin < 1e-3), max |dKL| %.2e (KL < 10 nats), max |dKL| / max(1, KL) %.2e, "
      "max |dJSD| %.2e, max |dentropy| %.2e\n",
      static_cast<long long>(compared), static_cast<long long>(tie_flips),
      static_cast<long long>(near_ties), max_kl, max_kl_rel, max_jsd, max_ent);
}

TEST(LensParity, LastLayerIsTheModelsOutput) {
  // Every architecture: the last layer's early exit is the model's own logits (KL 0), and an
  // early exit runs on every layer (OPT-350m-style project_out included).
  for (const char* name : {"llama_gqa_rope3", "gemma3", "gpt2", "opt_postln_proj", "opt_preln",
                           "neox_partial", "qwen2_bias", "smollm2_tied"}) {
    SCOPED_TRACE(name);
    auto m = load_model(resolve_model_source(kSrc + "/tests/fixtures/hf/" + name));
    auto be = make_backend("cpu", 1);
    const int L = int(m->config().n_layers);
    for (bool norm : {true, false}) {
      LensOptions o;
      o.final_norm = norm;
      const LensText t = lens_of(*m, *be, {1, 5, 9, 3}, o);
      ASSERT_EQ(t.layers.size(), size_t(L + 1));
      const LensLayer& last = t.layers.back();
      for (size_t i = 0; i < 4; ++i) {
        EXPECT_NEAR(last.kl[i], 0.0, 1e-12);
        EXPECT_NEAR(last.jsd[i], 0.0, 1e-12);
        EXPECT_EQ(last.top[i][0], t.final_top[i]);
        for (const LensLayer& l : t.layers) {
          EXPECT_TRUE(std::isfinite(l.kl[i]) && l.kl[i] >= -1e-9);
          EXPECT_TRUE(l.jsd[i] >= -1e-12 && l.jsd[i] <= std::log(2.0) + 1e-9);
        }
      }
    }
  }
}

TEST(LensBadInput, ClearErrors) {
  auto m = load_model(resolve_model_source(kSrc + "/tests/fixtures/hf/llama_gqa_rope3"));
  auto be = make_backend("cpu", 1);
  LensOptions o;
  EXPECT_THROW(lens_of(*m, *be, {}, o), Error);  // no tokens
  o.layers = {3};                                // 2 layers: hidden states 0..2
  try {
    lens_of(*m, *be, {1, 2}, o);
    FAIL() << "layer 3 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 3 is out of range"), std::string::npos) << e.what();
  }
  o.layers = {-1};
  EXPECT_THROW(lens_of(*m, *be, {1, 2}, o), Error);
  o.layers = {};
  o.top_k = 0;
  EXPECT_THROW(lens_of(*m, *be, {1, 2}, o), Error);
  EXPECT_THROW(m->early_exit_logits(*be, Act{}, 5, true, true), Error);
}

Heatmap small_map() {
  Heatmap h;
  h.title = "test <map>";
  h.tokens = {"The", " cat", "\xE4\xB8\xAD"};
  h.layers = {0, 1};
  h.value = {{0.6, 0.3, 0.0}, {0.0, 0.1, 0.69}};
  h.text = {{" a", "&b", "c"}, {" dog", " sat", "\n"}};
  return h;
}

TEST(LensPlot, SvgAndPng) {
  const Heatmap h = small_map();
  const std::string svg = heatmap_svg(h);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("test &lt;map&gt;"), std::string::npos);
  EXPECT_NE(svg.find("&amp;b"), std::string::npos);
  EXPECT_NE(svg.find("\xE2\x90\xA3"
                     "dog"),
            std::string::npos);  // a space shown as U+2423
  size_t cells = 0;
  for (size_t p = svg.find("<g><title>"); p != std::string::npos; p = svg.find("<g><title>", p + 1))
    ++cells;
  EXPECT_EQ(cells, 6u);
  const fs::path png =
      fs::temp_directory_path() / ("erank_lens_" + std::to_string(::getpid()) + ".png");
  write_heatmap_png(h, png.string());
  std::ifstream f(png, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  fs::remove(png);
  ASSERT_GT(bytes.size(), 33u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
           (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
  };
  EXPECT_GT(be32(16), 3u * 2 * 40);  // width: three cells, doubled
  EXPECT_GT(be32(20), 2u * 2 * 10);  // height: two rows, doubled
  Heatmap bad = h;
  bad.value[1].pop_back();
  EXPECT_THROW(heatmap_svg(bad), Error);
  EXPECT_THROW(write_heatmap_png(bad, png.string()), Error);
}

}  // namespace
