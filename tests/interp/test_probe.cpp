// Probes: the ridge regression against scikit-learn's RidgeCV (tools/make_probe_refs.py) on
// synthetic data and on SmolLM2-135M city features, the metrics in closed form, entity files and
// prompts, and the bad inputs of `erank probe`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backend/backend.h"
#include "core/error.h"
#include "interp/entities.h"
#include "interp/probe.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using namespace erank;

namespace {

const fs::path kFix = fs::path(ERANK_SOURCE_DIR) / "tests/fixtures/probe";

bool sanitized() {  // the ASan run: fewer entities, same checks
  return std::getenv("ERANK_SANITIZED") != nullptr;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  EXPECT_TRUE(f.good()) << p;
  return nlohmann::json::parse(f);
}

std::vector<double> vec(const nlohmann::json& j) {
  return j.get<std::vector<double>>();
}

// max over i of |a - b| / |b|, with |b| floored at 1e-3 of the vector's largest |b| (a
// coefficient that is ~0 is compared at the vector's scale, not its own).
double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double scale = 0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(std::abs(b[i]), 1e-3 * scale));
  return worst;
}

constexpr double kTol = 1e-6;

TEST(Ridge, LogspaceIsNumpys) {
  const auto j = read_json(kFix / "synthetic.json");
  for (const auto& c : j["cases"])
    if (c["name"] == "default_grid") {
      const auto ref = vec(c["alphas"]);
      const auto mine = default_ridge_alphas();
      ASSERT_EQ(mine.size(), 12u);
      for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(mine[i], ref[i], 1e-13 * ref[i]);
    }
}

TEST(Ridge, SyntheticEqualsRidgeCV) {
  const auto j = read_json(kFix / "synthetic.json");
  double worst = 0;
  for (const auto& c : j["cases"]) {
    const int64_t n = c["n"], p = c["p"], t = c["t"];
    const auto x = vec(c["x"]), y = vec(c["y"]), xt = vec(c["x_test"]), yt = vec(c["y_test"]);
    const int64_t nt = int64_t(yt.size()) / t;
    for (const auto& f : c["fits"]) {
      SCOPED_TRACE(c["name"].get<std::string>() +
                   (f["alpha_per_target"] ? " per-target" : " shared"));
      RidgeCVOptions opt{vec(c["alphas"]), f["alpha_per_target"].get<bool>()};
      const RidgeFit fit = ridge_cv(x, n, p, y, t, opt);
      EXPECT_EQ(fit.alpha, vec(f["alpha"]));  // the same grid point, exactly
      const double ec = max_rel(fit.coef, vec(f["coef"]));
      const double ei = max_rel(fit.intercept, vec(f["intercept"]));
      const auto pred = fit.predict(xt, nt);
      std::vector<double> r2;
      for (int64_t k = 0; k < t; ++k) {
        std::vector<double> a, b;
        for (int64_t i = 0; i < nt; ++i) {
          a.push_back(yt[size_t(i * t + k)]);
          b.push_back(pred[size_t(i * t + k)]);
        }
        r2.push_back(r2_score(a, b));
      }
      const double er = max_rel(r2, vec(f["r2_test"]));
      EXPECT_LT(ec, kTol);
      EXPECT_LT(ei, kTol);
      EXPECT_LT(er, kTol);
      worst = std::max({worst, ec, ei, er});
    }
  }
  std::cout << "synthetic: max relative error vs RidgeCV " << worst << "\n";
}

TEST(Ridge, BadInput) {
  std::vector<double> x(6, 1.0), y(2, 1.0);
  EXPECT_THROW(ridge_cv(x, 2, 3, y, 1), Error);  // fewer rows than leave-one-out needs
  std::vector<double> x3(9, 1.0), y3(3, 1.0);
  RidgeCVOptions opt;
  opt.alphas = {1.0, -2.0};
  EXPECT_THROW(ridge_cv(x3, 3, 3, y3, 1, opt), Error);
}

// The features of the cities as erank computed them when the fixture was made.
struct Cities {
  std::map<int, Features> feats;
  std::vector<double> y;
  std::vector<char> is_test;
  std::vector<std::string> names;
};

Cities load_cities() {
  SafetensorsFile f((kFix / "cities.safetensors").string());
  Cities c;
  const auto meta = nlohmann::json::parse(f.metadata().at("erank"));
  c.names = meta["entities"].get<std::vector<std::string>>();
  for (int l : meta["layers"].get<std::vector<int>>()) {
    const TensorView& v = f.tensors().at("layer." + std::to_string(l));
    Features& ft = c.feats[l];
    ft.n = v.shape[0];
    ft.d = v.shape[1];
    ft.v.resize(size_t(v.numel()));
    to_f32(v, ft.v.data());
  }
  const TensorView& ty = f.tensors().at("targets");
  c.y.resize(size_t(ty.numel()));
  std::memcpy(c.y.data(), ty.data.data(), ty.data.size());
  const TensorView& it = f.tensors().at("is_test");
  for (int64_t i = 0; i < it.numel(); ++i)
    c.is_test.push_back(reinterpret_cast<const int32_t*>(it.data.data())[i] != 0);
  return c;
}

TEST(Probe, CitiesEqualRidgeCV) {
  const Cities c = load_cities();
  const auto ref = read_json(kFix / "cities_ref.json");
  const ProbeSplit split = make_split(c.is_test);
  const RidgeCVOptions opt{vec(ref["alphas"]), true};
  double worst = 0;
  for (const auto& lr : ref["layers"]) {
    const int l = lr["layer"];
    SCOPED_TRACE("layer " + std::to_string(l));
    RidgeFit fit;
    const ProbeLayerResult r =
        probe_layer(c.feats.at(l), c.y, 2, split, opt, Distance::haversine, &fit);
    EXPECT_EQ(fit.alpha, vec(lr["alpha"]));
    const double errs[] = {max_rel(fit.coef, vec(lr["coef"])),
                           max_rel(fit.intercept, vec(lr["intercept"])),
                           max_rel(r.r2, vec(lr["r2"])),
                           max_rel(r.pearson, vec(lr["pearson"])),
                           max_rel(r.spearman, vec(lr["spearman"])),
                           max_rel(r.train_r2, vec(lr["train_r2"]))};
    for (double e : errs) {
      EXPECT_LT(e, kTol);
      worst = std::max(worst, e);
    }
    EXPECT_NEAR(r.proximity_error, lr["proximity_error"].get<double>(), 1e-12);
    std::cout << "layer " << l << ": R2 " << r.r2[0] << ", " << r.r2[1] << " alpha " << r.alpha[0]
              << ", " << r.alpha[1] << "\n";
  }
  std::cout << "cities: max relative error vs RidgeCV " << worst << "\n";
}

// erank still computes the fixture's features (same prompt, same tokens).
TEST(Probe, CityFeaturesReproduce) {
  const Cities c = load_cities();
  const size_t k = sanitized() ? 4 : 40;
  const ModelSource src = resolve_model_source("smollm2-135m");
  auto tok = Tokenizer::from_gguf(GGUFFile(src.path));
  auto model = load_model(src);
  const std::vector<std::string> names(c.names.begin(), c.names.begin() + std::ptrdiff_t(k));
  const EntityTokens toks =
      tokenize_entities(*tok, names, parse_prompt("{}"), model->config().vocab_size, 0);
  std::vector<int> layers;
  for (const auto& [l, f] : c.feats) layers.push_back(l);
  auto be = make_backend("cpu", 0);
  const auto mine = last_token_states(*model, *be, toks.ids, layers, 2048);
  for (int l : layers) {
    const Features& a = mine.at(l);
    const Features& b = c.feats.at(l);
    ASSERT_EQ(a.d, b.d);
    for (size_t i = 0; i < k; ++i) {
      double num = 0, den = 0;
      for (int64_t j = 0; j < a.d; ++j) {
        const double x = a.v[i * size_t(a.d) + size_t(j)], y = b.v[i * size_t(b.d) + size_t(j)];
        num += (x - y) * (x - y);
        den += y * y;
      }
      EXPECT_LT(std::sqrt(num / den), 1e-4) << "layer " << l << " entity " << names[i];
    }
  }
}

TEST(Metrics, ClosedForms) {
  EXPECT_EQ(average_ranks(std::vector<double>{3, 1, 3, 2}), (std::vector<double>{3.5, 1, 3.5, 2}));
  EXPECT_DOUBLE_EQ(spearman(std::vector<double>{1, 2, 3, 4}, std::vector<double>{10, 20, 25, 100}),
                   1.0);
  EXPECT_DOUBLE_EQ(pearson(std::vector<double>{1, 2, 3}, std::vector<double>{3, 2, 1}), -1.0);
  EXPECT_DOUBLE_EQ(r2_score(std::vector<double>{1, 2, 3}, std::vector<double>{1, 2, 3}), 1.0);
  EXPECT_DOUBLE_EQ(r2_score(std::vector<double>{1, 2, 3}, std::vector<double>{2, 2, 2}), 0.0);
  EXPECT_TRUE(std::isnan(r2_score(std::vector<double>{2, 2}, std::vector<double>{1, 3})));
  // Perfect predictions: nobody else is closer. Predictions swapped between two of three
  // points: for those two, the other's prediction sits on their true point.
  const std::vector<double> truth{0, 1, 5};
  EXPECT_DOUBLE_EQ(proximity_error(truth, truth, 1, Distance::euclidean), 0.0);
  EXPECT_DOUBLE_EQ(proximity_error(truth, std::vector<double>{1, 0, 5}, 1, Distance::euclidean),
                   (0.5 + 0.5 + 0.0) / 3);
}

TEST(Metrics, HaversineOrderIsGreatCircleOrder) {
  // Chord comparisons must rank pairs as great-circle distances do (incl. across the dateline).
  const std::vector<double> truth{0, 179, 51.5, -0.1, -33.9, 151.2, 64.1, -21.9};
  const std::vector<double> pred{0, -179, 48.9, 2.35, -37.8, 145.0, 40.7, -74.0};
  auto gc = [](double la1, double lo1, double la2, double lo2) {
    const double r = M_PI / 180, a = std::sin((la2 - la1) * r / 2),
                 b = std::sin((lo2 - lo1) * r / 2);
    return 2 * std::asin(std::sqrt(a * a + std::cos(la1 * r) * std::cos(la2 * r) * b * b));
  };
  double expect = 0;
  const int n = 4;
  for (int i = 0; i < n; ++i) {
    const double own = gc(truth[2 * i], truth[2 * i + 1], pred[2 * i], pred[2 * i + 1]);
    int closer = 0;
    for (int j = 0; j < n; ++j)
      if (j != i && gc(truth[2 * i], truth[2 * i + 1], pred[2 * j], pred[2 * j + 1]) < own)
        ++closer;
    expect += closer / double(n - 1);
  }
  EXPECT_DOUBLE_EQ(proximity_error(truth, pred, 2, Distance::haversine), expect / n);
}

fs::path temp_file(const std::string& name, const std::string& text) {
  const fs::path p =
      fs::temp_directory_path() / ("erank_probe_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p;
}

TEST(Entities, CsvAndSplits) {
  const fs::path p =
      temp_file("ok.csv", "name,year,is_test\nA,1900,False\nB,,True\nC,1950.5,True\n");
  const EntityTable e = load_entities(p.string(), "name", {"year"}, "is_test");
  EXPECT_EQ(e.names, (std::vector<std::string>{"A", "C"}));
  EXPECT_EQ(e.y, (std::vector<double>{1900, 1950.5}));
  EXPECT_EQ(e.is_test, (std::vector<char>{0, 1}));
  EXPECT_EQ(e.n_skipped, 1);
  fs::remove(p);
  // random.seed(7); random.sample(range(20), 4) == [10, 4, 12, 1]
  const auto s = random_split(20, 0.2, 7);
  for (int i : {10, 4, 12, 1}) EXPECT_TRUE(s[size_t(i)]);
  EXPECT_EQ(std::count(s.begin(), s.end(), 1), 4);
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const auto& n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

TEST(Entities, BadFiles) {
  const fs::path p = temp_file("bad.csv", "name,lat\nA,1.5\nB,north\n");
  expect_error([&] { load_entities(p.string(), "name", {"lat"}, ""); },
               {p.string(), "'lat' is not numeric", "row 2", "north"});
  expect_error([&] { load_entities(p.string(), "name", {"lon"}, ""); },
               {p.string(), "no target column 'lon'", "name, lat"});
  expect_error([&] { load_entities(p.string(), "city", {"lat"}, ""); },
               {"no entity column 'city'"});
  fs::remove(p);
  expect_error([] { parse_prompt("Where is"); }, {"{}", "preset"});
  EXPECT_EQ(parse_prompt("coords").prefix, "What are the lat/lon coordinates of ");
  EXPECT_EQ(parse_prompt("Where is {}?").prefix, "Where is ");
  expect_error([] { parse_probe_layers("3,31", 30); }, {"31", "out of range", "0..30"});
  EXPECT_EQ(parse_probe_layers("all", 3), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(parse_probe_layers("-1,0", 3), (std::vector<int>{0, 3}));
}

struct CliRun {
  int code;
  std::string out, err;
};

CliRun run_cli(const std::string& args) {
  const std::string base =
      fs::temp_directory_path() / ("erank_probe_cli_" + std::to_string(::getpid()));
  const std::string cmd =
      std::string(ERANK_BINARY) + " " + args + " >" + base + ".out 2>" + base + ".err";
  const int st = std::system(cmd.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    fs::remove(p);
    return ss.str();
  };
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(base + ".out"), slurp(base + ".err")};
}

TEST(ProbeCli, BadInputExitsNonZero) {
  const fs::path bad = temp_file("cli_bad.csv", "name,year\nA,1900\nB,x\n");
  CliRun r = run_cli("probe --data " + bad.string() + " --target year");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("'year' is not numeric"), std::string::npos) << r.err;
  const fs::path few = temp_file("cli_few.csv", "name,year\nA,1900\nB,1910\nC,1920\nD,1930\n");
  r = run_cli("probe --data " + few.string() + " --target year");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(few.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("at least 3 to train"), std::string::npos) << r.err;
  r = run_cli("probe --limit 20 --layers 31");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("out of range"), std::string::npos) << r.err;
  fs::remove(bad);
  fs::remove(few);
}

TEST(ProbeCli, CitiesWithControls) {
  const fs::path out =
      fs::temp_directory_path() / ("erank_probe_" + std::to_string(::getpid()) + ".json");
  const int n = sanitized() ? 15 : 40;
  const CliRun r = run_cli("probe -q --limit " + std::to_string(n) +
                           " --layers 2,last --control random --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = read_json(out);
  fs::remove(out);
  EXPECT_EQ(j["n_entities"], n);
  EXPECT_EQ(j["n_test"], n / 5);
  EXPECT_EQ(j["targets"], (nlohmann::json{"latitude", "longitude"}));
  EXPECT_EQ(j["distance"], "haversine");
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][1]["layer"], 30);
  for (const char* key : {"r2", "spearman", "pearson", "alpha"})
    EXPECT_TRUE(j["layers"][0][key].contains("latitude")) << key;
  EXPECT_TRUE(j["layers"][0]["r2"].contains("mean"));
  EXPECT_TRUE(j["best_layer"] == 2 || j["best_layer"] == 30);
  EXPECT_EQ(j["controls"]["random_labels"].size(), 2u);
  EXPECT_EQ(j["controls"]["random_tokens"].size(), 2u);
  EXPECT_NE(r.out.find("best layer"), std::string::npos);
}

}  // namespace
