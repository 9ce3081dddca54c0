#include "interp/activations.h"

#include <set>
#include <string>

#include "core/error.h"
#include "models/model.h"
#include "models/taps.h"

namespace erank {
namespace {

class LastTokenSink : public TapSink {
 public:
  LastTokenSink(std::map<int, Features>& out, int64_t base) : out_(out), base_(base) {}
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) override {
    if (t != Tap::hidden) return;
    auto it = out_.find(index);
    if (it == out_.end()) return;
    Features& f = it->second;
    if (f.d == 0) {
      f.d = x.cols;
      f.v.assign(size_t(f.n * f.d), 0.0f);
    }
    ERANK_CHECK(f.d == x.cols, "layer {}: width {} after {}", index, x.cols, f.d);
    for (int64_t s = 0; s < seqs.n_seq(); ++s) {
      const int64_t r = seqs.offsets[size_t(s + 1)] - 1;
      float* dst = f.v.data() + (base_ + s) * f.d;
      if (x.prec == Precision::f32) {
        const float* src = x.f.data() + r * x.cols;
        std::copy(src, src + x.cols, dst);
      } else {
        for (int64_t c = 0; c < x.cols; ++c) dst[c] = static_cast<float>(x.at(r, c));
      }
    }
  }

 private:
  std::map<int, Features>& out_;
  int64_t base_;
};

}  // namespace

std::map<int, Features> last_token_states(const Model& model, Backend& be,
                                          const std::vector<std::vector<int32_t>>& seqs,
                                          const std::vector<int>& layers, int64_t batch_tokens,
                                          const std::function<void(int64_t, int64_t)>& progress) {
  std::map<int, Features> out;
  const auto n = static_cast<int64_t>(seqs.size());
  for (int l : layers) out[l].n = n;
  for (size_t i = 0; i < seqs.size(); ++i)
    if (seqs[i].empty()) fail("sequence {} has no tokens", i);
  size_t begin = 0;
  while (begin < seqs.size()) {
    size_t end = begin;
    int64_t tokens = 0;
    while (end < seqs.size() &&
           (end == begin || tokens + int64_t(seqs[end].size()) <= batch_tokens)) {
      tokens += int64_t(seqs[end].size());
      ++end;
    }
    const std::vector<std::vector<int32_t>> batch(seqs.begin() + std::ptrdiff_t(begin),
                                                  seqs.begin() + std::ptrdiff_t(end));
    LastTokenSink sink(out, int64_t(begin));
    model.forward(be, batch, sink);
    begin = end;
    if (progress) progress(int64_t(begin), n);
  }
  return out;
}

std::vector<int> parse_probe_layers(const std::string& spec, int n_layers) {
  std::set<int> out;
  if (spec == "all") {
    for (int i = 1; i <= n_layers; ++i) out.insert(i);
  } else if (spec == "last") {
    out.insert(n_layers);
  } else {
    size_t pos = 0;
    while (pos <= spec.size()) {
      const size_t end = std::min(spec.find(',', pos), spec.size());
      const std::string tok = spec.substr(pos, end - pos);
      char* e = nullptr;
      long v = tok == "last" ? n_layers : std::strtol(tok.c_str(), &e, 10);
      if (tok.empty() || (e && *e))
        fail("--layers '{}': expected all, last or layer numbers", spec);
      if (v < 0) v += n_layers + 1;
      if (v < 0 || v > n_layers)
        fail("--layers: layer {} is out of range: the model has hidden states 0..{}", tok,
             n_layers);
      out.insert(static_cast<int>(v));
      pos = end + 1;
    }
  }
  return {out.begin(), out.end()};
}

}  // namespace erank
