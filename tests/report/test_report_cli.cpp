// `erank report` through the real binary. Bad input: exit 1, one line naming the file, and no
// output written (an older report at --out stays as it was). End to end: real results of erank
// diff, sweep, lens, probe, arena rate and eval, made here on the tiny HF fixture models (with a
// byte-level tokenizer written here: ids 0-255 = bytes, the models' vocabulary size), rendered
// into one page that headless chromium loads and checks (tools/report_browser_check.py: every
// plot drawn with the series and marks the input files call for; screenshot report.png).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const fs::path kSrc = ERANK_SOURCE_DIR;

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

Result run_in(const fs::path& dir, const std::string& cmd) {
  const std::string full =
      cmd + " >" + (dir / "stdout").string() + " 2>" + (dir / "stderr").string();
  const int st = std::system(full.c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(dir / "stdout"), slurp(dir / "stderr")};
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("erank_report_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

bool sanitized() {
  return std::getenv("ERANK_SANITIZED") != nullptr;
}

class ReportCli : public ::testing::Test {
 protected:
  void SetUp() override { dir = fresh_dir("cli"); }
  void TearDown() override { fs::remove_all(dir); }
  // Exit 1, one stderr line naming `file` and holding `needle`; the old page is untouched.
  void expect_error(const std::string& files, const std::string& file, const std::string& needle) {
    const fs::path out = dir / "report.html";
    std::ofstream(out) << "old page";
    const Result r =
        run_in(dir, std::string(ERANK_BINARY) + " report " + files + " --out " + out.string());
    EXPECT_EQ(r.code, 1) << files << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << "file not named in: " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "missing '" << needle << "' in " << r.err;
    EXPECT_EQ(slurp(out), "old page");
    for (const auto& e : fs::directory_iterator(dir))
      EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  }
  fs::path dir;
};

TEST_F(ReportCli, BadInputNamesTheFileAndWritesNothing) {
  const std::string sample = slurp(kSrc / "tests/fixtures/report/sweep_sample.json");
  const fs::path good = write("good.json", sample);
  const fs::path cut = write("cut.json", sample.substr(0, sample.size() / 3));
  json v = json::parse(sample);
  v["schema_version"] = 99;
  const fs::path v99 = write("v99.json", v.dump());
  const fs::path odd = write("odd.json", R"({"kind": "weather", "schema_version": 1})");
  const fs::path text = write("notes.json", "eRank went up\n");
  expect_error(good.string() + " " + cut.string(), cut.string(), "not valid JSON (truncated?)");
  expect_error(good.string() + " " + v99.string(), v99.string(), "schema_version 99");
  expect_error(odd.string() + " " + good.string(), odd.string(), "unknown kind \"weather\"");
  expect_error(text.string(), text.string(), "not valid JSON");
  expect_error((dir / "missing.json").string(), "missing.json", "cannot open");
  expect_error(good.string() + " " + good.string(), good.string(), "given twice");
  expect_error("", "no results files given", "erank report RESULTS.json");
}

TEST_F(ReportCli, WritesThePage) {
  const fs::path in = kSrc / "tests/fixtures/report/sweep_sample.json";
  const Result r = run_in(dir, std::string(ERANK_BINARY) + " report " + in.string() + " --out " +
                                   (dir / "r.html").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string html = slurp(dir / "r.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_NE(html.find("data-plot=\"set0/layer-ablation\""), std::string::npos);
}

// ---- end to end with real erank outputs and a real browser ----

// A byte-level BPE without merges: each byte one token, id = byte value (GPT-2's byte-to-unicode
// map), so any text encodes to ids below the tiny models' vocabulary of 256.
std::string byte_tokenizer() {
  std::vector<int> bs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  std::vector<int> cp(256, -1);
  for (int b : bs) cp[size_t(b)] = b;
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (cp[size_t(b)] < 0) cp[size_t(b)] = 256 + n++;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) {
    const int c = cp[size_t(b)];
    std::string u = c < 0x80 ? std::string(1, char(c))
                             : std::string{char(0xC0 | (c >> 6)), char(0x80 | (c & 0x3F))};
    vocab[u] = b;
  }
  const json bl = {{"type", "ByteLevel"},
                   {"add_prefix_space", false},
                   {"trim_offsets", true},
                   {"use_regex", true}};
  return json{{"version", "1.0"},
              {"added_tokens", json::array()},
              {"normalizer", nullptr},
              {"pre_tokenizer", bl},
              {"post_processor", nullptr},
              {"decoder", bl},
              {"model",
               {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"vocab", vocab},
                {"merges", json::array()}}}}
      .dump();
}

const char* kTaskA = R"(task: tiny_yes_no
dataset_path: local
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{question}}\nAnswer:"
doc_to_target: label
doc_to_choice: ["no", "yes"]
metric_list:
  - {metric: acc}
  - {metric: acc_norm}
metadata: {version: 1.0}
)";
const char* kTaskB = R"(task: tiny_colour
dataset_path: local
output_type: multiple_choice
test_split: test
doc_to_text: "{{question}}"
doc_to_target: label
doc_to_choice: ["red", "green", "blue"]
metric_list:
  - {metric: acc}
metadata: {version: 1.0}
)";
const char* kDocsA = R"({"question": "Is the sky blue?", "label": 1}
{"question": "Is fire cold?", "label": 0}
{"question": "Do fish swim?", "label": 1}
{"question": "Is ice hot?", "label": 0}
)";
const char* kDocsB = R"({"question": "Grass is", "label": 1}
{"question": "The sea is", "label": 2}
{"question": "Blood is", "label": 0}
)";

TEST(ReportBrowser, RealResultsDrawnInChromium) {
  if (sanitized()) GTEST_SKIP() << "browser check: release build only (ERANK_SANITIZED)";
  const fs::path d = fs::temp_directory_path() / "erank_report_browser";  // kept: report.png
  fs::remove_all(d);
  fs::create_directories(d / "tasks");
  const std::string erank = std::string(ERANK_BINARY) + " ";
  const std::vector<std::string> models{"gpt2", "llama_gqa_rope3", "smollm2_tied"};
  for (const auto& m : models) {
    fs::create_directories(d / "models" / m);
    for (const char* f : {"config.json", "model.safetensors"})
      fs::create_symlink(kSrc / "tests/fixtures/hf" / m / f, d / "models" / m / f);
    std::ofstream(d / "models" / m / "tokenizer.json") << byte_tokenizer();
  }
  const std::string texts = (kSrc / "tests/fixtures/diff_parity/texts.jsonl").string();
  const std::string data = " --data " + texts + " --limit 4 --max-tokens 32 --layers all ";
  std::vector<std::string> inputs;
  auto must = [&](const std::string& cmd) {
    const Result r = run_in(d, cmd);
    EXPECT_EQ(r.code, 0) << cmd << "\n" << r.err;
    return r.code == 0;
  };
  for (const auto& m : models) {
    const std::string out = (d / ("diff_" + m + ".json")).string();
    ASSERT_TRUE(
        must(erank + "diff -q -t 1 -m " + (d / "models" / m).string() + data + "--out " + out));
    inputs.push_back(out);
  }
  std::ofstream(d / "tasks/a.yaml") << kTaskA;
  std::ofstream(d / "tasks/b.yaml") << kTaskB;
  std::ofstream(d / "a.jsonl") << kDocsA;
  std::ofstream(d / "b.jsonl") << kDocsB;
  // Another model on other texts (two of them): its own comparison, and erank rank has no twin.
  ASSERT_TRUE(must(erank + "rank -q -t 1 -m " + (d / "models/gpt2").string() + " --data " + texts +
                   " --limit 2 --max-tokens 32 --layers all --out " + (d / "rank.json").string()));
  inputs.push_back((d / "rank.json").string());
  const std::string task_args =
      " --include-path " + (d / "tasks").string() + " --tasks tiny_yes_no,tiny_colour ";
  // The sweep (over the two tasks' items, with accuracy, and a model that fails to load), when
  // this erank has it; else the schema sample stands in for it.
  if (run_in(d, erank + "sweep --help").code == 0) {
    std::string list;
    for (const auto& m : models) list += (d / "models" / m).string() + ",";
    list += (d / "models/missing").string();
    ASSERT_TRUE(must(erank + "sweep -q -t 1 --models " + list + task_args +
                     "--with-accuracy --layers all --max-tokens 32 --task-data tiny_yes_no=" +
                     (d / "a.jsonl").string() +
                     " --task-data tiny_colour=" + (d / "b.jsonl").string() + " --work-dir " +
                     (d / "sweep.d").string() + " --out " + (d / "sweep.json").string()));
    inputs.push_back((d / "sweep.json").string());
  } else {
    inputs.push_back((kSrc / "tests/fixtures/report/sweep_sample.json").string());
  }
  ASSERT_TRUE(
      must(erank + "lens -t 1 -m " + (d / "models/gpt2").string() +
           " --text 'The capital of France is Paris.' --text 'Hello <b>world</b> & co' --out " +
           (d / "lens.json").string()));
  inputs.push_back((d / "lens.json").string());
  ASSERT_TRUE(must(erank + "probe -q -t 1 -m " + (d / "models/llama_gqa_rope3").string() +
                   " --limit 60 --control random --out " + (d / "probe.json").string()));
  inputs.push_back((d / "probe.json").string());
  ASSERT_TRUE(must(erank + "arena rate --quiet --bootstrap 20 --seed 1 --battles " +
                   (kSrc / "tests/fixtures/arena/battles.jsonl").string() + " --out " +
                   (d / "arena.json").string()));
  inputs.push_back((d / "arena.json").string());
  ASSERT_TRUE(must(erank + "eval -q -t 1 -m " + (d / "models/smollm2_tied").string() + task_args +
                   "--data tiny_yes_no=" + (d / "a.jsonl").string() + " --data tiny_colour=" +
                   (d / "b.jsonl").string() + " --output-path " + (d / "eval").string()));
  for (const auto& e : fs::recursive_directory_iterator(d / "eval"))
    if (e.path().filename().string().rfind("results_", 0) == 0) inputs.push_back(e.path().string());
  ASSERT_EQ(inputs.size(), models.size() + 6);

  std::string list;
  for (const auto& i : inputs) list += " " + i;
  ASSERT_TRUE(must(erank + "report" + list + " --out " + (d / "report.html").string()));
  const Result r =
      run_in(d, "python3 " + (kSrc / "tools/report_browser_check.py").string() + " --report " +
                    (d / "report.html").string() + " --out " + d.string() + list);
  if (r.code == 77) GTEST_SKIP() << "no chromium";
  EXPECT_EQ(r.code, 0) << r.out << "\n" << r.err;

  // The check is not vacuous: a page with one point fewer, or a plot of no size, fails it.
  const std::string html = slurp(d / "report.html");
  auto tampered = [&](const std::string& from, const std::string& to, const std::string& why) {
    std::string t = html;
    const size_t at = t.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    std::ofstream(d / "tampered.html") << t;
    const Result bad = run_in(d, "python3 " + (kSrc / "tools/report_browser_check.py").string() +
                                     " --report " + (d / "tampered.html").string() + " --out " +
                                     (d / "tampered").string() + list);
    EXPECT_EQ(bad.code, 1) << from;
    EXPECT_NE(bad.err.find(why), std::string::npos) << bad.err;
  };
  tampered("<circle class=\"mark\"", "<circle class=\"gone\"", "marks per series");
  tampered("<svg class=\"plot\"", "<svg style=\"display:none\" class=\"plot\"", "not drawn");
  tampered("data-plot=\"ratings\"", "data-plot=\"other\"", "plots ['other']");
  std::cout << "report " << (d / "report.html").string() << ", screenshot "
            << (d / "report.png").string() << "\n";
}

}  // namespace
