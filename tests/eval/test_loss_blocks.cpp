// The loss takes the logits in blocks of 256 rows (eval/text_metrics.cpp) instead of one
// [rows, vocab] tensor: every text's loss must be bitwise the one computed from the whole logits
// tensor (CollectSink) by text_loss, for texts that straddle block boundaries, a remainder that
// joins the last block, a one-token text, the cpu and the reference backend, and f32 and stored
// (GGUF-like bf16) heads.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "eval/text_metrics.h"
#include "metrics/loss.h"
#include "models/collect_sink.h"
#include "models/model.h"

namespace fs = std::filesystem;
using namespace erank;

namespace {

void expect_blocked_equals_whole(const std::string& fixture, const std::string& backend) {
  auto model = load_model(fixture);
  auto be = make_backend(backend, 2);
  std::mt19937 rng(3);
  const int64_t V = model->config().vocab_size;
  // 700 rows in all: blocks [0, 256), [256, 512), [512, 700) (the last 188 rows are a block of
  // their own); 560 rows: [0, 256), [256, 560) (a 48-row remainder joins the block before);
  // 123 rows: one tensor, as before.
  for (const std::vector<int64_t>& lens :
       {std::vector<int64_t>{300, 1, 250, 149}, std::vector<int64_t>{255, 2, 303},
        std::vector<int64_t>{120, 3}}) {
    std::vector<std::vector<int32_t>> seqs;
    for (int64_t n : lens) {
      std::vector<int32_t> ids(static_cast<size_t>(n), 0);
      for (auto& id : ids) id = int32_t(rng() % uint32_t(V));
      seqs.push_back(ids);
    }
    const auto blocked = evaluate_batch(*model, *be, seqs, {}, true);
    CollectSink whole({}, true);
    model->forward(*be, seqs, whole);
    ASSERT_EQ(blocked.size(), seqs.size());
    for (size_t s = 0; s < seqs.size(); ++s) {
      const Matrix& z = whole.logits[s];
      const TextLoss want = text_loss(z.v.data(), z.rows, z.cols, seqs[s]);
      EXPECT_EQ(blocked[s].loss.n_tokens, want.n_tokens) << fixture << " text " << s;
      EXPECT_EQ(std::memcmp(&blocked[s].loss.sum, &want.sum, sizeof(double)), 0)
          << fixture << " " << backend << " text " << s << ": " << blocked[s].loss.sum << " vs "
          << want.sum;
    }
  }
}

TEST(LossBlocks, EqualTheLossOfTheWholeLogitsTensor) {
  for (const char* f : {"smollm2_tied", "gemma3", "llama_gqa_rope3-bf16", "mistral"})
    for (const char* b : {"cpu", "reference"})
      expect_blocked_equals_whole((fs::path(ERANK_SOURCE_DIR) / "tests/fixtures/hf" / f).string(),
                                  b);
}

// SmolLM2's real head expanded to f32 (ERANK_WEIGHTS=f32): 49152 x 576 values, which the cpu
// backend multiplies in OpenBLAS tiles of 256 rows, the case the block boundaries follow.
TEST(LossBlocks, RealHeadInF32Tiles) {
  const fs::path gguf = fs::path(ERANK_SOURCE_DIR) / "models/smollm2-135m.gguf";
  if (!fs::exists(gguf)) GTEST_SKIP() << "embedded model not installed (scripts/install.sh)";
  if (std::getenv("ERANK_SANITIZED")) GTEST_SKIP() << "135M forwards under a sanitizer";
  setenv("ERANK_WEIGHTS", "f32", 1);
  expect_blocked_equals_whole(gguf.string(), "cpu");
  unsetenv("ERANK_WEIGHTS");
}

}  // namespace
