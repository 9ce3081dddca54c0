// Cached decoding equals the full forward: for every architecture's tiny fixture, the logits (and
// a middle hidden state) of each cached step -- a batched prefill, one-token steps, a multi-token
// chunk after a cached past, sequences leaving and slots being reused -- match a full forward over
// the same prefix within 1e-5 relative, on both backends. Gemma 3's fixture (window 4) and a
// Mistral with a window of 5 check the ring of sliding-window layers on sequences far longer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "backend/backend.h"
#include "core/error.h"
#include "models/collect_sink.h"
#include "models/kv_cache.h"
#include "models/model.h"

using namespace erank;

namespace {

const std::string kFix = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/";

std::vector<int32_t> ids_for(int64_t n, int64_t vocab, uint32_t seed) {
  std::vector<int32_t> v;
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    v.push_back(static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(vocab)));
  }
  return v;
}

// max |a - ref| / max |ref| over rows [r0, r0 + a.rows) of ref.
double rel_err(const Matrix& a, const Matrix& ref, int64_t r0) {
  EXPECT_EQ(a.cols, ref.cols);
  double num = 0, den = 0;
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t c = 0; c < a.cols; ++c) {
      const double x = a.at(r, c), y = ref.at(r0 + r, c);
      num = std::max(num, std::fabs(x - y));
      den = std::max(den, std::fabs(y));
    }
  return den > 0 ? num / den : num;
}

// Runs a schedule of steps over three sequences (two slots, the third reuses the first freed
// slot) and compares every step with the full forward. Returns the worst error.
double check_model(const Model& m, const std::string& backend, const std::string& what) {
  auto be = make_backend(backend, 2);
  const auto& c = m.config();
  const int mid = static_cast<int>(c.n_layers / 2);
  std::vector<std::vector<int32_t>> seqs = {
      ids_for(37, c.vocab_size, 1), ids_for(13, c.vocab_size, 2), ids_for(21, c.vocab_size, 3)};
  CollectSink full({mid}, true);
  m.forward(*be, seqs, full);
  const std::vector<Matrix> full_logits = full.logits;
  const std::vector<Matrix> full_mid = full.hidden.at(mid);

  KVCache cache(c, *be, 2, 64);
  // Per sequence: chunk sizes fed in order (prompt first, then one-token steps, one chunk of 3).
  std::vector<std::vector<int64_t>> chunks(3);
  chunks[0] = {11, 1, 1, 3};
  while (std::accumulate(chunks[0].begin(), chunks[0].end(), int64_t(0)) < 37)
    chunks[0].push_back(1);
  chunks[1] = {5};
  while (std::accumulate(chunks[1].begin(), chunks[1].end(), int64_t(0)) < 13)
    chunks[1].push_back(1);
  chunks[2] = {8};
  while (std::accumulate(chunks[2].begin(), chunks[2].end(), int64_t(0)) < 21)
    chunks[2].push_back(1);
  std::vector<size_t> next(3, 0);
  std::vector<int64_t> done(3, 0), slot_of = {1, 0, -1};
  double worst = 0;
  for (int step = 0; step < 200; ++step) {
    std::vector<std::vector<int32_t>> step_ids;
    std::vector<int64_t> slots, which;
    for (int s = 0; s < 3; ++s) {
      if (slot_of[s] < 0 || next[s] >= chunks[s].size()) continue;
      const int64_t n = chunks[s][next[s]];
      step_ids.emplace_back(seqs[s].begin() + done[s], seqs[s].begin() + done[s] + n);
      slots.push_back(slot_of[s]);
      which.push_back(s);
    }
    if (step_ids.empty()) break;
    CollectSink sink({mid}, true);
    const bool last_only = step % 2 == 1;  // both ways of taking logits
    m.forward_step(*be, step_ids, slots, cache, sink, last_only);
    for (size_t i = 0; i < which.size(); ++i) {
      const int s = static_cast<int>(which[i]);
      const int64_t n = static_cast<int64_t>(step_ids[i].size());
      const int64_t r0 = last_only ? done[s] + n - 1 : done[s];
      const double e = rel_err(sink.logits[i], full_logits[size_t(s)], r0);
      const double eh = rel_err(sink.hidden.at(mid)[i], full_mid[size_t(s)], done[s]);
      EXPECT_LE(e, 1e-5) << what << " " << backend << " seq " << s << " at " << done[s];
      EXPECT_LE(eh, 1e-5) << what << " " << backend << " hidden seq " << s << " at " << done[s];
      worst = std::max({worst, e, eh});
      done[s] += n;
      if (++next[s] == chunks[s].size()) {  // finished: its slot goes to the waiting sequence
        if (slot_of[2] < 0 && s != 2) {
          slot_of[2] = slot_of[s];
          cache.clear(slot_of[2]);
        }
        slot_of[s] = -1;
      }
    }
  }
  EXPECT_EQ(done, (std::vector<int64_t>{37, 13, 21})) << what;
  return worst;
}

std::vector<std::string> fixtures() {
  std::vector<std::string> v;
  for (auto& e : std::filesystem::directory_iterator(kFix + "hf")) v.push_back(e.path());
  for (auto& e : std::filesystem::directory_iterator(kFix + "gguf_model"))
    if (e.path().extension() == ".gguf") v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST(KVCache, EveryFixtureDecodesAsTheFullForward) {
  int n = 0;
  for (const auto& path : fixtures()) {
    auto m = load_model(path);
    for (const char* be : {"cpu", "reference"}) {
      const double w = check_model(*m, be, path);
      std::printf("%-60s %-9s worst rel err %.2e\n", std::filesystem::path(path).filename().c_str(),
                  be, w);
    }
    ++n;
  }
  EXPECT_GE(n, 13);
}

TEST(KVCache, SlidingWindowShorterThanTheSequence) {
  // Mistral with a window of 5: every layer keeps a ring of 5 rows.
  auto base = load_model(kFix + "hf/mistral");
  ModelConfig c = base->config();
  c.sliding_window = 5;
  Model m(c, base->arch(), base->weights(), base->report());
  auto be = make_backend("cpu", 2);
  KVCache cache(c, *be, 2, 64);
  EXPECT_TRUE(cache.layer(0).ring);
  EXPECT_EQ(cache.layer(0).cap, 5);
  for (const char* b : {"cpu", "reference"}) check_model(m, b, "mistral window 5");
  // Gemma 3's fixture: sliding layers (window 4) ring, global layers keep the whole context.
  auto g = load_model(kFix + "hf/gemma3");
  KVCache gc(g->config(), *be, 1, 64);
  int rings = 0;
  for (int64_t i = 0; i < g->config().n_layers; ++i) rings += gc.layer(i).ring;
  EXPECT_GT(rings, 0);
  EXPECT_LT(rings, g->config().n_layers);
}

TEST(KVCache, BytesAndBounds) {
  auto m = load_model(kFix + "hf/llama_gqa_rope3");
  const auto& c = m->config();
  auto be = make_backend("cpu", 1);
  KVCache cache(c, *be, 3, 40);
  EXPECT_EQ(cache.bytes(), size_t(2 * c.n_layers * 3 * 40 * c.n_kv_heads * c.head_dim * 4));
  EXPECT_EQ(KVCache::bytes_for(c, 3, 40, Precision::f32), cache.bytes());
  CollectSink sink({}, true);
  // A sequence that would run past the context is refused before anything is computed.
  EXPECT_THROW(m->forward_step(*be, {ids_for(41, c.vocab_size, 4)}, {0}, cache, sink), Error);
  EXPECT_EQ(cache.length(0), 0);
  m->forward_step(*be, {ids_for(40, c.vocab_size, 4)}, {0}, cache, sink);
  EXPECT_EQ(cache.length(0), 40);
  EXPECT_THROW(m->forward_step(*be, {{1}}, {0}, cache, sink), Error);
  EXPECT_THROW(m->forward_step(*be, {{1}, {2}}, {1, 1}, cache, sink), Error);  // slot twice
}

TEST(KVCache, ReadOnlyStepsAndCopiedSlots) {
  // A context in slot 0, copied to slot 1; then in one step two read-only continuations on slot 0
  // (the same slot twice), one on slot 1, and slot 1 growing is refused alongside. Logits of
  // chosen rows equal the full forward's; read-only slots keep their length. Gemma 3's fixture
  // (window 4) runs it on rings, with a context longer than the window.
  for (const char* name : {"hf/llama_gqa_rope3", "hf/gemma3"}) {
    auto m = load_model(kFix + name);
    const auto& c = m->config();
    for (const char* b : {"cpu", "reference"}) {
      auto be = make_backend(b, 2);
      const auto ctx = ids_for(11, c.vocab_size, 5);
      const std::vector<std::vector<int32_t>> conts = {
          ids_for(3, c.vocab_size, 6), ids_for(1, c.vocab_size, 7), ids_for(4, c.vocab_size, 8)};
      KVCache cache(c, *be, 3, 32);
      CollectSink pre({}, false);
      m->forward_step(*be, {ctx}, {0}, cache, pre);
      cache.copy_slot(0, 1);
      EXPECT_EQ(cache.length(1), 11);
      StepOptions opt{.logit_rows = {0, 2, 3, 4, 7}, .read_only = {true, true, true}};
      CollectSink sink({}, true);
      m->forward_step(*be, conts, {0, 0, 1}, cache, sink, opt);
      EXPECT_EQ(cache.length(0), 11);
      EXPECT_EQ(cache.length(1), 11);
      ASSERT_EQ(sink.logits.size(), opt.logit_rows.size());
      // Step row -> (continuation, row within it).
      const std::vector<std::pair<int, int64_t>> at = {{0, 0}, {0, 2}, {1, 0}, {2, 0}, {2, 3}};
      for (size_t i = 0; i < at.size(); ++i) {
        auto seq = ctx;
        const auto& cont = conts[size_t(at[i].first)];
        seq.insert(seq.end(), cont.begin(), cont.end());
        CollectSink full({}, true);
        m->forward(*be, {seq}, full);
        EXPECT_LE(rel_err(sink.logits[i], full.logits[0], 11 + at[i].second), 1e-5)
            << name << " " << b << " row " << opt.logit_rows[i];
      }
      // A slot read and extended in one step is refused.
      opt = {.logit_rows = {}, .read_only = {true, false}};
      EXPECT_THROW(m->forward_step(*be, {conts[0], conts[1]}, {1, 1}, cache, sink, opt), Error);
    }
  }
}
