// The loglikelihood scorer. Each request is fed as lm-eval feeds it, input = (ctx + cont)[-(L+1):]
// [:-1], but split in three parts computed in different forwards on a KV cache slot:
//   prefix  ctx[:cut]     the longest common prefix with the request's hint, computed once per
//                         (hint, cut) in its own slot and copied into each context's slot;
//   middle  ctx[cut:]     once per distinct (ctx, cut); its last row scores cont[0];
//   tail    cont[:-1]     once per distinct tail of a context, read-only on the context's slot
//                         (the slot is not extended, so tails of one context share it, even in
//                         one forward); its rows score cont[1:].
// The split depends only on the request and its hint, and every op computes a sequence's rows
// independently of the other sequences of a forward (cpu: the backend set batch-invariant, and the
// LM head in 64-row chunks, so every product sums a row in a fixed order), so results do not
// depend on the batch or the thread count.
#include "tasks/loglikelihood.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "generate/dola.h"
#include "models/kv_cache.h"
#include "models/model.h"

namespace erank {

namespace {

using Tokens = std::span<const int32_t>;

uint64_t hash_tokens(Tokens t, uint64_t h = 1469598103934665603ull) {
  for (int32_t v : t) h = (h ^ static_cast<uint32_t>(v)) * 1099511628211ull;
  return h;
}

// A prefix shorter than this is computed with its context: a separate step and a copy of its
// keys and values would cost more than the tokens saved.
constexpr int64_t kMinPrefix = 8;
// Logits kept per forward (rows x vocabulary); a single longer tail still runs, alone.
constexpr int64_t kLogitBytes = int64_t(256) << 20;

struct Prefix {
  Tokens ids;
  int64_t slot = -1;  // while computed and until its last context takes it over
  int64_t users = 0;  // contexts still to start from it
  bool ready = false;
};

struct Tail {
  Tokens ids;  // cont[:-1] of its requests
  std::vector<size_t> reqs;
};

struct Group {
  Tokens ctx;       // the context as fed (after lm-eval's left truncation)
  int64_t cut = 0;  // ctx[:cut] comes from prefix `prefix`
  int64_t prefix = -1;
  std::vector<size_t> reqs;  // cont[0] of each is scored by ctx's last row
  std::vector<Tail> tails;
  int64_t slot = -1;
  size_t next_tail = 0, tails_left = 0;
};

struct Plan {
  std::vector<Prefix> prefixes;
  std::vector<Group> groups;
  int64_t max_context = 0;  // longest input
};

// A logit row of a step and what it scores: (request, token) pairs.
using Jobs = std::vector<std::pair<size_t, int32_t>>;

int64_t common_prefix(Tokens a, Tokens b) {
  const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return ia - a.begin();
}

Plan make_plan(std::span<const LLRequest> reqs, const LLOptions& opt) {
  Plan plan;
  // Hints are told apart by content; a prefix is (hint, cut); a group is (context, cut).
  std::unordered_map<uint64_t, std::vector<int64_t>> hint_by_hash;
  std::vector<Tokens> hints;
  std::map<std::pair<int64_t, int64_t>, int64_t> prefix_of;
  std::unordered_map<uint64_t, std::vector<int64_t>> group_by_hash;
  std::map<std::pair<int64_t, std::vector<int32_t>>, size_t> tail_of;  // (group, tail) -> index
  for (size_t i = 0; i < reqs.size(); ++i) {
    const LLRequest& r = reqs[i];
    const int64_t nc = static_cast<int64_t>(r.continuation.size());
    if (r.context.empty())
      fail("loglikelihood request {}: empty context (lm-eval puts the EOT token there)", i);
    if (nc == 0) fail("loglikelihood request {}: empty continuation", i);
    if (nc > opt.max_length)
      fail("loglikelihood request {}: continuation of {} tokens exceeds max_length {}", i, nc,
           opt.max_length);
    const int64_t keep = std::min(static_cast<int64_t>(r.context.size()), opt.max_length + 1 - nc);
    const Tokens ctx = Tokens(r.context).last(static_cast<size_t>(keep));
    plan.max_context = std::max(plan.max_context, keep + nc - 1);

    int64_t cut = 0, hint = -1;
    if (r.shared_prefix && !r.shared_prefix->empty()) {
      const Tokens h(*r.shared_prefix);
      cut = std::min(common_prefix(ctx, h), keep - 1);
      if (cut < kMinPrefix) cut = 0;
      if (cut > 0) {
        auto& cands = hint_by_hash[hash_tokens(h)];
        for (int64_t c : cands)
          if (std::ranges::equal(hints[size_t(c)], h)) hint = c;
        if (hint < 0) {
          hint = static_cast<int64_t>(hints.size());
          hints.push_back(h);
          cands.push_back(hint);
        }
      }
    }
    int64_t prefix = -1;
    if (cut > 0) {
      auto [it, fresh] =
          prefix_of.try_emplace({hint, cut}, static_cast<int64_t>(plan.prefixes.size()));
      if (fresh) plan.prefixes.push_back({.ids = hints[size_t(hint)].first(size_t(cut))});
      prefix = it->second;
    }
    auto& cands = group_by_hash[hash_tokens(ctx, static_cast<uint64_t>(cut))];
    int64_t g = -1;
    for (int64_t c : cands)
      if (plan.groups[size_t(c)].cut == cut && std::ranges::equal(plan.groups[size_t(c)].ctx, ctx))
        g = c;
    if (g < 0) {
      g = static_cast<int64_t>(plan.groups.size());
      plan.groups.push_back({.ctx = ctx, .cut = cut, .prefix = prefix});
      cands.push_back(g);
      if (prefix >= 0) ++plan.prefixes[size_t(prefix)].users;
    }
    Group& grp = plan.groups[size_t(g)];
    grp.reqs.push_back(i);
    if (nc > 1) {
      const Tokens tail = Tokens(r.continuation).first(size_t(nc - 1));
      auto [it, fresh] =
          tail_of.try_emplace({g, std::vector<int32_t>(tail.begin(), tail.end())}, 0);
      if (fresh) {
        it->second = grp.tails.size();
        grp.tails.push_back({.ids = tail});
      }
      grp.tails[it->second].reqs.push_back(i);
    }
  }
  // The contexts of one prefix together (its slot is then held briefly), longest first within
  // (as lm-eval orders requests).
  std::stable_sort(plan.groups.begin(), plan.groups.end(), [](const Group& a, const Group& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return a.ctx.size() > b.ctx.size();
  });
  return plan;
}

// Slots for about two forwards' worth of contexts (one filling, one scoring tails) plus the
// prefix being shared, within the memory budget.
int64_t choose_slots(const ModelConfig& c, const Plan& plan, const LLOptions& opt, Precision p) {
  double middle = 0;
  bool tails = false;
  for (const Group& g : plan.groups) {
    middle += static_cast<double>(static_cast<int64_t>(g.ctx.size()) - g.cut);
    tails = tails || !g.tails.empty();
  }
  const double n_groups = static_cast<double>(plan.groups.size());
  const double per_forward = std::ceil(static_cast<double>(opt.batch_tokens) * n_groups / middle);
  const int64_t extra = plan.prefixes.empty() ? 0 : 1;
  const int64_t want =
      static_cast<int64_t>(std::min(per_forward * (tails ? 2 : 1), n_groups)) + extra;
  const size_t per_slot = KVCache::bytes_for(c, 1, plan.max_context, p);
  const int64_t fit = static_cast<int64_t>(
      static_cast<size_t>(std::max<int64_t>(0, opt.max_cache_bytes)) / per_slot);
  return std::max<int64_t>(1 + extra, std::min(want, fit));
}

// Log-softmax (in double, as the loss metric) and argmax of each logit row, applied to the
// (request, token) pairs the row scores.
class ScoreSink : public TapSink {
 public:
  // exits: DoLa's early exits at the step's logit rows (null: plain log-probabilities).
  ScoreSink(const std::vector<Jobs>& jobs, std::vector<LLResult>& res, std::vector<int64_t>& left,
            gen::EarlyExits* exits, std::span<const LLRequest> reqs, const LLOptions& opt)
      : jobs_(jobs), res_(res), left_(left), exits_(exits), reqs_(reqs), opt_(opt) {}
  // A step of prefixes only needs no logits (and empty logit rows would mean all rows).
  bool wants(Tap t) const override {
    return !jobs_.empty() && (t == Tap::logits || (exits_ && exits_->wants(t)));
  }
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) override {
    if (exits_ && !jobs_.empty() && t != Tap::logits) exits_->on_tap(t, index, x, seqs);
    if (t != Tap::logits) return;
    ERANK_CHECK(x.rows == static_cast<int64_t>(jobs_.size()), "loglikelihood: {} logit rows for {}",
                x.rows, jobs_.size());
    if (opt_.on_token) token_rows(x);
    if (exits_) return dola_scores(x);
    const int64_t R = x.rows, V = x.cols;
    std::vector<double> lse(static_cast<size_t>(R));
    std::vector<int64_t> amax(static_cast<size_t>(R));
#pragma omp parallel for schedule(dynamic) if (R > 1)
    for (int64_t r = 0; r < R; ++r) {
      if (x.prec == Precision::f32)
        row_stats(x.f.data() + r * V, V, lse[size_t(r)], amax[size_t(r)]);
      else
        row_stats(x.d.data() + r * V, V, lse[size_t(r)], amax[size_t(r)]);
    }
    for (int64_t r = 0; r < R; ++r) {
      for (const auto& [req, tok] : jobs_[size_t(r)]) {
        if (tok < 0 || tok >= V)
          fail("loglikelihood request {}: token id {} outside the vocabulary (size {})", req, tok,
               V);
        res_[req].logprob += x.at(r, tok) - lse[size_t(r)];
        res_[req].is_greedy = res_[req].is_greedy && amax[size_t(r)] == tok;
        --left_[req];
      }
    }
  }

  // LLOptions::on_token for every (request, token) of the step, before left_ counts them: a
  // request's rows come in continuation order (its tail is scheduled after its first token).
  void token_rows(const Act& x) {
    std::vector<std::array<int64_t, 3>> calls;  // (request, index in continuation, row)
    std::unordered_map<size_t, int64_t> seen;
    for (size_t r = 0; r < jobs_.size(); ++r)
      for (const auto& [req, tok] : jobs_[r]) {
        const int64_t pos =
            static_cast<int64_t>(reqs_[req].continuation.size()) - left_[req] + seen[req]++;
        calls.push_back({static_cast<int64_t>(req), pos, static_cast<int64_t>(r)});
      }
    const int64_t n = static_cast<int64_t>(calls.size());
    std::vector<std::string> errors(calls.size());  // an exception must not leave the parallel loop
#pragma omp parallel for schedule(dynamic) if (n > 1)
    for (int64_t i = 0; i < n; ++i) {
      const auto& c = calls[size_t(i)];
      try {
        opt_.on_token(static_cast<size_t>(c[0]), c[1], x, c[2]);
      } catch (const std::exception& e) {
        errors[size_t(i)] = e.what();
      }
    }
    for (const std::string& e : errors)
      if (!e.empty()) fail("{}", e);
  }

  // DoLa's contrast per row (in f32, as the reference), summed over the row's tokens.
  void dola_scores(const Act& x) {
    const int64_t R = x.rows, V = x.cols;
    const std::vector<Act>& pre = exits_->logits();
    std::vector<std::vector<float>> scores(static_cast<size_t>(R));
    std::vector<int64_t> amax(static_cast<size_t>(R));
#pragma omp parallel for schedule(dynamic) if (R > 1)
    for (int64_t r = 0; r < R; ++r) {
      auto f32 = [&](const Act& a) {
        std::vector<float> v(static_cast<size_t>(V));
        for (int64_t c = 0; c < V; ++c) v[size_t(c)] = static_cast<float>(a.at(r, c));
        return v;
      };
      const std::vector<float> fin = f32(x);
      std::vector<std::vector<float>> rows;
      for (const Act& a : pre) rows.push_back(f32(a));
      std::vector<std::span<const float>> spans(rows.begin(), rows.end());
      auto& out = scores[size_t(r)];
      out.resize(static_cast<size_t>(V));
      gen::dola_contrast(fin, spans, 0.0, out);
      amax[size_t(r)] = std::max_element(out.begin(), out.end()) - out.begin();
    }
    for (int64_t r = 0; r < R; ++r)
      for (const auto& [req, tok] : jobs_[size_t(r)]) {
        if (tok < 0 || tok >= V)
          fail("loglikelihood request {}: token id {} outside the vocabulary (size {})", req, tok,
               V);
        res_[req].logprob += scores[size_t(r)][size_t(tok)];
        res_[req].is_greedy = res_[req].is_greedy && amax[size_t(r)] == tok;
        --left_[req];
      }
  }

 private:
  // log sum exp of the row, and its first maximum (torch.argmax's choice among ties).
  template <class T>
  static void row_stats(const T* z, int64_t V, double& lse, int64_t& amax) {
    double mx = -std::numeric_limits<double>::infinity();
    amax = 0;
    for (int64_t v = 0; v < V; ++v)
      if (static_cast<double>(z[v]) > mx) {
        mx = static_cast<double>(z[v]);
        amax = v;
      }
    double se = 0;
    for (int64_t v = 0; v < V; ++v) se += std::exp(static_cast<double>(z[v]) - mx);
    if (!std::isfinite(mx) || !std::isfinite(se))
      fail("loglikelihood: non-finite logits (max {}, sum of exp {})", mx, se);
    lse = mx + std::log(se);
  }

  const std::vector<Jobs>& jobs_;
  std::vector<LLResult>& res_;
  std::vector<int64_t>& left_;
  gen::EarlyExits* exits_;
  std::span<const LLRequest> reqs_;
  const LLOptions& opt_;
};

class Scorer {
 public:
  Scorer(const Model& m, Backend& be, std::span<const LLRequest> reqs, const LLOptions& opt)
      : model_(m), be_(be), reqs_(reqs), opt_(opt), plan_(make_plan(reqs, opt)) {
    res_.assign(reqs.size(), LLResult{.logprob = 0, .is_greedy = true});
    for (size_t i = 0; i < reqs.size(); ++i)
      left_.push_back(static_cast<int64_t>(reqs[i].continuation.size()));
    const int64_t V = m.config().vocab_size;
    const int64_t elem = be.precision() == Precision::f32 ? 4 : 8;
    max_logit_rows_ = std::max<int64_t>(64, kLogitBytes / (V * elem));
  }

  std::vector<LLResult> run() {
    if (plan_.groups.empty()) return std::move(res_);
    // Big weights too on the row-independent kernel (OpenBLAS tiles sum a row differently
    // depending on how many rows share its tile); the caller's setting comes back after.
    struct Invariant {
      Backend& be;
      bool prev = be.set_batch_invariant(true);
      ~Invariant() { be.set_batch_invariant(prev); }
    } invariant{be_};
    const int64_t n_slots = choose_slots(model_.config(), plan_, opt_, be_.precision());
    KVCache cache(model_.config(), be_, n_slots, plan_.max_context);
    cache_ = &cache;
    for (int64_t s = n_slots - 1; s >= 0; --s) free_.push_back(s);
    stats_.contexts = static_cast<int64_t>(plan_.groups.size());
    stats_.slots = n_slots;
    stats_.cache_bytes = cache.bytes();
    const int64_t total = static_cast<int64_t>(reqs_.size());
    int64_t done = 0;
    while (done < total) {
      Step st = compose();
      ERANK_CHECK(!st.seqs.empty(), "loglikelihood: no work for a step ({} of {} done)", done,
                  total);
      std::unique_ptr<gen::EarlyExits> exits;
      if (!opt_.dola_layers.empty()) {
        exits = std::make_unique<gen::EarlyExits>(model_, be_, opt_.dola_layers);
        exits->set_rows(st.opt.logit_rows);
      }
      ScoreSink sink(st.jobs, res_, left_, exits.get(), reqs_, opt_);
      model_.forward_step(be_, st.seqs, st.slots, cache, sink, st.opt);
      stats_.logit_rows += static_cast<int64_t>(st.jobs.size());
      finish(st);
      done = std::count(left_.begin(), left_.end(), int64_t(0));
      ++stats_.forwards;
      if (opt_.progress) opt_.progress(done, total);
    }
    if (opt_.stats) *opt_.stats = stats_;
    return std::move(res_);
  }

 private:
  enum class Kind { prefix, middle, tail };
  struct Unit {
    Kind kind;
    int64_t index;  // prefix or group
  };
  struct Step {
    std::vector<std::vector<int32_t>> seqs;
    std::vector<int64_t> slots;
    StepOptions opt;
    std::vector<Jobs> jobs;  // per logit row
    std::vector<Unit> units;
    int64_t rows = 0;
  };

  bool fits(const Step& st, int64_t rows, int64_t logit_rows) const {
    return st.seqs.empty() ||
           (st.rows + rows <= opt_.batch_tokens &&
            static_cast<int64_t>(st.jobs.size()) + logit_rows <= max_logit_rows_);
  }

  void add(Step& st, Unit u, Tokens ids, int64_t slot, bool read_only) {
    st.seqs.emplace_back(ids.begin(), ids.end());
    st.slots.push_back(slot);
    st.opt.read_only.push_back(read_only);
    st.units.push_back(u);
    st.rows += static_cast<int64_t>(ids.size());
    stats_.tokens += static_cast<int64_t>(ids.size());
  }

  Step compose() {
    Step st;
    if (add_tails(st)) add_contexts(st);
    return st;
  }

  // Tails first, as they free their context's slot. False when the step is full.
  bool add_tails(Step& st) {
    bool room = true;
    for (int64_t g : tail_queue_) {
      Group& grp = plan_.groups[size_t(g)];
      for (; room && grp.next_tail < grp.tails.size(); ++grp.next_tail) {
        const Tail& t = grp.tails[grp.next_tail];
        const int64_t n = static_cast<int64_t>(t.ids.size());
        room = fits(st, n, n);
        if (!room) break;
        for (int64_t i = 0; i < n; ++i) {
          st.opt.logit_rows.push_back(st.rows + i);
          Jobs jobs;
          for (size_t r : t.reqs) jobs.push_back({r, reqs_[r].continuation[size_t(i + 1)]});
          st.jobs.push_back(std::move(jobs));
        }
        add(st, {Kind::tail, g}, t.ids, grp.slot, true);
      }
      if (!room) break;
    }
    while (!tail_queue_.empty() && plan_.groups[size_t(tail_queue_.front())].next_tail ==
                                       plan_.groups[size_t(tail_queue_.front())].tails.size())
      tail_queue_.pop_front();
    return room;
  }

  // Then new contexts, in order; one waiting for its prefix stops the scan (and starts it).
  void add_contexts(Step& st) {
    for (; next_group_ < plan_.groups.size(); ++next_group_) {
      Group& grp = plan_.groups[next_group_];
      Prefix* pre = grp.prefix >= 0 ? &plan_.prefixes[size_t(grp.prefix)] : nullptr;
      if (pre && !pre->ready) {
        if (pre->slot < 0 && !free_.empty() && fits(st, static_cast<int64_t>(pre->ids.size()), 0)) {
          pre->slot = take_slot();
          cache_->clear(pre->slot);
          add(st, {Kind::prefix, grp.prefix}, pre->ids, pre->slot, false);
          ++stats_.prefixes;
        }
        break;
      }
      const bool takes_prefix_slot = pre && pre->users == 1;
      if (free_.empty() && !takes_prefix_slot) break;
      const int64_t n = static_cast<int64_t>(grp.ctx.size()) - grp.cut;
      if (!fits(st, n, 1)) break;
      if (takes_prefix_slot) {  // the last context of a prefix continues in its slot
        grp.slot = pre->slot;
        pre->slot = -1;
      } else {
        grp.slot = take_slot();
        if (pre)
          cache_->copy_slot(pre->slot, grp.slot);
        else
          cache_->clear(grp.slot);
      }
      if (pre) {
        --pre->users;
        stats_.reused_tokens += grp.cut;
      }
      st.opt.logit_rows.push_back(st.rows + n - 1);
      Jobs jobs;
      for (size_t r : grp.reqs) jobs.push_back({r, reqs_[r].continuation[0]});
      st.jobs.push_back(std::move(jobs));
      add(st, {Kind::middle, static_cast<int64_t>(next_group_)}, grp.ctx.subspan(size_t(grp.cut)),
          grp.slot, false);
    }
  }

  void finish(const Step& st) {
    for (const Unit& u : st.units) {
      if (u.kind == Kind::prefix) {
        plan_.prefixes[size_t(u.index)].ready = true;
        continue;
      }
      Group& grp = plan_.groups[size_t(u.index)];
      if (u.kind == Kind::middle) {
        grp.tails_left = grp.tails.size();
        if (!grp.tails.empty()) tail_queue_.push_back(u.index);
      } else {
        --grp.tails_left;
      }
      if (grp.tails_left == 0) free_.push_back(grp.slot);
    }
  }

  int64_t take_slot() {
    const int64_t s = free_.back();
    free_.pop_back();
    return s;
  }

  const Model& model_;
  Backend& be_;
  std::span<const LLRequest> reqs_;
  const LLOptions& opt_;
  Plan plan_;
  std::vector<LLResult> res_;
  std::vector<int64_t> left_;  // continuation tokens not yet scored, per request
  int64_t max_logit_rows_ = 0;
  KVCache* cache_ = nullptr;
  std::vector<int64_t> free_;
  std::deque<int64_t> tail_queue_;  // contexts whose tails are not all scheduled
  size_t next_group_ = 0;
  LLStats stats_;
};

}  // namespace

std::vector<LLResult> score_loglikelihood(const Model& model, Backend& be,
                                          std::span<const LLRequest> requests,
                                          const LLOptions& opt) {
  if (opt.max_length < 1) fail("loglikelihood: max_length {} (must be at least 1)", opt.max_length);
  if (opt.batch_tokens < 1)
    fail("loglikelihood: batch_tokens {} (must be at least 1)", opt.batch_tokens);
  return Scorer(model, be, requests, opt).run();
}

}  // namespace erank
