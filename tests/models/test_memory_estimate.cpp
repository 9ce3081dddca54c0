// The memory estimate against the measured peak RSS (getrusage of the child) of real `erank loss`
// and `erank rank` runs on SmolLM2, and the refusal of a run that will not fit. Skipped when the
// model file is absent.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/kv_cache.h"
#include "models/memory_estimate.h"
#include "models/model.h"

namespace fs = std::filesystem;

namespace {

const fs::path kSrc = ERANK_SOURCE_DIR;
const std::string kModel = (kSrc / "models/smollm2-135m.gguf").string();

struct Child {
  int status = -1;
  long max_rss_kb = 0;
  std::string err;
};

// Runs the erank binary with `args` (and extra environment), returns exit status and peak RSS.
Child run_erank(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  const fs::path err_path = fs::temp_directory_path() / ("erank_mem_" + std::to_string(getpid()));
  Child c;
  const pid_t pid = fork();
  if (pid == 0) {
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    FILE* f = std::freopen(err_path.c_str(), "w", stderr);
    FILE* o = std::freopen("/dev/null", "w", stdout);
    (void)f, (void)o;
    std::vector<char*> argv = {const_cast<char*>(ERANK_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(ERANK_BINARY, argv.data());
    _exit(127);
  }
  struct rusage ru {};
  wait4(pid, &c.status, 0, &ru);
  c.max_rss_kb = ru.ru_maxrss;
  std::ifstream in(err_path);
  std::stringstream ss;
  ss << in.rdbuf();
  c.err = ss.str();
  fs::remove(err_path);
  return c;
}

erank::MemoryEstimate estimate(const erank::MemoryPlan& plan) {
  const erank::ModelSource src = erank::resolve_model_source(kModel);
  const erank::Architecture* arch = nullptr;
  const erank::ModelConfig cfg = erank::load_config(src, &arch);
  return erank::estimate_memory(src, cfg, *arch, plan);
}

TEST(MemoryEstimate, ComponentsFollowTheirDefinitions) {
  if (!fs::exists(kModel)) GTEST_SKIP() << kModel << " absent";
  const erank::ModelSource src = erank::resolve_model_source(kModel);
  const erank::Architecture* arch = nullptr;
  const erank::ModelConfig cfg = erank::load_config(src, &arch);
  const auto e = erank::estimate_memory(
      src, cfg, *arch,
      {.batch_tokens = 1000, .twins = 1, .kv_slots = 2, .kv_context = 300, .threads = 1});
  // The loss's logits come 256 rows at a time, a last block of up to 320 rows.
  EXPECT_EQ(e.logits_bytes, size_t(320) * size_t(cfg.vocab_size) * 4);
  EXPECT_EQ(estimate({.batch_tokens = 200}).logits_bytes, size_t(200) * size_t(cfg.vocab_size) * 4);
  EXPECT_EQ(e.kv_bytes, erank::KVCache::bytes_for(cfg, 2, 300, erank::Precision::f32));
  const auto m = erank::load_model(src);  // the twin: one f32 per distinct parameter
  EXPECT_EQ(e.twin_bytes, size_t(m->n_params()) * 4);
  EXPECT_EQ(e.total_bytes, e.base_bytes + std::max(e.weights_bytes, e.twin_bytes) + e.kv_bytes +
                               e.activation_bytes + e.logits_bytes);
}

// One run per command; the estimate for its plan (2048-token batches, 2 threads) must be within
// 15% of the peak RSS the kernel measured.
void expect_close(const std::string& command, bool logits) {
  if (!fs::exists(kModel)) GTEST_SKIP() << kModel << " absent";
  // ASan's shadow memory and redzones are in the RSS: only the release build measures.
  if (std::getenv("ERANK_SANITIZED")) GTEST_SKIP() << "release build only";
  const fs::path out = fs::temp_directory_path() / ("erank_mem_" + command + ".json");
  const Child c = run_erank({command, "-m", kModel, "--dataset", "boolq", "--limit", "24",
                             "--batch-tokens", "2048", "-t", "2", "-q", "--out", out.string()});
  ASSERT_EQ(c.status, 0) << c.err;
  fs::remove(out);
  const auto e = estimate({.batch_tokens = 2048, .logits = logits, .threads = 2});
  const double measured = double(c.max_rss_kb) * 1024, est = double(e.total_bytes);
  ::testing::Test::RecordProperty("measured_mib", int(measured / 1048576));
  ::testing::Test::RecordProperty("estimate_mib", int(est / 1048576));
  std::printf("%s: estimate %.0f MiB, measured peak RSS %.0f MiB (%+.1f%%)\n", command.c_str(),
              est / 1048576, measured / 1048576, 100 * (est / measured - 1));
  EXPECT_NEAR(est / measured, 1.0, 0.15)
      << command << ": estimate " << est / 1048576 << " MiB, measured peak RSS "
      << measured / 1048576 << " MiB";
}

TEST(MemoryEstimate, LossRunWithin15PercentOfPeakRss) {
  expect_close("loss", true);
}

TEST(MemoryEstimate, RankRunWithin15PercentOfPeakRss) {
  expect_close("rank", false);
}

TEST(MemoryEstimate, RunThatWillNotFitIsRefused) {
  if (!fs::exists(kModel)) GTEST_SKIP() << kModel << " absent";
  const fs::path out = fs::temp_directory_path() / "erank_mem_refused.json";
  fs::remove(out);
  const Child c = run_erank(
      {"loss", "-m", kModel, "--dataset", "boolq", "--limit", "4", "-q", "--out", out.string()},
      {"ERANK_MEMORY_LIMIT_BYTES=200000000"});
  EXPECT_TRUE(WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0) << c.status;
  EXPECT_NE(c.err.find("erank loss: needs about"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("available (ERANK_MEMORY_LIMIT_BYTES)"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("ERANK_NO_MEMORY_CHECK=1"), std::string::npos) << c.err;
  EXPECT_FALSE(fs::exists(out));

  // The override runs it anyway (rank: no logits, quick).
  const Child ok = run_erank(
      {"rank", "-m", kModel, "--dataset", "boolq", "--limit", "2", "-q", "--out", out.string()},
      {"ERANK_MEMORY_LIMIT_BYTES=1000", "ERANK_NO_MEMORY_CHECK=1"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_TRUE(fs::exists(out));
  fs::remove(out);
}

TEST(MemoryEstimate, GenerateRefusesAContextThatWillNotFit) {
  if (!fs::exists(kModel)) GTEST_SKIP() << kModel << " absent";
  const Child c = run_erank({"generate", "-m", kModel, "-p", "Hello", "--max-new-tokens", "2",
                             "--max-context", "8000", "-q"},
                            {"ERANK_MEMORY_LIMIT_BYTES=300000000"});
  EXPECT_TRUE(WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0) << c.status;
  EXPECT_NE(c.err.find("erank generate: needs about"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("--max-context"), std::string::npos) << c.err;
}

}  // namespace
