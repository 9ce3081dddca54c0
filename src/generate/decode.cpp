#include "generate/decode.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <span>

#include "backend/gemm_f32.h"
#include "core/error.h"
#include "generate/sampler.h"
#include "generate/stop_strings.h"
#include "models/collect_sink.h"
#include "models/kv_cache.h"
#include "models/memory_estimate.h"
#include "tokenizer/tokenizer.h"

namespace erank::gen {

struct Generator::Seq {
  size_t index = 0;
  int64_t slot = 0;
  std::vector<int32_t> ids;        // prompt + generated
  std::vector<int32_t> generated;  // new tokens only
  int32_t pending = -1;            // last generated token, not yet in the cache
  Rng rng{0};
  StopMatcher stop{{}};
  size_t cut = StopMatcher::npos;
  std::string finish;
};

namespace {

// Logits rows of a step (one per sequence) for the picks; every tap also goes to the observer
// and the contrast.
class StepSink : public TapSink {
 public:
  StepSink(TapSink* observer, TapSink* contrast) : observer_(observer), contrast_(contrast) {}
  bool wants(Tap t) const override {
    return t == Tap::logits || (observer_ && observer_->wants(t)) ||
           (contrast_ && contrast_->wants(t));
  }
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) override {
    if (observer_ && observer_->wants(t)) observer_->on_tap(t, index, x, seqs);
    if (contrast_ && contrast_->wants(t)) contrast_->on_tap(t, index, x, seqs);
    if (t == Tap::logits) logits = rows_of(x, 0, x.rows);
  }
  // An observer that rewrites a tap (steering) changes the step's forward.
  bool rewrites(Tap t, int index) const override {
    return observer_ && observer_->rewrites(t, index);
  }
  void rewrite(Tap t, int index, Act& x, const SeqLayout& seqs) override {
    observer_->rewrite(t, index, x, seqs);
  }
  Matrix logits;

 private:
  TapSink* observer_;
  TapSink* contrast_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int64_t default_context(const ModelConfig& c, const std::vector<std::vector<int32_t>>& prompts,
                        int64_t max_new_tokens) {
  int64_t longest = 0;
  for (auto& p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  int64_t ctx = longest + max_new_tokens;
  if (c.max_positions > 0) ctx = std::min(ctx, c.max_positions);
  return ctx;
}

void validate_prompts(const ModelConfig& c, const std::vector<std::vector<int32_t>>& prompts,
                      int64_t context) {
  const bool learned_pos = c.arch == "opt" || c.arch == "gpt2";
  if (learned_pos && context > c.max_positions)
    fail("--max-context {} exceeds the model's {} learned positions", context, c.max_positions);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t n = static_cast<int64_t>(prompts[i].size());
    if (n == 0) fail("prompt {} is empty: there is no token to continue from", i);
    if (n >= context)
      fail(
          "prompt {} has {} tokens: no room to generate in a context of {} tokens "
          "(--max-context, or the model's {} positions)",
          i, n, context, c.max_positions);
  }
}

// Weights kept in their file's type decode from their blocks: one sequence on the vectorised row
// dot products (gemv_stored), batches of up to gemm_stored_rows_max rows on the column
// dequantizers (as fast as packed f32 copies or faster, and no copy). Packed f32 copies (the
// decode cache) pay only for bigger batches or for types without those kernels (one sequence:
// Q2_K, Q3_K, Q5_K; a batch: those and bf16/f16), and then only for a model whose f32 copy takes
// at most a quarter of the free memory (a 7B Q4 model stays at its file's size).
// ERANK_DECODE_CACHE=on|off decides instead.
static bool decode_cache_wanted(const Model& m, int64_t batch) {
  if (const char* env = std::getenv("ERANK_DECODE_CACHE")) {
    const std::string v = env;
    if (v == "on" || v == "1") return true;
    if (v == "off" || v == "0") return false;
    fail("ERANK_DECODE_CACHE must be on or off, not '{}'", v);
  }
  bool slow_blocks = false;
  m.weights().for_each([&](const std::string&, const Weight& w) {
    if (w.stored() && !(batch == 1 ? bool(w.codec->dot_rows) : bool(w.codec->dequantize_columns)))
      slow_blocks = true;
  });
  if (!slow_blocks && batch <= gemm_stored_rows_max) return false;
  const auto avail = available_memory();
  return avail && double(m.n_params()) * 4.0 <= double(avail->bytes) / 4.0;
}

Generator::Generator(const Model& m, Backend& be, const Tokenizer& tok, GenOptions opt)
    : model_(m), be_(be), tok_(tok), opt_(std::move(opt)), chain_(make_chain(opt_.sampling)) {
  if (opt_.max_new_tokens < 1)
    fail("--max-new-tokens must be at least 1 (got {})", opt_.max_new_tokens);
  if (opt_.batch < 1) fail("--batch must be at least 1 (got {})", opt_.batch);
  if (opt_.max_context < 0) fail("--max-context must not be negative (got {})", opt_.max_context);
  StopMatcher check(opt_.stops);  // rejects empty stop strings up front
  be_.set_decode_cache(decode_cache_wanted(m, opt_.batch));
}

bool Generator::finished(Seq& s) {
  const int32_t t = s.pending;
  s.generated.push_back(t);
  s.ids.push_back(t);
  if (!opt_.ignore_eos && std::find(opt_.eos.begin(), opt_.eos.end(), t) != opt_.eos.end()) {
    s.finish = "eos";
    return true;
  }
  if (!opt_.stops.empty()) {
    const std::string text = tok_.decode(s.generated);
    s.cut = s.stop.find(std::string_view(text).substr(0, stable_prefix(text)));
    if (s.cut != StopMatcher::npos) {
      s.finish = "stop";
      return true;
    }
  }
  // Length: the budget is spent, or the pending token would not fit in the context.
  if (static_cast<int64_t>(s.generated.size()) >= opt_.max_new_tokens ||
      static_cast<int64_t>(s.ids.size()) >= context_) {
    s.finish = "length";
    return true;
  }
  return false;
}

void Generator::step(std::vector<Seq*>& seqs, bool prefill,
                     const std::vector<std::vector<int32_t>>& prompts) {
  std::vector<std::vector<int32_t>> feed;
  std::vector<int64_t> slots;
  int64_t tokens = 0;
  for (Seq* s : seqs) {
    if (prefill) {
      const auto& p = prompts[s->index];
      feed.emplace_back(p.begin() + prefix_len_, p.end());  // the shared start is in the slot
    } else {
      feed.push_back({s->pending});
    }
    slots.push_back(s->slot);
    tokens += static_cast<int64_t>(feed.back().size());
  }
  const auto t0 = std::chrono::steady_clock::now();
  StepSink sink(observer_, contrast_);
  model_.forward_step(be_, feed, slots, *cache_, sink, true);
  const size_t V = static_cast<size_t>(sink.logits.cols);
  for (size_t i = 0; i < seqs.size(); ++i) {
    Seq& s = *seqs[i];
    const std::span<float> row(sink.logits.v.data() + i * V, V);  // processed in place
    if (contrast_) contrast_->contrast(i, s.index, row);
    chain_.apply(s.ids, row);
    s.pending = pick_token(row, opt_.sampling.do_sample, s.rng);
  }
  const double dt = seconds_since(t0);
  (prefill ? stats_.prefill_s : stats_.decode_s) += dt;
  (prefill ? stats_.prefill_tokens : stats_.decode_tokens) += tokens;
  ++stats_.steps;
}

void Generator::run(const std::vector<std::vector<int32_t>>& prompts,
                    const std::function<void(size_t, GenResult&&)>& on_done,
                    const std::function<void(int64_t, int64_t)>& on_progress) {
  if (prompts.empty()) return;
  // One-row steps in dot-product order while this runs; the caller's setting comes back after.
  struct Decoding {
    Backend& be;
    bool prev = be.set_decoding(true);
    ~Decoding() { be.set_decoding(prev); }
  } decoding{be_};
  const ModelConfig& c = model_.config();
  context_ =
      opt_.max_context > 0 ? opt_.max_context : default_context(c, prompts, opt_.max_new_tokens);
  validate_prompts(c, prompts, context_);
  const int64_t slots = std::min<int64_t>(opt_.batch, static_cast<int64_t>(prompts.size()));
  // The longest common start of all prompts, leaving each at least one token of its own.
  prefix_len_ = 0;
  prefix_slot_ = -1;
  if (opt_.min_shared_prefix > 0 && prompts.size() > 1) {
    size_t n = prompts[0].size() - 1;
    for (const auto& p : prompts) {
      n = std::min(n, p.size() - 1);
      size_t k = 0;
      while (k < n && p[k] == prompts[0][k]) ++k;
      n = k;
    }
    if (static_cast<int64_t>(n) >= opt_.min_shared_prefix) prefix_len_ = static_cast<int64_t>(n);
  }
  cache_ = std::make_unique<KVCache>(c, be_, slots + (prefix_len_ ? 1 : 0), context_);
  cache_bytes_ = cache_->bytes();
  stats_ = {};
  stats_.prompts = static_cast<int64_t>(prompts.size());

  if (prefix_len_) {
    prefix_slot_ = slots;
    cache_->clear(prefix_slot_);
    StepSink sink(nullptr, nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    model_.forward_step(
        be_, {std::vector<int32_t>(prompts[0].begin(), prompts[0].begin() + prefix_len_)},
        {prefix_slot_}, *cache_, sink, true);
    stats_.prefill_s += seconds_since(t0);
    stats_.prefill_tokens += prefix_len_;
    stats_.shared_prefix = prefix_len_;
  }

  std::deque<size_t> pending;
  for (size_t i = 0; i < prompts.size(); ++i) pending.push_back(i);
  std::vector<int64_t> free_slots;
  for (int64_t s = slots - 1; s >= 0; --s) free_slots.push_back(s);
  std::vector<std::unique_ptr<Seq>> active;
  int64_t n_done = 0, n_tokens = 0;

  // Records the token just picked for each of `seqs`; finished sequences report and leave.
  auto settle = [&](std::vector<Seq*>& seqs) {
    for (Seq* s : seqs) {
      ++n_tokens;
      const bool done = finished(*s);
      if (on_token_) on_token_(s->index, s->generated);
      if (!done) continue;
      GenResult r;
      r.finish = s->finish;
      r.tokens = s->generated;
      std::vector<int32_t> text_ids = s->generated;
      if (r.finish == "eos") text_ids.pop_back();
      r.completion = tok_.decode(text_ids);
      if (r.finish != "stop") {  // held-back bytes may complete a stop string at the end
        const size_t cut = s->stop.find(r.completion);
        if (cut != StopMatcher::npos) {
          s->cut = cut;
          r.finish = "stop";
        }
      }
      if (s->cut != StopMatcher::npos) r.completion.resize(s->cut);
      free_slots.push_back(s->slot);
      ++n_done;
      on_done(s->index, std::move(r));
      s->finish = "done";
    }
    std::erase_if(active, [](auto& s) { return s->finish == "done"; });
  };

  while (!pending.empty() || !active.empty()) {
    std::vector<Seq*> admitted;
    while (!pending.empty() && !free_slots.empty()) {
      auto s = std::make_unique<Seq>();
      s->index = pending.front();
      pending.pop_front();
      s->slot = free_slots.back();
      free_slots.pop_back();
      if (prefix_len_)
        cache_->copy_slot(prefix_slot_, s->slot);
      else
        cache_->clear(s->slot);
      s->ids = prompts[s->index];
      const uint64_t sid = s->index < opt_.seed_ids.size() ? opt_.seed_ids[s->index] : s->index;
      s->rng = Rng(sequence_seed(opt_.sampling.seed, sid));
      s->stop = StopMatcher(opt_.stops);
      admitted.push_back(s.get());
      active.push_back(std::move(s));
    }
    if (!admitted.empty()) {
      step(admitted, true, prompts);
      settle(admitted);
    }
    std::vector<Seq*> decoding;
    for (auto& s : active) decoding.push_back(s.get());
    if (!decoding.empty()) {
      step(decoding, false, prompts);
      settle(decoding);
    }
    if (on_progress) on_progress(n_done, n_tokens);
  }
}

}  // namespace erank::gen
