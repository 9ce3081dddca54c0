// Jinja2's lexer as transformers configures it (trim_blocks, lstrip_blocks, newlines normalised to
// "\n", one trailing newline dropped): template text -> data and tag tokens, with the same
// whitespace-control rules (`-`/`+` on either side of a tag) and line numbers.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace erank::tmpl {

enum class Tok {
  data,
  var_begin,
  var_end,
  block_begin,
  block_end,
  name,
  string,
  integer,
  real,
  op,
  eof
};

struct Token {
  Tok kind;
  std::string text;  // data, name, operator, or the unescaped string literal
  int line = 1;
  int64_t i = 0;  // integer literal
  double f = 0;   // float literal
};

struct LexOptions {
  bool trim_blocks = true, lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Throws erank::Error "<origin>:<line>: ..." on a lexical error.
std::vector<Token> lex(std::string_view source, const std::string& origin, LexOptions opt = {});

}  // namespace erank::tmpl
