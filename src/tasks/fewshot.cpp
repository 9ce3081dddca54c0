#include "tasks/fewshot.h"

#include "core/error.h"

namespace erank {

FewshotSampler::FewshotSampler(std::string kind, const std::vector<nlohmann::ordered_json>& docs,
                               uint64_t seed)
    : kind_(std::move(kind)), docs_(docs), rng_(seed) {}

std::vector<const nlohmann::ordered_json*> FewshotSampler::sample(
    int n, const nlohmann::ordered_json* eval_doc) {
  std::vector<const nlohmann::ordered_json*> out;
  if (n <= 0) return out;
  const int64_t N = static_cast<int64_t>(docs_.size());
  if (kind_ == "first_n") {
    for (auto& d : docs_) {
      if (static_cast<int>(out.size()) == n) break;
      if (eval_doc && d == *eval_doc) continue;
      out.push_back(&d);
    }
    if (static_cast<int>(out.size()) < n)
      fail("{} few-shot examples requested but the few-shot split has only {}", n, out.size());
    return out;
  }
  if (N == 0) fail("no documents available for few-shot sampling");
  if (!eval_doc) {
    if (n > N) fail("{} few-shot examples requested but the few-shot split has only {}", n, N);
    for (int64_t i : random_sample(rng_, N, n)) out.push_back(&docs_[size_t(i)]);
    return out;
  }
  if (n + 1 > N)
    fail("{} few-shot examples (+1) requested but the few-shot split has only {}", n, N);
  for (int64_t i : random_sample(rng_, N, n + 1)) {
    if (docs_[size_t(i)] == *eval_doc) continue;
    if (static_cast<int>(out.size()) < n) out.push_back(&docs_[size_t(i)]);
  }
  if (static_cast<int>(out.size()) < n) {  // duplicates of the scored document were drawn
    std::vector<const nlohmann::ordered_json*> pool;
    for (auto& d : docs_)
      if (d != *eval_doc) pool.push_back(&d);
    if (static_cast<int64_t>(pool.size()) < n)
      fail("{} few-shot examples requested but only {} differ from the document", n, pool.size());
    out.clear();
    for (int64_t i : random_sample(rng_, static_cast<int64_t>(pool.size()), n))
      out.push_back(pool[size_t(i)]);
  }
  return out;
}

}  // namespace erank
