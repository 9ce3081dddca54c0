// `erank eval` through the real binary on the embedded SmolLM2 and a small task of our own: the
// results and samples files with lm-eval's fields, an n-shot / label sweep in one command, and bad
// input -- one error line, exit 1, nothing written.
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
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A yes/no task in lm-eval's YAML with three documents and two shots from its train split.
const char* kTask = R"(task: tiny_qa
dataset_path: local
output_type: multiple_choice
training_split: train
test_split: test
doc_to_text: "Question: {{question}}\nAnswer:"
doc_to_target: label
doc_to_choice: ["no", "yes"]
metric_list:
  - {metric: acc}
  - {metric: acc_norm}
metadata: {version: 1.0}
)";
const char* kDocs = R"({"question": "Is the sky blue?", "label": 1}
{"question": "Is fire cold?", "label": 0}
{"question": "Do fish swim?", "label": 1}
)";
const char* kShots = R"({"question": "Is snow white?", "label": 1}
{"question": "Is the sun dark?", "label": 0}
{"question": "Can birds fly?", "label": 1}
)";

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kSrc + "/models/smollm2-135m.gguf"))
      GTEST_SKIP() << "models/smollm2-135m.gguf missing (bash scripts/install.sh)";
    dir = fs::temp_directory_path() /
          ("erank_eval_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir / "tasks");
    write("tasks/tiny.yaml", kTask);
    write("test.jsonl", kDocs);
    write("train.jsonl", kShots);
  }
  void TearDown() override { fs::remove_all(dir); }

  Result run(const std::string& args) {
    const std::string cmd = std::string(ERANK_BINARY) + " eval -m smollm2-135m -t 1 -q " +
                            "--include-path " + (dir / "tasks").string() + " " + args + " >" +
                            (dir / "stdout").string() + " 2>" + (dir / "stderr").string();
    const int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(dir / "stdout"), slurp(dir / "stderr")};
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  }
  std::string data() const {
    return "--data tiny_qa=" + (dir / "test.jsonl").string() +
           " --data tiny_qa:train=" + (dir / "train.jsonl").string();
  }
  // Exit 1, one stderr line holding `needle`, nothing on stdout, nothing in the output folder.
  void expect_error(const std::string& args, const std::string& needle) {
    const Result r = run(args + " --output-path " + (dir / "out").string());
    EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "missing '" << needle << "' in " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(fs::exists(dir / "out")) << args;
  }
  fs::path dir;
};

TEST_F(EvalCli, WritesLmEvalResultsAndSamples) {
  const Result r = run("--tasks tiny_qa --num-fewshot 2 --log-samples " + data() +
                       " --output-path " + (dir / "out").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("|tiny_qa|"), std::string::npos) << r.out;
  std::vector<fs::path> results, samples;
  for (auto& e : fs::directory_iterator(dir / "out" / "smollm2-135m")) {
    const std::string n = e.path().filename().string();
    if (n.starts_with("results_")) results.push_back(e.path());
    if (n.starts_with("samples_tiny_qa_")) samples.push_back(e.path());
    EXPECT_FALSE(n.starts_with(".partial")) << "resume file left behind: " << n;
  }
  ASSERT_EQ(results.size(), 1u);
  ASSERT_EQ(samples.size(), 1u);
  auto j = nlohmann::json::parse(slurp(results[0]));
  const auto& t = j["results"]["tiny_qa"];
  EXPECT_TRUE(t.contains("acc,none") && t.contains("acc_stderr,none") &&
              t.contains("acc_norm,none"));
  EXPECT_EQ(j["n-shot"]["tiny_qa"], 2);
  EXPECT_EQ(j["n-samples"]["tiny_qa"]["effective"], 3);
  EXPECT_EQ(j["configs"]["tiny_qa"]["doc_to_choice"], nlohmann::json::array({"no", "yes"}));
  // Per document: lm-eval's fields; the shots come before the question (first_n is not set:
  // the seeded default sampler draws two of the three train documents).
  std::ifstream f(samples[0]);
  std::string line;
  int n = 0;
  double acc_sum = 0;
  while (std::getline(f, line)) {
    auto s = nlohmann::json::parse(line);
    for (const char* k : {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps",
                          "doc_hash", "prompt_hash", "target_hash", "acc", "acc_norm"})
      EXPECT_TRUE(s.contains(k)) << k;
    const std::string ctx = s["arguments"]["gen_args_0"]["arg_0"];
    EXPECT_EQ(std::count(ctx.begin(), ctx.end(), '?'), 3) << ctx;  // 2 shots + the question
    EXPECT_EQ(s["arguments"]["gen_args_1"]["arg_1"], " yes");
    acc_sum += s["acc"].get<double>();
    ++n;
  }
  EXPECT_EQ(n, 3);
  EXPECT_DOUBLE_EQ(t["acc,none"].get<double>(), acc_sum / 3);
}

TEST_F(EvalCli, SweepsShotsAndLabelsInOneCommand) {
  const Result r = run("--tasks tiny_qa --num-fewshot 0,2 --fewshot-labels gold,flipped " + data());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("## side by side (acc)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2-shot flipped"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0-shot gold"), std::string::npos) << r.out;
}

TEST_F(EvalCli, BadInputIsOneErrorLine) {
  expect_error("--tasks no_such_task", "unknown task 'no_such_task'");
  expect_error("--tasks tiny_qa --data tiny_qa=" + (dir / "missing.jsonl").string(),
               "no such file");
  write("nofield.jsonl", "{\"q\": \"x\", \"label\": 1}\n");
  expect_error("--tasks tiny_qa --num-fewshot 0 --data tiny_qa=" + (dir / "nofield.jsonl").string(),
               "question");
  write("badlabel.jsonl",
        "{\"question\": \"x\", \"label\": 1}\n{\"question\": \"y\", \"label\": 7}\n");
  expect_error(
      "--tasks tiny_qa --num-fewshot 0 --data tiny_qa=" + (dir / "badlabel.jsonl").string(),
      "not one of its 2 choices");
  write("empty.jsonl", "\n");
  expect_error("--tasks tiny_qa --num-fewshot 0 --data tiny_qa=" + (dir / "empty.jsonl").string(),
               "empty.jsonl");
  write("bad.parquet", "PAR1 this is not a parquet file PAR1");
  expect_error("--tasks tiny_qa --num-fewshot 0 --data tiny_qa=" + (dir / "bad.parquet").string(),
               "bad.parquet");
  write("bad.jsonl", "{\"question\": \"x\", \"label\": 1}\n{\"question\": \n");
  expect_error("--tasks tiny_qa --num-fewshot 0 --data tiny_qa=" + (dir / "bad.jsonl").string(),
               "bad.jsonl:2");
  expect_error("--tasks tiny_qa --num-fewshot 5 " + data(), "few-shot");
  expect_error("--tasks tiny_qa --fewshot-labels upside-down " + data(), "--fewshot-labels");
  write("tasks/broken.yaml", "task: [unclosed\n");
  expect_error("--tasks tiny_qa " + data(), "broken.yaml");
}

// Generative tasks: code execution is opt-in, the options are checked before the model loads,
// and a task file naming a Python hook or an unknown filter is refused up front.
TEST_F(EvalCli, GenerativeTasksRefuseBadInput) {
  expect_error("--tasks humaneval --limit 1", "--allow-code-execution");
  expect_error("--tasks gsm8k_cot --self-consistency 1", "--self-consistency");
  expect_error("--tasks gsm8k_cot --max-gen-toks 0", "--max-gen-toks");
  expect_error("--tasks gsm8k_cot --gen-batch 0", "--gen-batch");
  write("tasks/gen.yaml",
        "task: tiny_gen\ndataset_path: x\ntest_split: test\noutput_type: generate_until\n"
        "doc_to_text: '{{question}}'\ndoc_to_target: '{{answer}}'\n"
        "metric_list: [{metric: exact_match}]\n"
        "filter_list: [{name: f, filter: [{function: no_such_filter}]}]\n");
  write("gen.jsonl", "{\"question\": \"1+1?\", \"answer\": \"2\"}\n");
  expect_error("--tasks tiny_gen --data tiny_gen=" + (dir / "gen.jsonl").string(),
               "no_such_filter");
  write("tasks/gen.yaml",
        "task: tiny_gen\ndataset_path: x\ntest_split: test\noutput_type: generate_until\n"
        "doc_to_text: '{{question}}'\ndoc_to_target: '{{answer}}'\n"
        "metric_list: [{metric: exact_match}]\nprocess_results: !function utils.process\n");
  expect_error("--tasks tiny_gen --data tiny_gen=" + (dir / "gen.jsonl").string(),
               "process_results is a Python function");
}

}  // namespace
