// libFuzzer target: arbitrary bytes as a model's generation through the graders that read it:
// GSM8K's strict/flexible regexes, GPQA's multiple-choice extraction, MATH's answer extraction and
// normalisers, and the LaTeX equivalence parser on the answer against itself and a fixed one.
// Model output is hostile input: it must never crash, hang or raise a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "tasks/filters.h"
#include "tasks/latex_equiv.h"
#include "tasks/math_answer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // the parsers are linear-ish; longer inputs only slow the search
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  namespace g = erank::grading;
  static const erank::PyRegex strict(R"(#### (\-?[0-9\.\,]+))");
  static const erank::PyRegex flexible(R"((-?[$0-9.,]{2,})|(-?[0-9]+))");
  static const g::MultiChoiceExtractor mc(
      g::MultiChoiceOptions{R"((\([A-Z]\)))", 0, "[invalid]", true, true, {}},
      {"\\frac{1}{2}", "x + 1", "None of these", "(2, 3)"});
  try {
    (void)g::regex_extract(strict, text, 0, "[invalid]");
    (void)g::regex_extract(flexible, text, -1, "[invalid]");
    (void)mc(text);
    const std::string answer = g::normalize_final_answer(g::get_unnormalized_answer(text));
    (void)g::minerva_is_equiv(answer, "\\frac{1}{2}");
    (void)g::minerva_is_equiv(text, text.substr(0, text.size() / 2));
    (void)g::latex_parse_status(text);
    (void)g::hendrycks_exact_match(text, "The answer is $\\boxed{\\frac{3}{4}}$.");
    (void)g::strip_string(text);
  } catch (const erank::Error&) {
  }
  return 0;
}
