// ERANK_PROFILE=1: wraps a backend and prints, when it is destroyed, the wall time and call count
// of each op to stderr. Wall time of the calling thread: ops parallelise inside themselves.
#include <fmt/core.h>

#include <chrono>
#include <map>
#include <utility>

#include "backend/backend.h"

namespace erank {

namespace {

class ProfilingBackend final : public Backend {
 public:
  explicit ProfilingBackend(std::unique_ptr<Backend> inner) : in_(std::move(inner)) {}
  ~ProfilingBackend() override {
    double total = 0;
    for (auto& [op, st] : stats_) total += st.second;
    fmt::print(stderr, "erank profile ({}): {:.3f} s in backend ops\n", in_->name(), total);
    for (auto& [op, st] : stats_)
      fmt::print(stderr, "  {:<12} {:>9} calls {:>9.3f} s {:>5.1f}%\n", op, st.first, st.second,
                 total > 0 ? 100 * st.second / total : 0.0);
  }

  std::string name() const override { return in_->name(); }
  Precision precision() const override { return in_->precision(); }
  bool set_batch_invariant(bool on) override { return in_->set_batch_invariant(on); }
  void set_decode_cache(bool on) override { in_->set_decode_cache(on); }
  bool set_decoding(bool on) override { return in_->set_decoding(on); }

  void embed(const Weight& t, std::span<const int32_t> ids, Act& out) override {
    timed("embed", [&] { in_->embed(t, ids, out); });
  }
  void linear(const Act& x, const Weight& w, const Weight* b, Act& y) override {
    timed("linear", [&] { in_->linear(x, w, b, y); });
  }
  void linear_many(const Act& x, std::span<const Weight* const> w, std::span<const Weight* const> b,
                   std::span<Act* const> y) override {
    timed("linear_many", [&] { in_->linear_many(x, w, b, y); });
  }
  void add(Act& y, const Act& x) override {
    timed("add", [&] { in_->add(y, x); });
  }
  void mul(Act& y, const Act& x) override {
    timed("mul", [&] { in_->mul(y, x); });
  }
  void scale(Act& y, double s) override {
    timed("scale", [&] { in_->scale(y, s); });
  }
  void activation(Act& x, Activation a) override {
    timed("activation", [&] { in_->activation(x, a); });
  }
  void layer_norm(const Act& x, const Weight* w, const Weight* b, double eps, Act& y) override {
    timed("layer_norm", [&] { in_->layer_norm(x, w, b, eps, y); });
  }
  void rms_norm(const Act& x, const Weight& w, double eps, int64_t group, bool one_plus,
                Act& y) override {
    timed("rms_norm", [&] { in_->rms_norm(x, w, eps, group, one_plus, y); });
  }
  void rope(Act& x, int64_t head_dim, int64_t rotary_dim, std::span<const double> inv_freq,
            std::span<const int32_t> positions) override {
    timed("rope", [&] { in_->rope(x, head_dim, rotary_dim, inv_freq, positions); });
  }
  void attention(const Act& q, const Act& k, const Act& v, const AttentionParams& p,
                 const SeqLayout& seqs, Act& out) override {
    timed("attention", [&] { in_->attention(q, k, v, p, seqs, out); });
  }
  void attention_cached(const Act& q, const Act& k, const Act& v, const AttentionParams& p,
                        const SeqLayout& seqs, const CacheRefs& refs, KVLayer& cache,
                        Act& out) override {
    timed("attention", [&] { in_->attention_cached(q, k, v, p, seqs, refs, cache, out); });
  }
  void slice_cols(const Act& x, int64_t block, int64_t offset, int64_t width, Act& out) override {
    timed("slice_cols", [&] { in_->slice_cols(x, block, offset, width, out); });
  }
  void softcap(Act& x, double cap) override {
    timed("softcap", [&] { in_->softcap(x, cap); });
  }
  void dropout(Act& x, double p, uint64_t seed) override {
    timed("dropout", [&] { in_->dropout(x, p, seed); });
  }
  void gather_rows(const Act& x, std::span<const int64_t> rows, Act& out) override {
    timed("gather_rows", [&] { in_->gather_rows(x, rows, out); });
  }

 private:
  template <class F>
  void timed(const char* op, F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    auto& st = stats_[op];
    ++st.first;
    st.second += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::unique_ptr<Backend> in_;
  std::map<std::string, std::pair<int64_t, double>> stats_;
};

}  // namespace

std::unique_ptr<Backend> make_profiling_backend(std::unique_ptr<Backend> inner) {
  return std::make_unique<ProfilingBackend>(std::move(inner));
}

}  // namespace erank
