#include "eval/text_metrics.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "models/collect_sink.h"

namespace erank {

namespace {

class MetricSink : public TapSink {
 public:
  MetricSink(const std::vector<int>& layers, bool loss, const std::vector<int32_t>& ids)
      : layers_(layers), loss_(loss), ids_(ids) {}
  bool wants(Tap t) const override { return t == Tap::hidden || (t == Tap::logits && loss_); }
  void on_tap(Tap t, int index, const Act& x, const SeqLayout&) override {
    if (t == Tap::hidden) {
      for (size_t k = 0; k < layers_.size(); ++k)
        if (layers_[k] == index) result.erank[k] = erank_of(floats(x), x.rows, x.cols);
    } else if (t == Tap::logits && loss_) {
      result.loss = text_loss(floats(x), x.rows, x.cols, ids_);
    }
  }
  ModelOnText result;

 private:
  // The f32 view of an activation (the reference backend's f64 is narrowed, as the original's
  // float32 representations are).
  const float* floats(const Act& x) {
    if (x.prec == Precision::f32) return x.f.data();
    buf_.assign(x.d.begin(), x.d.end());
    return buf_.data();
  }
  const std::vector<int>& layers_;
  bool loss_;
  const std::vector<int32_t>& ids_;
  std::vector<float> buf_;
};

double num(const nlohmann::json& v) {
  return v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json model_json(const ModelOnText& m) {
  nlohmann::json e = nlohmann::json::array();
  for (const ERank& r : m.erank) {
    nlohmann::json x = {{"erank", r.erank}, {"entropy", r.entropy}, {"ok", r.ok}};
    if (!r.ok) x["skipped"] = r.skipped;
    e.push_back(x);
  }
  return {{"erank", e}, {"loss_sum", m.loss.sum}, {"loss_tokens", m.loss.n_tokens}};
}

ModelOnText model_from_json(const nlohmann::json& j, int64_t n_tokens) {
  ModelOnText m;
  for (auto& x : j.at("erank")) {
    ERank r;
    r.erank = num(x.at("erank"));
    r.entropy = num(x.at("entropy"));
    r.ok = x.at("ok").get<bool>();
    r.n_tokens = n_tokens;
    if (x.contains("skipped")) r.skipped = x["skipped"].get<std::string>();
    m.erank.push_back(r);
  }
  m.loss.sum = num(j.at("loss_sum"));
  m.loss.n_tokens = j.at("loss_tokens").get<int64_t>();
  return m;
}

}  // namespace

ModelOnText evaluate(const Model& model, Backend& be, const std::vector<int32_t>& ids,
                     const std::vector<int>& layers, bool with_loss,
                     std::optional<uint64_t> train_seed) {
  MetricSink sink(layers, with_loss, ids);
  sink.result.erank.resize(layers.size());
  model.forward(be, {ids}, sink, train_seed);
  return sink.result;
}

nlohmann::json to_json(const TextRecord& r) {
  nlohmann::json twins = nlohmann::json::array();
  for (auto& t : r.twins) twins.push_back(model_json(t));
  return {{"index", r.index},
          {"id", r.id},
          {"n_tokens", r.n_tokens},
          {"truncated", r.truncated},
          {"trained", model_json(r.trained)},
          {"twins", twins}};
}

TextRecord text_record_from_json(const nlohmann::json& j) {
  try {
    TextRecord r;
    r.index = j.at("index").get<int64_t>();
    r.id = j.at("id").get<std::string>();
    r.n_tokens = j.at("n_tokens").get<int64_t>();
    r.truncated = j.value("truncated", false);
    r.trained = model_from_json(j.at("trained"), r.n_tokens);
    for (auto& t : j.at("twins")) r.twins.push_back(model_from_json(t, r.n_tokens));
    return r;
  } catch (const nlohmann::json::exception& e) {
    fail("malformed per-text record: {}", e.what());
  }
}

}  // namespace erank
