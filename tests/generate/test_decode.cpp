// The decode loop on the tiny fixtures: every greedy token is the argmax of a full (uncached)
// forward over the prompt and the tokens before it; results do not depend on the batch size or on
// the thread count; sampling is reproducible from the seed; each finish reason; taps fire while
// decoding. The SmolLM2 tokenizer decodes the fixtures' 256 ids (its byte tokens).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "backend/backend.h"
#include "core/error.h"
#include "generate/decode.h"
#include "io/gguf.h"
#include "models/collect_sink.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

using namespace erank;
using namespace erank::gen;

namespace {

const std::string kSrc = ERANK_SOURCE_DIR;

const Tokenizer& smol_tokenizer() {
  static std::unique_ptr<Tokenizer> t = [] {
    GGUFFile f(kSrc + "/models/smollm2-135m.gguf");
    return Tokenizer::from_gguf(f);
  }();
  return *t;
}

std::vector<std::vector<int32_t>> prompts_for(int64_t vocab) {
  std::vector<std::vector<int32_t>> p;
  uint32_t x = 7;
  for (int64_t len : {9, 3, 17, 1, 6, 12, 2}) {
    std::vector<int32_t> v;
    for (int64_t i = 0; i < len; ++i) {
      x = x * 1664525u + 1013904223u;
      v.push_back(static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(vocab)));
    }
    p.push_back(v);
  }
  return p;
}

std::map<size_t, GenResult> generate(const Model& m, const std::string& backend, int threads,
                                     const GenOptions& o,
                                     const std::vector<std::vector<int32_t>>& prompts,
                                     TapSink* observer = nullptr) {
  auto be = make_backend(backend, threads);
  Generator g(m, *be, smol_tokenizer(), o);
  g.set_observer(observer);
  std::map<size_t, GenResult> out;
  g.run(prompts, [&](size_t i, GenResult&& r) { out[i] = std::move(r); });
  EXPECT_EQ(out.size(), prompts.size());
  return out;
}

class Decode : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kSrc + "/models/smollm2-135m.gguf"))
      GTEST_SKIP() << "models/smollm2-135m.gguf missing (bash scripts/install.sh)";
    model = load_model(kSrc + "/tests/fixtures/hf/" + GetParam());
  }
  std::unique_ptr<Model> model;
};

TEST_P(Decode, GreedyIsTheArgmaxOfTheFullForward) {
  const auto prompts = prompts_for(model->config().vocab_size);
  GenOptions o;
  o.max_new_tokens = 10;
  o.batch = 3;
  o.ignore_eos = true;
  const auto res = generate(*model, "cpu", 2, o, prompts);
  auto be = make_backend("cpu", 2);
  int checked = 0, near_ties = 0;
  for (auto& [i, r] : res) {
    ASSERT_EQ(r.tokens.size(), 10u);
    EXPECT_EQ(r.finish, "length");
    std::vector<int32_t> seq = prompts[i];
    for (int32_t t : r.tokens) {
      CollectSink sink({}, true);
      model->forward(*be, {seq}, sink);
      const Matrix& lg = sink.logits[0];
      const int64_t last = lg.rows - 1;
      int32_t best = 0;
      for (int64_t v = 1; v < lg.cols; ++v)
        if (lg.at(last, v) > lg.at(last, best)) best = static_cast<int32_t>(v);
      if (t != best) {  // allowed only where the two are within float noise of each other
        EXPECT_LT(std::fabs(lg.at(last, best) - lg.at(last, t)), 1e-4f) << GetParam();
        ++near_ties;
      }
      seq.push_back(t);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 70);
  EXPECT_LE(near_ties, 1);
}

TEST_P(Decode, BatchAndThreadsDoNotChangeTheTokens) {
  const auto prompts = prompts_for(model->config().vocab_size);
  GenOptions o;
  o.max_new_tokens = 8;
  o.ignore_eos = true;
  o.batch = 1;
  const auto one = generate(*model, "cpu", 1, o, prompts);
  for (int64_t b : {2, 4, 7}) {
    o.batch = b;
    const auto many = generate(*model, "cpu", 2, o, prompts);
    for (auto& [i, r] : one) EXPECT_EQ(many.at(i).tokens, r.tokens) << "batch " << b << " #" << i;
  }
}

TEST_P(Decode, SamplingIsReproducibleFromTheSeed) {
  const auto prompts = prompts_for(model->config().vocab_size);
  GenOptions o;
  o.max_new_tokens = 8;
  o.ignore_eos = true;
  o.sampling.do_sample = true;
  o.sampling.temperature = 1.5;
  o.sampling.top_k = 50;
  o.sampling.seed = 11;
  o.batch = 1;
  const auto a = generate(*model, "cpu", 1, o, prompts);
  o.batch = 4;
  const auto b = generate(*model, "cpu", 2, o, prompts);
  for (auto& [i, r] : a) EXPECT_EQ(b.at(i).tokens, r.tokens) << "#" << i;
  o.sampling.seed = 12;
  const auto c = generate(*model, "cpu", 2, o, prompts);
  int same = 0;
  for (auto& [i, r] : a) same += c.at(i).tokens == r.tokens;
  EXPECT_LT(same, static_cast<int>(prompts.size()));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Decode,
                         ::testing::Values("llama_gqa_rope3", "gemma3", "gpt2", "opt_preln",
                                           "neox_partial", "mistral"));

class Finish : public Decode {};

TEST_P(Finish, EosStopLengthAndTaps) {
  const auto prompts = prompts_for(model->config().vocab_size);
  GenOptions o;
  o.max_new_tokens = 12;
  o.ignore_eos = true;
  o.batch = 3;
  const auto base = generate(*model, "cpu", 2, o, prompts);
  // EOS: the first greedy token of a new value after the start (or the first) becomes the end.
  const auto& t0 = base.at(0).tokens;
  size_t k = 3;
  while (k < t0.size() && std::find(t0.begin(), t0.begin() + k, t0[k]) != t0.begin() + k) ++k;
  if (k == t0.size()) k = 0;
  const int32_t eos = t0[k];
  o.ignore_eos = false;
  o.eos = {eos};
  const auto e = generate(*model, "cpu", 2, o, prompts);
  for (auto& [i, r] : e) {
    const auto& full = base.at(i).tokens;
    const auto it = std::find(full.begin(), full.end(), eos);
    if (it == full.end()) {
      EXPECT_EQ(r.finish, "length");
      EXPECT_EQ(r.tokens, full);
    } else {
      EXPECT_EQ(r.finish, "eos");
      EXPECT_EQ(r.tokens, std::vector<int32_t>(full.begin(), it + 1));
      EXPECT_EQ(r.completion, smol_tokenizer().decode(std::vector<int32_t>(full.begin(), it)));
    }
  }
  EXPECT_EQ(e.at(0).tokens.size(), k + 1);
  // Stop string: two bytes of prompt 2's completion that span a token boundary.
  const auto& t2 = base.at(2).tokens;
  const std::string head =
      smol_tokenizer().decode(std::vector<int32_t>(t2.begin(), t2.begin() + 5));
  const std::string text = base.at(2).completion;
  const std::string stop = text.substr(head.size() - 1, 2);
  o.eos = {};
  o.stops = {stop};
  const auto s = generate(*model, "cpu", 2, o, prompts);
  for (auto& [i, r] : s) {
    const std::string& full = base.at(i).completion;
    const size_t at = full.find(stop);
    EXPECT_EQ(r.completion, full.substr(0, at)) << "#" << i;
    EXPECT_EQ(r.finish, at == std::string::npos ? "length" : "stop") << "#" << i;
  }
  EXPECT_EQ(s.at(2).finish, "stop");
  // The token completing the stop ends it, or a few more while a partial character is held.
  EXPECT_LE(s.at(2).tokens.size(), 9u);
  // Context: 14 tokens per sequence leave 5 for the 9-token prompt.
  o.stops = {};
  o.max_context = 14;
  const auto c = generate(*model, "cpu", 2, o, {prompts[0]});
  EXPECT_EQ(c.at(0).finish, "length");
  EXPECT_EQ(c.at(0).tokens.size(), 5u);
  EXPECT_EQ(c.at(0).tokens,
            std::vector<int32_t>(base.at(0).tokens.begin(), base.at(0).tokens.begin() + 5));
  // Taps: every step reports every hidden state (n_layers + 1) to the observer.
  struct Count : TapSink {
    int64_t hidden = 0, rows = 0;
    void on_tap(Tap t, int, const Act& x, const SeqLayout&) override {
      if (t == Tap::hidden) ++hidden, rows += x.rows;
    }
  } count;
  o.max_context = 0;
  o.batch = 1;
  o.max_new_tokens = 4;
  generate(*model, "cpu", 1, o, {prompts[0]}, &count);
  // One prefill and three one-token steps; the fourth token ends the run without a forward.
  const int64_t L = model->config().n_layers + 1;
  EXPECT_EQ(count.hidden, 4 * L);
  EXPECT_EQ(count.rows, (9 + 3) * L);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Finish, ::testing::Values("llama_gqa_rope3", "gemma3"));

TEST(DecodeErrors, BadOptionsAndPrompts) {
  auto m = load_model(kSrc + "/tests/fixtures/hf/gpt2");
  auto be = make_backend("cpu", 1);
  GenOptions o;
  o.max_new_tokens = 0;
  EXPECT_THROW(Generator(*m, *be, smol_tokenizer(), o), Error);
  o.max_new_tokens = 4;
  o.stops = {""};
  EXPECT_THROW(Generator(*m, *be, smol_tokenizer(), o), Error);
  o.stops = {};
  Generator g(*m, *be, smol_tokenizer(), o);
  auto none = [](size_t, GenResult&&) { FAIL() << "nothing may finish"; };
  EXPECT_THROW(g.run({{1, 2}, {}}, none), Error);  // empty prompt
  std::vector<int32_t> longp(m->config().max_positions, 5);
  EXPECT_THROW(g.run({longp}, none), Error);  // fills the learned positions: no room
}

}  // namespace
