// Tokens -> syntax tree, following jinja2's parser (same precedence, same statement forms).
// Tags outside the subset (include, extends, block, import, ...) fail here with one erank::Error
// naming the origin, line and tag; unknown filters and tests fail when they run, as in jinja2.
#pragma once
#include <string>
#include <vector>

#include "template/ast.h"
#include "template/lexer.h"

namespace erank::tmpl {

Body parse(const std::vector<Token>& tokens, const std::string& origin);

}  // namespace erank::tmpl
