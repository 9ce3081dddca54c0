// `erank eval --contamination` end to end on the embedded SmolLM2: three small tasks of our own (a
// multiple-choice one, a multiple-input one in Winogrande's shape, a generative one), run with a
// shot, a description and a system prompt. Each document's scores on its samples line must equal
// Min-K% / Min-K%++ recomputed here, through the pure functions in double, from the logits that
// `erank hidden` dumps for the text this test builds from the documents (zero-shot question +
// target delimiter + gold answer): so the text, its tokens and the row/token alignment are checked,
// not only the math. Bad --contamination-k values are one error line before the model loads.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/safetensors.h"
#include "metrics/contamination.h"

namespace erank {
namespace {

namespace fs = std::filesystem;
namespace mc = contamination;
using json = nlohmann::json;

const std::string kSrc = ERANK_SOURCE_DIR;

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const char* kMcTask = R"(task: tiny_mc
dataset_path: local
output_type: multiple_choice
training_split: train
test_split: test
doc_to_text: "Question: {{question}}\nAnswer:"
doc_to_target: label
doc_to_choice: ["no", "yes"]
metric_list: [{metric: acc}]
metadata: {version: 1.0}
)";
const char* kMcDocs = R"({"question": "Is the sky blue?", "label": 1}
{"question": "Is fire cold?", "label": 0}
{"question": "Do fish swim in the deep ocean?", "label": 1}
)";
const char* kMcShots = R"({"question": "Is snow white?", "label": 1}
)";

// Multiple input (doc_to_text names an integer field): the gold context, then the continuation.
const char* kWinoTask = R"(task: tiny_wino
dataset_path: local
output_type: multiple_choice
training_split: train
test_split: test
doc_to_text: label
doc_to_target: rest
doc_to_choice: options
metric_list: [{metric: acc}]
metadata: {version: 1.0}
)";
const char* kWinoDocs =
    R"({"options": ["The trophy did not fit in the suitcase because the trophy", "The trophy did not fit in the suitcase because the suitcase"], "rest": "was too big.", "label": 0}
{"options": ["Anna poured water for Lisa until Anna", "Anna poured water for Lisa until Lisa"], "rest": "was no longer thirsty.", "label": 1}
)";
const char* kWinoShots =
    R"({"options": ["The cat chased the dog so the cat", "The cat chased the dog so the dog"], "rest": "ran away.", "label": 1}
)";

const char* kGenTask = R"(task: tiny_gen
dataset_path: local
output_type: generate_until
training_split: train
test_split: test
doc_to_text: "Q: {{q}}\nA:"
doc_to_target: "{{a}}"
generation_kwargs: {until: ["\n"], max_gen_toks: 3}
metric_list: [{metric: exact_match}]
metadata: {version: 1.0}
)";
const char* kGenDocs = R"({"q": "What is two plus three?", "a": "Five, since 2 + 3 = 5."}
{"q": "Name the capital of France.", "a": "Paris"}
)";
const char* kGenShots = R"({"q": "What colour is grass?", "a": "Green"}
)";

struct Result {
  int code;
  std::string out, err;
};

class ContaminationEval : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kSrc + "/models/smollm2-135m.gguf"))
      GTEST_SKIP() << "models/smollm2-135m.gguf missing (bash scripts/install.sh)";
    dir = fs::temp_directory_path() /
          ("erank_contam_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir / "tasks");
    write("tasks/mc.yaml", kMcTask);
    write("tasks/wino.yaml", kWinoTask);
    write("tasks/gen.yaml", kGenTask);
    write("mc.jsonl", kMcDocs);
    write("mc_train.jsonl", kMcShots);
    write("wino.jsonl", kWinoDocs);
    write("wino_train.jsonl", kWinoShots);
    write("gen.jsonl", kGenDocs);
    write("gen_train.jsonl", kGenShots);
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  }
  Result run(const std::string& args) {
    const std::string cmd = std::string(ERANK_BINARY) + " " + args + " >" +
                            (dir / "stdout").string() + " 2>" + (dir / "stderr").string();
    const int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(dir / "stdout"), slurp(dir / "stderr")};
  }
  std::string eval_args(const std::string& more) const {
    std::string a = "eval -m smollm2-135m -t 2 -q --include-path " + (dir / "tasks").string() +
                    " --tasks tiny_mc,tiny_wino,tiny_gen";
    for (const char* t : {"mc", "wino", "gen"}) {
      const std::string task = std::string("tiny_") + t;
      a += " --data " + task + "=" + (dir / (std::string(t) + ".jsonl")).string();
      a += " --data " + task + ":train=" + (dir / (std::string(t) + "_train.jsonl")).string();
    }
    return a + " " + more;
  }
  fs::path dir;
};

std::vector<json> jsonl(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// The text each document is scored by, built here from the documents and the task files above.
std::vector<std::string> expected_texts(const std::string& task) {
  std::vector<std::string> out;
  if (task == "tiny_mc") {
    for (auto& d : jsonl(kMcDocs))
      out.push_back("Question: " + d["question"].get<std::string>() +
                    "\nAnswer:" + (d["label"] == 1 ? " yes" : " no"));
  } else if (task == "tiny_wino") {
    for (auto& d : jsonl(kWinoDocs))
      out.push_back(d["options"][d["label"].get<size_t>()].get<std::string>() + " " +
                    d["rest"].get<std::string>());
  } else {
    for (auto& d : jsonl(kGenDocs))
      out.push_back("Q: " + d["q"].get<std::string>() + "\nA: " + d["a"].get<std::string>());
  }
  return out;
}

TEST_F(ContaminationEval, ScoresEqualARecomputationFromDumpedLogits) {
  // Two runs of the 135M model (eval and hidden): minutes under the sanitizers, where the scoring
  // math is covered by tests/metrics/test_contamination.cpp.
  if (std::getenv("ERANK_SANITIZED")) GTEST_SKIP() << "release build only";
  const std::vector<double> ks = {0.1, 0.2, 0.5};
  const Result r = run(
      eval_args("--num-fewshot 1 --description \"Answer in one word.\" --system \"Be careful.\" "
                "--contamination --contamination-k 0.1,0.2,0.5 --log-samples --output-path " +
                (dir / "out").string()));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("|Tasks|k|n|Min-K% mean|"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|tiny_mc|0.2|3|"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|tiny_wino|0.5|2|"), std::string::npos) << r.out;

  std::map<std::string, fs::path> samples;
  fs::path results;
  for (auto& e : fs::directory_iterator(dir / "out" / "smollm2-135m")) {
    const std::string n = e.path().filename().string();
    if (n.starts_with("results_")) results = e.path();
    for (const char* t : {"tiny_mc", "tiny_wino", "tiny_gen"})
      if (n.starts_with(std::string("samples_") + t + "_")) samples[t] = e.path();
  }
  ASSERT_FALSE(results.empty());
  ASSERT_EQ(samples.size(), 3u);
  const json res = json::parse(slurp(results));
  ASSERT_TRUE(res.contains("contamination")) << res.dump(1);

  // Every scored text, in task order, for erank hidden.
  struct Item {
    std::string task, text;
    json line;
  };
  std::vector<Item> items;
  for (const char* task : {"tiny_mc", "tiny_wino", "tiny_gen"}) {
    const auto lines = jsonl(slurp(samples[task]));
    const auto texts = expected_texts(task);
    ASSERT_EQ(lines.size(), texts.size()) << task;
    for (size_t i = 0; i < lines.size(); ++i) {
      const json& l = lines[i];
      ASSERT_EQ(l["doc_id"], i);
      ASSERT_TRUE(l.contains("contamination")) << l.dump();
      // The run's prompt had the shot, description and system prompt; the scored text has none.
      const std::string prompt = l["arguments"]["gen_args_0"]["arg_0"];
      EXPECT_NE(prompt.find("Be careful."), std::string::npos) << prompt;
      EXPECT_EQ(l["contamination"]["text"], texts[i]) << task << " doc " << i;
      items.push_back({task, texts[i], l});
    }
    const json& block = res["contamination"][task];
    EXPECT_EQ(block["n_items"], texts.size());
    EXPECT_EQ(block["k"], json(ks));
    // The distribution's mean is the mean of the items' scores.
    for (const char* score : {"min_k", "min_k_plus_plus"}) {
      double sum = 0;
      for (auto& l : lines) sum += l["contamination"][score]["0.2"].get<double>();
      EXPECT_NEAR(block[score]["0.2"]["mean"].get<double>(), sum / double(lines.size()), 1e-12)
          << task << " " << score;
      EXPECT_EQ(block[score]["0.2"]["histogram"]["counts"].size(), 10u);
    }
  }

  std::ofstream tf(dir / "texts.jsonl");
  for (auto& it : items) tf << json{{"text", it.text}}.dump() << "\n";
  tf.close();
  const Result h =
      run("hidden -m smollm2-135m -t 2 --layers last --logits --data " +
          (dir / "texts.jsonl").string() + " --out " + (dir / "h.safetensors").string());
  ASSERT_EQ(h.code, 0) << h.err;
  SafetensorsFile st((dir / "h.safetensors").string());

  double worst = 0, closest_shift = 1e9;
  for (size_t i = 0; i < items.size(); ++i) {
    SCOPED_TRACE(items[i].task + ": " + items[i].text);
    const TensorView& ids_t = st.tensors().at("ids." + std::to_string(i));
    const TensorView& lg_t = st.tensors().at("logits." + std::to_string(i));
    const int64_t N = ids_t.shape[0], V = lg_t.shape[1];
    const auto* ids = reinterpret_cast<const int32_t*>(ids_t.data.data());
    const auto* lg = reinterpret_cast<const float*>(lg_t.data.data());
    const json& c = items[i].line["contamination"];
    ASSERT_EQ(c["n_tokens"], N);  // the same tokens as erank hidden's encoding of the text
    // Row t predicts token t + 1; `shift` scores token t + 2 instead (a misalignment).
    auto scores = [&](int shift) {
      std::vector<mc::TokenStats> s;
      for (int64_t t = 0; t + 1 + shift < N; ++t)
        s.push_back(
            mc::token_stats(std::span<const float>(lg + t * V, size_t(V)), ids[t + 1 + shift]));
      return s;
    };
    const auto s0 = scores(0), s1 = scores(1);
    std::vector<double> lp0, lp1;
    for (auto& x : s0) lp0.push_back(x.logp);
    for (auto& x : s1) lp1.push_back(x.logp);
    for (double k : ks) {
      const std::string key = fmt::format("{}", k);
      const double a = c["min_k"][key], b = c["min_k_plus_plus"][key];
      const double ra = *mc::min_k_prob(lp0, k), rb = *mc::min_k_plus_plus(s0, k);
      EXPECT_NEAR(a, ra, 1e-4) << key;
      EXPECT_NEAR(b, rb, 1e-4) << key;
      worst = std::max({worst, std::abs(a - ra), std::abs(b - rb)});
      if (auto sa = mc::min_k_prob(lp1, k))
        closest_shift = std::min(closest_shift, std::abs(a - *sa));
    }
  }
  std::printf(
      "[ contamination ] %zu items: eval vs recomputed from erank hidden's logits, max "
      "|diff| %.3g (a one-token shift moves Min-K%% by >= %.3g)\n",
      items.size(), worst, closest_shift);
  EXPECT_GT(closest_shift, 10 * worst);
}

TEST_F(ContaminationEval, BadKIsOneErrorLine) {
  for (const auto& [args, needle] : std::vector<std::pair<std::string, std::string>>{
           {"--contamination --contamination-k 0", "'0' is not a fraction in (0, 1]"},
           {"--contamination --contamination-k 1.5", "'1.5' is not a fraction in (0, 1]"},
           {"--contamination --contamination-k -0.2", "not a fraction"},
           {"--contamination --contamination-k 0.2x", "'0.2x'"},
           {"--contamination --contamination-k nan", "'nan'"},
           {"--contamination --contamination-k 0.2,0.2", "given twice"},
           {"--contamination --contamination-k ,", "no value"},
           {"--contamination-k 0.2", "--contamination-k needs --contamination"}}) {
    const Result r = run(eval_args(args + " --output-path " + (dir / "out").string()));
    EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(fs::exists(dir / "out")) << args;
  }
}

}  // namespace
}  // namespace erank
