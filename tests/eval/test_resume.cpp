// A run killed halfway and continued with --resume gives exactly the uninterrupted results.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

const fs::path kGguf = fs::path(ERANK_SOURCE_DIR) / "models/smollm2-135m.gguf";
const fs::path kTexts = fs::path(ERANK_SOURCE_DIR) / "tests/fixtures/diff_parity/texts.jsonl";

std::string args(const fs::path& per_text, const fs::path& out) {
  return std::string(ERANK_BINARY) + " diff -q --model " + kGguf.string() + " --data " +
         kTexts.string() + " --limit 6 --max-tokens 40 --layers 0,15,-1 --twins 2 --per-text " +
         per_text.string() + " --out " + out.string() + " >/dev/null 2>&1";
}

nlohmann::json results(const fs::path& p) {
  std::ifstream f(p);
  auto j = nlohmann::json::parse(f);
  return {{"per_layer", j["per_layer"]}, {"loss", j["loss"]}, {"dataset", j["dataset"]}};
}

size_t lines(const fs::path& p) {
  std::ifstream f(p);
  return static_cast<size_t>(std::count(std::istreambuf_iterator<char>(f), {}, '\n'));
}

TEST(Resume, KilledRunContinuesToTheSameResults) {
  if (!fs::exists(kGguf)) GTEST_SKIP() << "embedded model not installed";
  const fs::path tmp = fs::temp_directory_path() / ("erank_resume_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  // Uninterrupted reference run.
  ASSERT_EQ(std::system(args(tmp / "full.jsonl", tmp / "full.json").c_str()), 0);

  // A run killed (SIGKILL) after its third text, then resumed.
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + args(tmp / "part.jsonl", tmp / "part.json")).c_str(),
          nullptr);
    _exit(127);
  }
  for (int i = 0; i < 6000 && lines(tmp / "part.jsonl") < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_FALSE(fs::exists(tmp / "part.json")) << "results written by a killed run";
  // Tear the last line as a kill during a write would.
  { std::ofstream(tmp / "part.jsonl", std::ios::app) << R"({"index": 5, "id": "tor)"; }
  // Without --resume an existing per-text file is refused (nothing is overwritten).
  EXPECT_NE(std::system(args(tmp / "part.jsonl", tmp / "part.json").c_str()), 0);
  const std::string resume = args(tmp / "part.jsonl", tmp / "part.json");
  const std::string with_flag =
      resume.substr(0, resume.find(" >/dev/null")) + " --resume >/dev/null 2>&1";
  ASSERT_EQ(std::system(with_flag.c_str()), 0);
  EXPECT_EQ(results(tmp / "full.json"), results(tmp / "part.json"));
  EXPECT_EQ(lines(tmp / "part.jsonl"), lines(tmp / "full.jsonl"));
  fs::remove_all(tmp);
}

}  // namespace
