// Style control as FastChat's compute_style_control: a contextual Bradley-Terry model whose logit
// is ln10 * (r_a - r_b) + x . beta, x the z-scored (a - b) / (a + b + 1) differences of answer
// length, headers, list items and bold spans, fitted on every battle (not unique rows) with an L2
// penalty 0.25 * |params|^2 on ratings and coefficients alike (FastChat's reg = 0.5 halved, for
// parity with its older duplicated-row fit). Ratings come out as 400 * r + 1000.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "arena/battle_log.h"
#include "arena/ratings.h"

namespace erank::arena {

// Markdown elements of one answer as FastChat's add_markdown_info counts them: code blocks'
// insides removed first (its quirk: the captured text is removed wherever it occurs, fences kept),
// then lines starting with 1-6 '#' and whitespace, list items (`^\s*\d+\.\s`, `^\s*[-*+]\s`),
// bold spans (`\*\*[^*\n]+\*\*`, `__[^_\n]+__`), with Python's multiline regex semantics.
struct MarkdownCounts {
  int64_t headers = 0, lists = 0, bold = 0;
};
MarkdownCounts count_markdown(std::string_view answer);

// Style counts from an answer's text, for records without conv_metadata: markdown as above and
// the length in whitespace-separated words (FastChat's logs carry tokenizer counts instead).
StyleCounts style_from_text(std::string_view answer);

static constexpr int kStyleFeatures = 4;
extern const char* const kStyleFeatureNames[kStyleFeatures];

struct StyleResult {
  std::vector<std::string> models;
  std::vector<double> ratings;            // 400 * r + 1000 (anchored if asked)
  std::vector<double> coefficients;       // beta, per z-scored feature
  std::vector<std::array<double, 2>> ci;  // bootstrap 95% bounds (empty if rounds = 0)
};

struct StyleOptions {
  double reg = 0.5;  // FastChat's `reg`; the penalty is reg/2 * |params|^2
  int rounds = 0;    // bootstrap rounds (battles resampled with replacement)
  uint64_t seed = 0;
  std::optional<Anchor> anchor;
};

// Throws erank::Error when a battle has no style counts (naming it).
StyleResult fit_style_control(const std::vector<Battle>& battles, const StyleOptions& opt);

}  // namespace erank::arena
