// `erank lens` and `erank generate --dola` through the real binary: the JSON layout, the images,
// and bad input (a layer out of range, an empty text, a bad image name, a bad --dola list) as one
// clear error line and exit code 1.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fs = std::filesystem;

namespace {

const std::string kSrc = ERANK_SOURCE_DIR;

struct Result {
  int code;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result run(const std::string& args) {
  const std::string tag = std::to_string(::getpid());
  const fs::path o = fs::temp_directory_path() / ("erank_lens_out_" + tag),
                 e = fs::temp_directory_path() / ("erank_lens_err_" + tag);
  const std::string cmd =
      std::string(ERANK_BINARY) + " " + args + " >" + o.string() + " 2>" + e.string();
  const int st = std::system(cmd.c_str());
  Result r{WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(o), slurp(e)};
  fs::remove(o);
  fs::remove(e);
  return r;
}

class LensCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kSrc + "/models/smollm2-135m.gguf"))
      GTEST_SKIP() << "models/smollm2-135m.gguf missing (scripts/install.sh)";
    dir = fs::temp_directory_path() / ("erank_lens_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  void expect_error(const std::string& args, const std::string& needle) {
    const Result r = run(args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "missing '" << needle << "' in: " << r.err;
  }
  fs::path dir;
};

TEST_F(LensCli, JsonAndImages) {
  const fs::path json = dir / "lens.json", svg = dir / "lens.svg", png = dir / "lens.png";
  Result r =
      run("lens --threads 1 --text 'The capital of France is Paris.' --text 'Hello world' "
          "--layers 0,15,30 --top-k 3 --out " +
          json.string() + " --image " + svg.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("top1=final"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(slurp(json));
  EXPECT_EQ(j["n_layers"], 30);
  EXPECT_EQ(j["layers"], nlohmann::json({0, 15, 30}));
  ASSERT_EQ(j["texts"].size(), 2u);
  const auto& t = j["texts"][0];
  const size_t n = t["ids"].size();
  ASSERT_EQ(t["layers"].size(), 3u);
  for (const auto& l : t["layers"]) {
    for (const char* k : {"top1", "top1_token", "logp_top1", "entropy", "kl", "jsd", "topk"})
      EXPECT_EQ(l[k].size(), n) << k;
    EXPECT_EQ(l["topk"][0].size(), 3u);
  }
  EXPECT_EQ(t["layers"][2]["kl"][0].get<double>(), 0.0);  // the last layer is the output
  EXPECT_EQ(j["summary"][2]["top1_agreement"].get<double>(), 1.0);
  EXPECT_EQ(slurp(svg).rfind("<svg", 0), 0u);
  r = run("lens --threads 1 --text 'Hello world' --no-final-norm --out " + json.string() +
          " --image " + png.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(png).substr(1, 3), "PNG");
  EXPECT_FALSE(nlohmann::json::parse(slurp(json))["final_norm"].get<bool>());
}

TEST_F(LensCli, BadInput) {
  const std::string out = " --out " + (dir / "x.json").string();
  expect_error("lens --text hi --layers 31" + out, "--layers: 31 is outside 0..30");
  expect_error("lens --text ''" + out, "text 0 is empty");
  expect_error("lens" + out, "no input");
  expect_error("lens --text hi --image x.gif" + out, "must end in .svg or .png");
  expect_error("lens --text hi --top-k 0" + out, "--top-k must be at least 1");
  expect_error("lens --text hi --image y.svg --image-text 3" + out,
               "--image-text 3 is out of range");
  EXPECT_FALSE(fs::exists(dir / "x.json"));
  expect_error("generate -q --prompt hi --dola 30", "layer 30 is out of range");
  expect_error("generate -q --prompt hi --dola mid", "expected 'low', 'high'");
}

TEST_F(LensCli, GenerateDola) {
  const fs::path out = dir / "gen.jsonl";
  const Result r =
      run("generate -q --threads 1 --prompt 'The capital of France is' --dola high "
          "--max-new-tokens 4 --out " +
          out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(out));
  ASSERT_EQ(j["premature_layers"].size(), j["tokens"].size());
  for (const auto& l : j["premature_layers"]) {
    const int v = l.get<int>();
    EXPECT_TRUE(v >= 15 && v <= 29 && v % 2 == 1) << v;
  }
}

TEST_F(LensCli, EvalDola) {
  // The DoLa paper's TruthfulQA MC scoring through lm-eval's task files (two made-up documents).
  const std::string data = kSrc + "/tests/fixtures/dola/truthfulqa_mini.jsonl";
  const Result r = run(
      "eval --threads 1 --tasks truthfulqa_mc1,truthfulqa_mc2,truthfulqa_mc3 --data truthfulqa=" +
      data + " --dola high");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("truthfulqa_mc2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("truthfulqa_mc3"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("nan"), std::string::npos) << r.out;  // MC2 of scores in the thousands
  expect_error("eval --tasks truthfulqa_mc1 --data truthfulqa=" + data + " --dola 99",
               "layer 99 is out of range");
}

}  // namespace
