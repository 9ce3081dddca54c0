#include "tasks/mc_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "tasks/py_literal.h"

namespace erank {
namespace {

// np.argmax: the first index of the maximum (NaN wins, as numpy's does).
int64_t argmax(const std::vector<double>& v) {
  int64_t best = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) return static_cast<int64_t>(i);
    if (v[i] > v[size_t(best)]) best = static_cast<int64_t>(i);
  }
  return best;
}

}  // namespace

std::map<std::string, double> mc_doc_metrics(const std::vector<double>& lls,
                                             const std::vector<bool>& greedy,
                                             const std::vector<std::string>& choices,
                                             const std::vector<int64_t>& gold,
                                             const std::vector<std::string>& wanted) {
  ERANK_CHECK(lls.size() == choices.size() && greedy.size() == lls.size(), "{} scores, {} choices",
              lls.size(), choices.size());
  std::vector<double> by_char(lls.size()), by_byte(lls.size());
  for (size_t i = 0; i < lls.size(); ++i) {
    by_char[i] = lls[i] / static_cast<double>(py_len(choices[i]));
    by_byte[i] = lls[i] / static_cast<double>(choices[i].size());
  }
  const int64_t pred = argmax(lls), pred_norm = argmax(by_char), pred_byte = argmax(by_byte);
  auto hit = [&](int64_t p) {
    return std::find(gold.begin(), gold.end(), p) != gold.end() ? 1.0 : 0.0;
  };
  std::map<std::string, double> m;
  for (auto& w : wanted) {
    if (w == "acc")
      m[w] = hit(pred);
    else if (w == "acc_norm")
      m[w] = hit(pred_norm);
    else if (w == "acc_bytes")
      m[w] = hit(pred_byte);
    else if (w == "exact_match") {
      bool any = false;
      for (auto g : gold)
        if (g >= 0 && g < static_cast<int64_t>(greedy.size()) && greedy[size_t(g)]) any = true;
      m[w] = any ? 1.0 : 0.0;
    } else {
      fail(
          "metric '{}' is not a multiple-choice metric erank computes (acc, acc_norm, "
          "acc_bytes, exact_match)",
          w);
    }
  }
  return m;
}

namespace {
// How many of mc2_targets' choices are true: those before the first 0 label.
size_t mc2_true_count(const nlohmann::ordered_json& doc, const std::string& task) {
  if (!doc.contains("mc2_targets") || !doc["mc2_targets"].contains("labels"))
    fail("task {}: a document has no mc2_targets.labels", task);
  const auto& labels = doc["mc2_targets"]["labels"];
  size_t split = labels.size();
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i].get<int64_t>() == 0) {
      split = i;
      break;
    }
  if (split == labels.size()) fail("task {}: mc2_targets.labels has no false answer", task);
  if (split == 0) fail("task {}: mc2_targets.labels has no true answer", task);
  return split;
}
}  // namespace

std::map<std::string, double> mc3_metrics(const std::vector<double>& lls,
                                          const nlohmann::ordered_json& doc,
                                          const std::string& task) {
  const size_t split = mc2_true_count(doc, task);
  const double max_false = *std::max_element(lls.begin() + long(split), lls.end());
  size_t above = 0;
  for (size_t i = 0; i < split; ++i) above += lls[i] > max_false;
  return {{"acc", static_cast<double>(above) / static_cast<double>(split)}};
}

std::map<std::string, double> mc2_metrics(const std::vector<double>& lls,
                                          const nlohmann::ordered_json& doc,
                                          const std::string& task) {
  const size_t split = mc2_true_count(doc, task);
  // Shifted by the largest score before exp: the same ratio as lm-eval's exp(ll) / sum, but
  // DoLa's contrast scores (thousands of nats) would overflow it to inf / inf.
  double top = -std::numeric_limits<double>::infinity();
  for (double ll : lls) top = std::max(top, ll);
  double p_true = 0, total = 0;
  for (size_t i = 0; i < lls.size(); ++i) {
    const double p = std::exp(lls[i] - top);
    total += p;
    if (i < split) p_true += p;
  }
  return {{"acc", p_true / total}};
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double mean_stderr(const std::vector<double>& v) {
  const double mu = mean(v);
  double ss = 0;
  for (double x : v) ss += (x - mu) * (x - mu);
  return std::sqrt(ss / static_cast<double>(v.size() - 1)) / std::sqrt(double(v.size()));
}

double pooled_sample_stderr(const std::vector<double>& stderrs, const std::vector<double>& sizes) {
  double num = 0, n = 0;
  for (size_t i = 0; i < stderrs.size(); ++i) {
    num += (sizes[i] - 1) * stderrs[i] * stderrs[i] * sizes[i];
    n += sizes[i];
  }
  const double var = num / (n - static_cast<double>(sizes.size()));
  return std::sqrt(var / n);
}

double unweighted_mean_stderr(const std::vector<double>& stderrs) {
  double s = 0;
  for (double e : stderrs) s += e * e;
  return std::sqrt(s) / static_cast<double>(stderrs.size());
}

}  // namespace erank
