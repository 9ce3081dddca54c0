// Answer extraction and normalisation of lm-eval 0.4.13's MATH tasks (tasks/minerva_math/utils.py
// and tasks/hendrycks_math/utils.py), character for character, on UTF-8 strings (indices count
// code points where Python's do). Where Python raises, the C++ says so in its result.
//  - minerva_math: the gold is normalize_final_answer(remove_boxed(last_boxed_only_string(
//    solution))); a response's answer is normalize_final_answer(get_unnormalized_answer(resp));
//    exact_match is is_equiv(answer, gold). lm-eval's is_equiv asks sympy (parse_latex +
//    simplify); erank has no Python, so minerva_is_equiv (latex_equiv.h) re-implements it.
//    minerva_math also reports math_verify (the math-verify package), which erank does not have.
//  - hendrycks_math: the answer is the response between its first and last '$'; exact_match is
//    is_equiv(answer, remove_boxed(last_boxed_only_string(solution))) on strip_string'd strings.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace erank::grading {

// The last "\boxed{...}" (or "\fbox{...}") with its braces balanced, or the text after the last
// "\boxed " up to a '$'; nullopt when there is none or it is not closed.
std::optional<std::string> last_boxed_only_string(std::string_view s);
// "\boxed{X}" -> "X", "\boxed X" -> "X". Throws erank::Error where lm-eval's asserts fail.
std::string remove_boxed(std::string_view s);

// Minerva (Lewkowycz et al. 2022, appendix D, as lm-eval amends it).
std::string get_unnormalized_answer(std::string_view text);  // "[invalidanswer]" when absent
std::string normalize_final_answer(std::string_view final_answer);
// process_docs' "answer" of a solution. Throws erank::Error when it has no boxed answer.
std::string minerva_doc_answer(std::string_view solution);
// process_results' exact_match (0 or 1) of one response against the document's "answer".
double minerva_exact_match(std::string_view response, std::string_view doc_answer);

// Hendrycks et al.'s strip_string; nullopt where Python raises (an unbalanced "\text{ ", a
// trailing "\sqrt" or "\frac", "a/b" with a non-integer side).
std::optional<std::string> strip_string(std::string_view s);
// is_equiv: both absent -> true, one -> false; strip_string'd equality, or raw equality when
// strip_string raises on either.
bool hendrycks_is_equiv(const std::optional<std::string>& a, const std::optional<std::string>& b);
// The text between the first and last '$' (all of it with fewer than two).
std::string hendrycks_extract_answer(std::string_view response);
// process_results' exact_match of one response against the document's solution.
double hendrycks_exact_match(std::string_view response, std::string_view solution);

}  // namespace erank::grading
