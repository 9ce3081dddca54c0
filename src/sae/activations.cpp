#include "sae/activations.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "models/model.h"

namespace erank::sae {

TapPoint tap_point(const std::string& kind, int layer, const ModelConfig& c) {
  const int L = int(c.n_layers);
  if (kind != "resid" && kind != "mlp" && kind != "attn")
    fail("tap '{}' does not exist: use resid, mlp or attn", kind);
  if (layer < 0 || layer >= L)
    fail("{} layer {} does not exist: the model has layers 0..{}{}", kind, layer, L - 1,
         kind == "resid" ? " (resid L = HF hidden_states[L])" : "");
  if (kind == "resid") return {Tap::hidden, layer};
  return {kind == "mlp" ? Tap::mlp_out : Tap::attn_out, layer};
}

ActivationStore::ActivationStore(int64_t d, int64_t max_bytes, std::string spill_path)
    : d_(d), max_bytes_(max_bytes), path_(std::move(spill_path)) {}

ActivationStore::~ActivationStore() {
  if (file_) std::fclose(file_);
  if (mapped_) ::munmap(const_cast<float*>(mapped_), map_bytes_);
}

void ActivationStore::append(const float* rows, int64_t n) {
  ERANK_CHECK(!mapped_, "append after finish");
  const size_t count = size_t(n * d_);
  if (!file_ && int64_t((mem_.size() + count) * sizeof(float)) > max_bytes_) {
    file_ = std::fopen(path_.c_str(), "w+b");
    if (!file_)
      fail("{}: cannot create the activation spill file: {}", path_, std::strerror(errno));
    if (!mem_.empty() && std::fwrite(mem_.data(), sizeof(float), mem_.size(), file_) != mem_.size())
      fail("{}: write failed (disk full?)", path_);
    std::vector<float>().swap(mem_);
  }
  if (file_) {
    if (std::fwrite(rows, sizeof(float), count, file_) != count)
      fail("{}: write failed (disk full?)", path_);
  } else {
    mem_.insert(mem_.end(), rows, rows + count);
  }
  n_ += n;
}

void ActivationStore::finish() {
  if (!file_) return;
  if (std::fflush(file_) != 0) fail("{}: write failed (disk full?)", path_);
  map_bytes_ = size_t(n_ * d_) * sizeof(float);
  void* p = ::mmap(nullptr, map_bytes_, PROT_READ, MAP_SHARED, fileno(file_), 0);
  if (p == MAP_FAILED) fail("{}: mmap failed: {}", path_, std::strerror(errno));
  mapped_ = static_cast<const float*>(p);
  std::fclose(file_);
  file_ = nullptr;
}

namespace {

// Thrown by the collecting sink once it has the tap's rows: the rest of the forward (later
// layers, the LM head: half or more of its cost at a middle layer) is not needed.
struct StopForward {};

class CollectAt : public TapSink {
 public:
  explicit CollectAt(TapPoint tp) : tp_(tp) {}
  bool wants(Tap t) const override { return t == tp_.tap; }
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) override {
    if (t != tp_.tap || index != tp_.index) return;
    ERANK_CHECK(x.prec == Precision::f32, "SAE activations need the f32 backend");
    rows.assign(x.f.begin(), x.f.end());  // copied: the forward's rows die with its stack
    cols = x.cols;
    offsets = seqs.offsets;
    reached = true;
    throw StopForward{};
  }
  std::vector<float> rows;
  int64_t cols = 0;
  std::vector<int64_t> offsets;
  bool reached = false;

 private:
  TapPoint tp_;
};

}  // namespace

void stream_activations(const Model& m, Backend& be, const std::vector<std::vector<int32_t>>& texts,
                        TapPoint tp, int64_t batch_tokens, int64_t max_rows,
                        const std::function<void(const float*, int64_t, size_t, int32_t)>& on_rows,
                        const std::function<void(size_t, int64_t)>& progress) {
  int64_t handed = 0;
  size_t next = 0;
  while (next < texts.size() && (max_rows < 0 || handed < max_rows)) {
    std::vector<std::vector<int32_t>> batch;
    std::vector<size_t> which;
    int64_t tokens = 0;
    while (next < texts.size() &&
           (batch.empty() || tokens + int64_t(texts[next].size()) <= batch_tokens)) {
      tokens += int64_t(texts[next].size());
      batch.push_back(texts[next]);
      which.push_back(next++);
    }
    CollectAt sink(tp);
    try {
      m.forward(be, batch, sink);
    } catch (const StopForward&) {
    }
    ERANK_CHECK(sink.reached, "the forward never reached the tap");
    const int64_t n_seq = int64_t(sink.offsets.size()) - 1;
    for (int64_t s = 0; s < n_seq && (max_rows < 0 || handed < max_rows); ++s) {
      int64_t b = sink.offsets[size_t(s)] + 1, e = sink.offsets[size_t(s + 1)];
      if (b >= e) continue;
      if (max_rows >= 0) e = std::min(e, b + (max_rows - handed));
      on_rows(sink.rows.data() + b * sink.cols, e - b, which[size_t(s)], 1);
      handed += e - b;
    }
    if (progress) progress(next, handed);
  }
}

TapRewriter::TapRewriter(TapPoint tp, Mode mode, const Sae* sae, TapSink* inner, int64_t feature,
                         double scale)
    : tp_(tp), mode_(mode), sae_(sae), inner_(inner), feature_(feature), scale_(scale) {}

bool TapRewriter::wants(Tap t) const {
  return (inner_ && inner_->wants(t)) || (t == tp_.tap && mode_ != Mode::none);
}

void TapRewriter::on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) {
  if (inner_ && inner_->wants(t)) inner_->on_tap(t, index, x, seqs);
}

bool TapRewriter::rewrites(Tap t, int index) const {
  return mode_ != Mode::none && t == tp_.tap && index == tp_.index;
}

void TapRewriter::rewrite(Tap t, int index, Act& x, const SeqLayout& seqs) {
  (void)t;
  (void)index;
  ++rewritten;
  ERANK_CHECK(x.prec == Precision::f32, "SAE rewrites need the f32 backend");
  const int64_t d = x.cols;
  if (sae_) ERANK_CHECK(sae_->d() == d, "SAE d_in {} at a tap of width {}", sae_->d(), d);
  std::vector<int64_t> rows;  // positions >= 1
  for (int64_t r = 0; r < x.rows; ++r)
    if (seqs.positions[size_t(r)] >= 1) rows.push_back(r);
  if (rows.empty()) return;
  if (mode_ == Mode::zero) {
    for (int64_t r : rows) std::fill_n(x.f.data() + r * d, d, 0.0f);
  } else if (mode_ == Mode::steer) {
    const float* w = &sae_->p.dec[size_t(feature_ * d)];
    const float a = float(scale_ / sae_->cfg.input_scale);
    for (int64_t r : rows)
      for (int64_t j = 0; j < d; ++j) x.f[size_t(r * d + j)] += a * w[j];
  } else if (mode_ == Mode::splice) {
    std::vector<float> in(rows.size() * size_t(d)), out;
    for (size_t q = 0; q < rows.size(); ++q)
      std::copy_n(x.f.data() + rows[q] * d, d, in.data() + q * size_t(d));
    sae_->reconstruct(in.data(), int64_t(rows.size()), out);
    for (size_t q = 0; q < rows.size(); ++q)
      std::copy_n(out.data() + q * size_t(d), d, x.f.data() + rows[q] * d);
  }
}

}  // namespace erank::sae
