#include "generate/stop_strings.h"

#include <algorithm>

#include "core/error.h"

namespace erank::gen {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (size_t i = 0; i < stops_.size(); ++i) {
    if (stops_[i].empty()) fail("stop string {} of {} is empty", i + 1, stops_.size());
    max_len_ = std::max(max_len_, stops_[i].size());
  }
}

size_t StopMatcher::find(std::string_view completion) {
  if (cut_ != npos) return cut_;
  if (completion.size() < scanned_) scanned_ = 0;  // not an extension: rescan (caller's contract)
  bool hit = false;
  for (const auto& s : stops_) {
    // A match starting before scanned_ - (len - 1) lies inside text already searched.
    const size_t from = scanned_ >= s.size() ? scanned_ - (s.size() - 1) : 0;
    if (completion.find(s, from) != std::string_view::npos) {
      hit = true;
      break;
    }
  }
  scanned_ = completion.size();
  if (!hit) return npos;
  std::string_view t = completion;  // lm-eval's post-processing, in list order
  for (const auto& s : stops_) t = t.substr(0, std::min(t.find(s), t.size()));
  return cut_ = t.size();
}

size_t StopMatcher::held_back(std::string_view completion) const {
  size_t best = 0;
  for (const auto& s : stops_) {
    for (size_t h = std::min(s.size() - 1, completion.size()); h > best; --h) {
      if (completion.substr(completion.size() - h) == std::string_view(s).substr(0, h)) {
        best = h;
        break;
      }
    }
  }
  return best;
}

size_t stable_prefix(std::string_view decoded) {
  constexpr std::string_view kFffd = "\xEF\xBF\xBD";
  size_t n = decoded.size();
  for (int k = 0; k < 3 && n >= 3 && decoded.substr(n - 3, 3) == kFffd; ++k) n -= 3;
  return n;
}

}  // namespace erank::gen
