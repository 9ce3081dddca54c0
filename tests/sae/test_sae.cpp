// Sparse autoencoders: the training step's hand-written gradients against float64 central finite
// differences (TopK with AuxK, and L1 ReLU), float against double, the decoder's unit-norm rows
// after every Adam step, save/load round trip, and bad input (d_in mismatch, a tap that does not
// exist, a truncated weights file) as erank::Error and a non-zero exit through the binary.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"
#include "sae/sae.h"
#include "sae/train.h"

namespace fs = std::filesystem;
using namespace erank;
using namespace erank::sae;

namespace {

const std::string kSrc = ERANK_SOURCE_DIR;

template <class T>
Params<T> random_params(int64_t d, int64_t W, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0, 1);
  Params<T> p;
  p.enc.resize(size_t(W * d));
  p.dec.resize(size_t(W * d));
  p.b_enc.resize(size_t(W));
  p.b_dec.resize(size_t(d));
  for (auto& v : p.enc) v = T(nd(rng) * 0.5);
  for (auto& v : p.dec) v = T(nd(rng) * 0.5);
  for (auto& v : p.b_enc) v = T(nd(rng) * 0.1);
  for (auto& v : p.b_dec) v = T(nd(rng) * 0.1);
  return p;
}

std::vector<double> random_x(int64_t n, int64_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0, 1);
  std::vector<double> x(size_t(n * d));
  for (auto& v : x) v = nd(rng);
  return x;
}

std::vector<double*> all(Params<double>& p) {
  std::vector<double*> v;
  for (auto* vec : {&p.enc, &p.b_enc, &p.dec, &p.b_dec})
    for (double& e : *vec) v.push_back(&e);
  return v;
}

// max over parameters of |analytic - numeric| / max(|numeric|, 1e-3 x the largest gradient).
double fd_error(const Config& cfg, Params<double> p, const std::vector<double>& x, int64_t n,
                const LossOptions& lo) {
  Params<double> g;
  std::vector<double> e;  // AuxK's target, a constant of the loss
  loss_and_grad<double>(cfg, p, x.data(), n, lo, &g, nullptr, nullptr, nullptr, &e);
  const std::vector<double*> pv = all(p), gv = all(g);
  double gmax = 0;
  for (double* e : gv) gmax = std::max(gmax, std::abs(*e));
  double worst = 0;
  const double h = 1e-6;
  for (size_t q = 0; q < pv.size(); ++q) {
    const double keep = *pv[q];
    *pv[q] = keep + h;
    const double up =
        loss_and_grad<double>(cfg, p, x.data(), n, lo, nullptr, nullptr, nullptr, e.data()).total;
    *pv[q] = keep - h;
    const double dn =
        loss_and_grad<double>(cfg, p, x.data(), n, lo, nullptr, nullptr, nullptr, e.data()).total;
    *pv[q] = keep;
    const double num = (up - dn) / (2 * h);
    worst = std::max(worst, std::abs(*gv[q] - num) / std::max(std::abs(num), 1e-3 * gmax));
  }
  return worst;
}

TEST(SaeGrad, TopKWithAuxKMatchesFiniteDifferences) {
  Config cfg;
  cfg.arch = Arch::topk;
  cfg.d_in = 6;
  cfg.d_sae = 12;
  cfg.k = 3;
  const int64_t n = 7;
  std::vector<uint8_t> dead(12, 0);
  for (int i : {1, 4, 5, 9, 11}) dead[size_t(i)] = 1;
  LossOptions lo{dead.data(), 2, 1.0 / 32};
  const auto x = random_x(n, 6, 1);
  const double err = fd_error(cfg, random_params<double>(6, 12, 2), x, n, lo);
  EXPECT_LT(err, 1e-6);
  // the AuxK term is on: without dead latents the loss differs
  const Params<double> p = random_params<double>(6, 12, 2);
  EXPECT_NE(loss_and_grad<double>(cfg, p, x.data(), n, lo, nullptr).aux, 0.0);
}

TEST(SaeGrad, ReluL1MatchesFiniteDifferences) {
  Config cfg;
  cfg.arch = Arch::relu_l1;
  cfg.d_in = 5;
  cfg.d_sae = 9;
  cfg.l1_coefficient = 0.3;
  const int64_t n = 6;
  const auto x = random_x(n, 5, 3);
  EXPECT_LT(fd_error(cfg, random_params<double>(5, 9, 4), x, n, LossOptions{}), 1e-6);
}

TEST(SaeGrad, FloatPathAgreesWithDouble) {
  Config cfg;
  cfg.d_in = 16;
  cfg.d_sae = 40;
  cfg.k = 5;
  const int64_t n = 33;
  std::vector<uint8_t> dead(40, 0);
  for (int i = 0; i < 40; i += 3) dead[size_t(i)] = 1;
  LossOptions lo{dead.data(), 4, 1.0 / 32};
  const auto xd = random_x(n, 16, 5);
  const Params<double> pd = random_params<double>(16, 40, 6);
  Params<float> pf;
  pf.enc.assign(pd.enc.begin(), pd.enc.end());
  pf.b_enc.assign(pd.b_enc.begin(), pd.b_enc.end());
  pf.dec.assign(pd.dec.begin(), pd.dec.end());
  pf.b_dec.assign(pd.b_dec.begin(), pd.b_dec.end());
  const std::vector<float> xf(xd.begin(), xd.end());
  Params<double> gd;
  Params<float> gf;
  const double ld = loss_and_grad<double>(cfg, pd, xd.data(), n, lo, &gd).total;
  const double lf = loss_and_grad<float>(cfg, pf, xf.data(), n, lo, &gf).total;
  EXPECT_NEAR(lf, ld, 1e-5 * std::abs(ld));
  double num = 0, den = 0;
  for (size_t e = 0; e < gd.enc.size(); ++e) {
    num += std::pow(gf.enc[e] - gd.enc[e], 2) + std::pow(gf.dec[e] - gd.dec[e], 2);
    den += gd.enc[e] * gd.enc[e] + gd.dec[e] * gd.dec[e];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-5);
}

TEST(SaeTrain, DecoderRowsStayUnitNormAndLossFalls) {
  for (Arch arch : {Arch::topk, Arch::relu_l1}) {
    Config cfg;
    cfg.arch = arch;
    cfg.d_in = 24;
    cfg.d_sae = 64;
    cfg.k = 4;
    cfg.l1_coefficient = 0.05;
    const int64_t n = 256;
    const auto xd = random_x(n, 24, 7);
    const std::vector<float> x(xd.begin(), xd.end());
    Sae s = init_sae(cfg, geometric_median(x.data(), n, 24), 3);
    TrainOptions o;
    o.lr = 3e-3;
    o.dead_window = 64;  // some latents go dead: AuxK and resampling run
    o.resample_every = arch == Arch::relu_l1 ? 10 : 0;
    Trainer tr(s, o);
    double first = 0, last = 0;
    for (int step = 0; step < 40; ++step) {
      const StepStats st = tr.step(x.data() + (step % 4) * 64 * 24, 64);
      if (step == 0) first = st.loss.mse;
      last = st.loss.mse;
      for (int64_t i = 0; i < 64; ++i) {
        double nn = 0;
        for (int64_t j = 0; j < 24; ++j) nn += std::pow(s.p.dec[size_t(i * 24 + j)], 2);
        ASSERT_NEAR(std::sqrt(nn), 1.0, 1e-5) << "step " << step << " row " << i;
      }
    }
    EXPECT_LT(last, first) << arch_name(arch);
  }
}

TEST(SaeTrain, GeometricMedianIgnoresAnOutlier) {
  std::vector<float> x = {0, 0, 1, 0, 0, 1, 1, 1, 100, 100};  // 5 points in 2-D
  const auto m = geometric_median(x.data(), 5, 2);
  EXPECT_LT(m[0], 1.0);  // the mean is (20.4, 20.4)
  EXPECT_LT(m[1], 1.0);
}

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

Sae small_sae(int64_t d, int64_t W) {
  Config cfg;
  cfg.d_in = d;
  cfg.d_sae = W;
  cfg.k = 3;
  cfg.layer = 2;
  cfg.input_scale = 1.7;
  return init_sae(cfg, std::vector<float>(size_t(d), 0.25f), 9);
}

TEST(SaeIo, SaveLoadRoundTrip) {
  const fs::path dir = temp_dir("erank_sae_io");
  Sae s = small_sae(8, 20);
  for (size_t i = 0; i < s.p.b_enc.size(); ++i) s.p.b_enc[i] = float(i) * 0.01f;
  save_sae(s, dir.string());
  const Sae t = load_sae(dir.string());
  EXPECT_EQ(t.cfg.d_in, 8);
  EXPECT_EQ(t.cfg.d_sae, 20);
  EXPECT_EQ(t.cfg.k, 3);
  EXPECT_EQ(t.cfg.layer, 2);
  EXPECT_EQ(t.cfg.input_scale, 1.7);
  EXPECT_EQ(t.cfg.hook_name(), "blocks.2.hook_resid_pre");
  EXPECT_EQ(t.p.enc, s.p.enc);
  EXPECT_EQ(t.p.dec, s.p.dec);
  EXPECT_EQ(t.p.b_enc, s.p.b_enc);
  EXPECT_EQ(t.p.b_dec, s.p.b_dec);
  // encode/decode: z = ReLU(TopK((s x - b_dec) W_enc + b_enc)), x̂ = (z W_dec + b_dec) / s
  std::vector<float> x(8, 0.5f), z, xh;
  t.encode(x.data(), 1, z);
  int nz = 0;
  for (float v : z) nz += v > 0;
  EXPECT_LE(nz, 3);
  t.decode(z.data(), 1, xh);
  for (int j = 0; j < 8; ++j) {
    double e = t.p.b_dec[size_t(j)];
    for (int i = 0; i < 20; ++i) e += z[size_t(i)] * t.p.dec[size_t(i * 8 + j)];
    EXPECT_NEAR(xh[size_t(j)], e / 1.7, 1e-5);
  }
  fs::remove_all(dir);
}

TEST(SaeIo, TruncatedOrMissingWeightsAreClearErrors) {
  const fs::path dir = temp_dir("erank_sae_bad");
  save_sae(small_sae(8, 20), dir.string());
  const fs::path w = dir / "sae_weights.safetensors";
  fs::resize_file(w, fs::file_size(w) - 100);
  EXPECT_THROW(load_sae(dir.string()), erank::Error);
  fs::remove(w);
  try {
    load_sae(dir.string());
    FAIL() << "no error";
  } catch (const erank::Error& e) {
    EXPECT_NE(std::string(e.what()).find("sae_weights.safetensors"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_sae((dir / "nope").string()), erank::Error);
  fs::remove_all(dir);
}

struct Result {
  int code;
  std::string err;
};

Result run(const std::string& args) {
  const fs::path e = fs::temp_directory_path() / ("erank_sae_err_" + std::to_string(::getpid()));
  const std::string cmd = std::string(ERANK_BINARY) + " " + args + " >/dev/null 2>" + e.string();
  const int st = std::system(cmd.c_str());
  std::ifstream f(e);
  std::stringstream ss;
  ss << f.rdbuf();
  fs::remove(e);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, ss.str()};
}

TEST(SaeCli, TrainEvalAndBadInput) {
  if (!fs::exists(kSrc + "/models/smollm2-135m.gguf"))
    GTEST_SKIP() << "models/smollm2-135m.gguf missing (scripts/install.sh)";
  const fs::path dir = temp_dir("erank_sae_cli");
  {
    std::ofstream f(dir / "texts.txt");
    f << "The cat sat on the mat and looked at the birds outside the window.\n"
         "Paris is the capital of France, and Berlin is the capital of Germany.\n"
         "She counted one, two, three, four, five apples on the kitchen table.\n"
         "北京是中国的首都，也是一座历史悠久的城市。\n";
  }
  const std::string data = "--data " + (dir / "texts.txt").string() + " ";
  const std::string sae = (dir / "sae").string();
  Result r = run("sae train " + data +
                 "--layer 3 --width 32 --k 4 --tokens 200 --epochs 2 "
                 "--batch-size 16 --log-every 1000 --out " +
                 sae);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(sae + "/cfg.json"));
  r = run("sae eval " + data + "--sae " + sae + " --out " + (dir / "eval.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  {
    std::ifstream f(dir / "eval.json");
    std::stringstream ss;
    ss << f.rdbuf();
    for (const char* key : {"\"l0\"", "\"fvu\"", "\"dead_fraction\"", "\"ce_loss_clean\"",
                            "\"ce_loss_spliced\"", "\"ce_loss_zero\"", "\"ce_recovered\""})
      EXPECT_NE(ss.str().find(key), std::string::npos) << key;
  }
  r = run("generate --prompt 'The cat' --max-new-tokens 3 --steer " + sae + ":1:8");
  EXPECT_EQ(r.code, 0) << r.err;

  auto expect_error = [&](const std::string& args, const std::string& needle) {
    const Result b = run(args);
    EXPECT_EQ(b.code, 1) << args << "\n" << b.err;
    EXPECT_NE(b.err.find(needle), std::string::npos) << "missing '" << needle << "' in " << b.err;
  };
  expect_error("sae train " + data + "--layer 3 --tap nope --tokens 50 --out " + sae + "x",
               "tap 'nope' does not exist");
  expect_error("sae train " + data + "--layer 99 --tokens 50 --out " + sae + "x",
               "layer 99 does not exist");
  // sae top on Chinese text: SmolLM2's byte-level tokens split each character over pieces that
  // alone decode to U+FFFD; the page shows the characters and the JSON the text itself. Feature 0
  // is made to fire everywhere (b_enc), so the one context spans the whole line.
  {
    const std::string zh = "北京是中国的首都，也是一座历史悠久的城市。";
    std::ofstream(dir / "zh.txt") << zh << "\n";
    Sae all = small_sae(576, 8);
    all.p.b_enc[0] = 1e4f;
    const std::string fire = (dir / "fire").string();
    save_sae(all, fire);
    r = run("sae top --data " + (dir / "zh.txt").string() + " --sae " + fire +
            " --feature 0 --window 64 --out " + (dir / "top.json").string() + " --html " +
            (dir / "top.html").string());
    ASSERT_EQ(r.code, 0) << r.err;
    std::ifstream jf(dir / "top.json"), hf(dir / "top.html");
    const auto j = nlohmann::json::parse(jf);
    ASSERT_EQ(j["contexts"].size(), 1u);
    EXPECT_EQ(j["contexts"][0]["text"].get<std::string>(), zh);
    std::stringstream html;
    html << hf.rdbuf();
    EXPECT_EQ(html.str().find("\xEF\xBF\xBD"), std::string::npos)
        << "a split character shown as U+FFFD";
    for (const char* c : {"北", "京", "首", "都", "城", "。"})
      EXPECT_NE(html.str().find(c), std::string::npos) << c;
  }
  const std::string narrow = (dir / "narrow").string();
  save_sae(small_sae(8, 20), narrow);
  expect_error("sae eval " + data + "--sae " + narrow, "d_in 8");
  expect_error("generate --prompt hi --steer " + narrow + ":0:1", "d_in 8");
  fs::resize_file(sae + "/sae_weights.safetensors", 64);
  expect_error("sae eval " + data + "--sae " + sae, "sae_weights.safetensors");
  fs::remove_all(dir);
}

}  // namespace
