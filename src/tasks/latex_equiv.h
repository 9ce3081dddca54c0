// minerva_math's is_equiv without sympy. lm-eval: equal non-empty strings are equivalent;
// otherwise both go through sympy's parse_latex (the ANTLR LaTeX grammar) and are equivalent when
// simplify(a - b) == 0; a parse error, a relation, or any failure is "not equivalent".
// erank parses the same grammar (its lexer, its operators and precedence, implicit products with
// the "2x3 = 6" rule, \frac, \sqrt[n], ^, _, !, |.|, \lfloor, functions, f(x) as a function call,
// trailing input ignored, the same errors for what sympy rejects: "5.", "(1,2)", "\%", ...) and
// decides equality itself: exactly on rationals (integers, decimals, fractions, integer powers),
// else numerically at random complex points for the symbols (\pi, e and i are symbols there, as
// in parse_latex) with a relative tolerance of 1e-10. Not covered (answers "not equivalent"):
// integrals, sums, products, limits, derivatives, |_{x=a} evaluation, bra-kets; nor sympy's
// Float rounding (a 17-digit decimal sympy rounds onto a fraction is unequal here), identities
// sympy cannot prove but numbers confirm, and its 5 s timeout. tests/tasks/test_grading.cpp
// counts the disagreements with lm-eval (0 of 7865 golden pairs; 1 of 42349 in a larger run).
#pragma once
#include <string_view>

namespace erank::grading {

bool minerva_is_equiv(std::string_view x1, std::string_view x2);

// How parse_latex would end on s: parsed to an expression, parsed to a relation, raised, or
// parsed to something erank does not evaluate (counted as "not equivalent").
enum class LatexParse { expression, relation, error, unsupported };
LatexParse latex_parse_status(std::string_view s);

}  // namespace erank::grading
