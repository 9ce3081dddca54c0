#include "tasks/latex_equiv.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tasks/py_regex.h"
#include "template/pystr.h"

namespace erank::grading {
namespace {

// ---- Lexer: sympy's LaTeX.g4 tokens (longest match, first rule on ties; skipped tokens dropped).
enum class T {
  add,
  sub,
  mul,
  div,
  lparen,
  rparen,
  lbrace,
  rbrace,
  lbrace_lit,
  rbrace_lit,
  lbracket,
  rbracket,
  bar,
  rbar,
  lbar,
  langle,
  rangle,
  lim,
  lim_approach,
  integral,
  sum,
  prod,
  func,
  lfloor,
  rfloor,
  lceil,
  rceil,
  sqrt,
  overline,
  times,
  cdot,
  cmd_div,
  frac,
  binom,
  mathit,
  underscore,
  caret,
  colon,
  differential,
  letter,
  digit,
  equal,
  neq,
  lt,
  lte,
  gt,
  gte,
  bang,
  quotes,
  symbol,
  comma,
  dot,
  end,
  error
};

struct Tok {
  T t;
  std::string text;  // letter, digit, symbol or function name; differential variable
};

bool alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::optional<Tok> command(const std::string& w) {
  static const std::vector<std::pair<std::string_view, T>> table = {
      {"langle", T::langle},
      {"rangle", T::rangle},
      {"lim", T::lim},
      {"to", T::lim_approach},
      {"rightarrow", T::lim_approach},
      {"Rightarrow", T::lim_approach},
      {"longrightarrow", T::lim_approach},
      {"Longrightarrow", T::lim_approach},
      {"int", T::integral},
      {"sum", T::sum},
      {"prod", T::prod},
      {"lfloor", T::lfloor},
      {"rfloor", T::rfloor},
      {"lceil", T::lceil},
      {"rceil", T::rceil},
      {"sqrt", T::sqrt},
      {"overline", T::overline},
      {"times", T::times},
      {"cdot", T::cdot},
      {"div", T::cmd_div},
      {"frac", T::frac},
      {"dfrac", T::frac},
      {"tfrac", T::frac},
      {"binom", T::binom},
      {"dbinom", T::binom},
      {"tbinom", T::binom},
      {"mathit", T::mathit},
      {"neq", T::neq},
      {"leq", T::lte},
      {"le", T::lte},
      {"leqq", T::lte},
      {"leqslant", T::lte},
      {"geq", T::gte},
      {"ge", T::gte},
      {"geqq", T::gte},
      {"geqslant", T::gte},
  };
  static const std::vector<std::string_view> funcs = {
      "exp",  "log",  "lg",     "ln",     "sin",    "cos",    "tan",    "csc",
      "sec",  "cot",  "arcsin", "arccos", "arctan", "arccsc", "arcsec", "arccot",
      "sinh", "cosh", "tanh",   "arsinh", "arcosh", "artanh"};
  for (auto& [name, t] : table)
    if (w == name) return Tok{t, w};
  for (auto& f : funcs)
    if (w == f) return Tok{T::func, w};
  return std::nullopt;
}

std::vector<Tok> lex(std::string_view s) {
  static const std::vector<std::string_view> skipped = {
      "thinspace",   "medspace",      "thickspace", "quad",  "qquad", "negthinspace",
      "negmedspace", "negthickspace", "left",       "right", "vrule", "vcenter",
      "vbox",        "vskip",         "vspace",     "hfil"};
  std::vector<Tok> out;
  size_t i = 0;
  auto error = [&] { out.push_back({T::error, ""}); };
  while (i < s.size()) {
    const char c = s[i];
    if (ws(c)) {
      ++i;
      continue;
    }
    if (c == '\\') {
      size_t j = i + 1;
      while (j < s.size() && alpha(s[j])) ++j;
      const std::string w(s.substr(i + 1, j - i - 1));
      if (w.empty()) {  // \, \: \; \! and the IGNORE escapes are skipped; \{ \} are braces
        const char d = i + 1 < s.size() ? s[i + 1] : '\0';
        if (std::string_view(",:;!*-./\"(=").find(d) != std::string_view::npos && d) {
          i += 2;
        } else if (d == '{' || d == '}') {
          out.push_back({d == '{' ? T::lbrace_lit : T::rbrace_lit, ""});
          i += 2;
        } else {
          error();
          return out;
        }
        continue;
      }
      if ((w == "left" || w == "right") && j < s.size() && s[j] == '|') {
        out.push_back({w == "left" ? T::lbar : T::rbar, ""});
        i = j + 1;
        continue;
      }
      if (w == "int" && s.substr(j).starts_with("\\limits")) j += 7;
      i = j;
      if (std::find(skipped.begin(), skipped.end(), w) != skipped.end()) continue;
      const auto tok = command(w);
      out.push_back(tok ? *tok : Tok{T::symbol, w});
      continue;
    }
    if (c == 'd') {  // DIFFERENTIAL: d, optional whitespace, a letter or a \command
      size_t j = i + 1;
      while (j < s.size() && ws(s[j])) ++j;
      if (j < s.size() && alpha(s[j])) {
        out.push_back({T::differential, std::string(1, s[j])});
        i = j + 1;
        continue;
      }
      if (j + 1 < s.size() && s[j] == '\\' && alpha(s[j + 1])) {
        size_t k = j + 1;
        while (k < s.size() && alpha(s[k])) ++k;
        out.push_back({T::differential, std::string(s.substr(j + 1, k - j - 1))});
        i = k;
        continue;
      }
    }
    if (alpha(c)) {
      out.push_back({T::letter, std::string(1, c)});
      ++i;
      continue;
    }
    if (c >= '0' && c <= '9') {
      out.push_back({T::digit, std::string(1, c)});
      ++i;
      continue;
    }
    if (c == '\'') {
      size_t j = i;
      while (j < s.size() && s[j] == '\'') ++j;
      out.push_back({T::quotes, std::string(s.substr(i, j - i))});
      i = j;
      continue;
    }
    if (c == '&' || c == '=') {  // EQUAL: ('&' WS*)? '=' | '=' (WS* '&')?
      size_t j = i + 1;
      while (j < s.size() && ws(s[j])) ++j;
      if (c == '&') {
        if (j >= s.size() || s[j] != '=') {
          error();
          return out;
        }
        i = j + 1;
      } else {
        i = j < s.size() && s[j] == '&' ? j + 1 : i + 1;
      }
      out.push_back({T::equal, ""});
      continue;
    }
    static const std::string_view singles = "+-*/(){}[]|_^:,.!<>";
    static const T single_t[] = {T::add,    T::sub,        T::mul,    T::div,      T::lparen,
                                 T::rparen, T::lbrace,     T::rbrace, T::lbracket, T::rbracket,
                                 T::bar,    T::underscore, T::caret,  T::colon,    T::comma,
                                 T::dot,    T::bang,       T::lt,     T::gt};
    const size_t k = singles.find(c);
    if (k == std::string_view::npos) {
      error();
      return out;
    }
    out.push_back({single_t[k], ""});
    ++i;
  }
  out.push_back({T::end, ""});
  return out;
}

// ---- Expressions, as parse_latex builds them.
struct Node;
using P = std::shared_ptr<const Node>;
struct Node {
  enum K { num, sym, inf, add, mul, pow, neg, fn, ufn, rel } k;
  std::string name;  // number text (digits, '.'), symbol, function
  std::vector<P> a;
  int depth = 1;  // of the tree below, bounded so that every recursive walk stays shallow
};

// Model output is hostile: "((((" or "xxxx" thousands deep would overflow the stack of the
// recursive parser and walks. sympy hits Python's recursion limit there, which lm-eval's
// is_equiv catches as "not equivalent"; erank reports such input as unsupported.
struct Fatal {
  bool unsupported;
};
constexpr int kMaxTreeDepth = 1000;
constexpr int kMaxNesting = 200;

P mk(Node::K k, std::string name = {}, std::vector<P> a = {}) {
  int depth = 1;
  for (const P& x : a) depth = std::max(depth, x->depth + 1);
  if (depth > kMaxTreeDepth) throw Fatal{true};
  return std::make_shared<const Node>(Node{k, std::move(name), std::move(a), depth});
}
P num(std::string text) {
  return mk(Node::num, std::move(text));
}

bool has_symbols(const P& n) {
  if (n->k == Node::sym) return true;
  for (auto& x : n->a)
    if (has_symbols(x)) return true;
  return false;
}

// sympy's StrPrinter-like text of a subscript, for symbol names ("x_{1}").
std::string print(const P& n) {
  switch (n->k) {
    case Node::num:
    case Node::sym:
      return n->name;
    case Node::inf:
      return "oo";
    case Node::neg:
      return "-" + print(n->a[0]);
    default: {
      std::string s = n->name + "(";
      for (size_t i = 0; i < n->a.size(); ++i) s += (i ? "," : "") + print(n->a[i]);
      return s + ")";
    }
  }
}

// Parse failures: soft ones let an enclosing loop stop where it was; hard ones (after a commit
// that sympy's parser makes on one token: '.' after digits, '_' after a letter) also pass through
// operator loops; fatal ones (lexer errors, constructs erank does not evaluate) end the parse.
struct Soft {};
struct Hard {};

class Parser {
 public:
  explicit Parser(std::vector<Tok> toks) : t_(std::move(toks)) {}

  P math() { return relation(); }

 private:
  const Tok& peek(size_t ahead = 0) {
    const Tok& k = t_[std::min(pos_ + ahead, t_.size() - 1)];
    if (k.t == T::error) throw Fatal{false};  // sympy's lexer raises when the parser gets here
    return k;
  }
  bool is(T t, size_t ahead = 0) { return peek(ahead).t == t; }
  const Tok& tok(size_t i) {  // token i, read as the parser's lookahead reads it
    const Tok& k = t_[std::min(i, t_.size() - 1)];
    if (k.t == T::error) throw Fatal{false};
    return k;
  }
  void expect(T t) {
    if (!is(t)) throw Soft{};
    ++pos_;
  }

  P relation() {
    P left = expr();
    for (;;) {
      const T t = peek().t;
      if (t != T::equal && t != T::lt && t != T::lte && t != T::gt && t != T::gte && t != T::neq)
        return left;
      const size_t save = pos_++;
      try {
        left = mk(Node::rel, "", {left, expr()});
      } catch (const Soft&) {
        pos_ = save;
        return left;
      }
    }
  }

  P expr() { return additive(); }

  P additive() {
    P left = mp(false);
    while (is(T::add) || is(T::sub)) {
      const bool minus = is(T::sub);
      const size_t save = pos_++;
      try {
        P right = mp(false);
        left = mk(Node::add, "", {left, minus ? mk(Node::neg, "", {right}) : right});
      } catch (const Soft&) {
        pos_ = save;
        break;
      }
    }
    return left;
  }

  P mp(bool nofunc) {
    P left = unary(nofunc);
    for (;;) {
      const T t = peek().t;
      const bool times = t == T::mul || t == T::times || t == T::cdot;
      const bool over = t == T::div || t == T::cmd_div || t == T::colon;
      if (!times && !over) return left;
      const size_t save = pos_++;
      try {
        P right = unary(nofunc);
        left = mk(Node::mul, "", {left, times ? right : mk(Node::pow, "", {right, num("-1")})});
      } catch (const Soft&) {
        pos_ = save;
        return left;
      }
    }
  }

  bool starts_postfix(bool nofunc) {
    switch (peek().t) {
      case T::lparen:
      case T::lbracket:
      case T::lbrace:
      case T::lbrace_lit:
      case T::bar:
      case T::letter:
      case T::symbol:
      case T::lfloor:
      case T::lceil:
      case T::digit:
      case T::differential:
      case T::mathit:
      case T::frac:
      case T::binom:
      case T::langle:
      case T::lbar:
        return true;
      case T::func:
      case T::integral:
      case T::sqrt:
      case T::overline:
      case T::sum:
      case T::prod:
      case T::lim:
        return !nofunc;
      default:
        return false;
    }
  }

  P unary(bool nofunc) {
    // Every nesting (groups, fractions, exponents, signs) passes through here.
    struct Nest {
      int& d;
      explicit Nest(int& depth) : d(depth) {
        if (++d > kMaxNesting) throw Fatal{true};
      }
      ~Nest() { --d; }
    } nest(nesting_);
    if (is(T::add) || is(T::sub)) {
      const bool minus = is(T::sub);
      ++pos_;
      P u = unary(nofunc);
      return minus ? mk(Node::neg, "", {u}) : u;
    }
    std::vector<P> list{postfix(false)};
    while (starts_postfix(nofunc)) {
      const size_t save = pos_;
      try {
        list.push_back(postfix(nofunc));
      } catch (const Soft&) {
        pos_ = save;
        break;
      } catch (const Hard&) {
        pos_ = save;
        break;
      }
    }
    return product(list);
  }

  // convert_postfix_list: a right-nested product, where a lone "x" between two symbol-free
  // factors is the times sign ("2x3" = 6).
  P product(const std::vector<P>& arr) {
    P acc = arr.back();
    for (size_t i = arr.size() - 1; i-- > 0;) {
      if (i > 0 && arr[i]->k == Node::sym && arr[i]->name == "x" && !has_symbols(arr[i - 1]) &&
          !has_symbols(arr[i + 1]))
        continue;
      acc = mk(Node::mul, "", {arr[i], acc});
    }
    return acc;
  }

  P postfix(bool nofunc) {
    P e = exp(nofunc);
    for (;;) {
      if (is(T::bang)) {
        ++pos_;
        e = mk(Node::fn, "factorial", {e});
      } else if (is(T::bar) && (is(T::caret, 1) || is(T::underscore, 1)) && is(T::lbrace, 2)) {
        throw Fatal{true};  // eval_at (|_{x=a}^{b}): not evaluated
      } else {
        return e;
      }
    }
  }

  P exp(bool nofunc) {
    P base = comp(nofunc);
    while (is(T::caret)) {
      const size_t save = pos_++;
      try {
        P e;
        if (is(T::lbrace)) {
          ++pos_;
          e = expr();
          expect(T::rbrace);
        } else {
          e = atom();
        }
        if (is(T::underscore)) subexpr();  // parsed, then ignored by sympy
        base = mk(Node::pow, "", {base, e});
      } catch (const Soft&) {
        pos_ = save;
        break;
      } catch (const Hard&) {
        pos_ = save;
        break;
      }
    }
    return base;
  }

  P group(T close) {
    ++pos_;
    P e = expr();
    expect(close);
    return e;
  }

  // Packrat memo: what comp() makes of a position (a tree and where it ends, or the failure it
  // raised) never changes, and the alternatives tried above it ("|x|" as abs or a ket, f(x) as a
  // call or a product) would otherwise redo it: "||||..." took time exponential in the bars.
  struct Memo {
    enum { ok, soft, hard } how;
    P e;
    size_t end;
  };
  P comp(bool nofunc) {
    const size_t key = pos_ * 2 + nofunc;
    if (auto it = memo_.find(key); it != memo_.end()) {
      if (it->second.how == Memo::soft) throw Soft{};
      if (it->second.how == Memo::hard) throw Hard{};
      pos_ = it->second.end;
      return it->second.e;
    }
    try {
      P e = comp_uncached(nofunc);
      memo_[key] = {Memo::ok, e, pos_};
      return e;
    } catch (const Soft&) {
      memo_[key] = {Memo::soft, nullptr, 0};
      throw;
    } catch (const Hard&) {
      memo_[key] = {Memo::hard, nullptr, 0};
      throw;
    }
  }

  P comp_uncached(bool nofunc) {
    switch (peek().t) {
      case T::lparen:
        return group(T::rparen);
      case T::lbracket:
        return group(T::rbracket);
      case T::lbrace:
        return group(T::rbrace);
      case T::lbrace_lit:
        return group(T::rbrace_lit);
      case T::bar: {
        const size_t save = pos_;
        try {
          P e = group(T::bar);
          return mk(Node::fn, "abs", {e});
        } catch (const Soft&) {
          pos_ = save;
          return atom();  // a ket |x\rangle, or nothing
        }
      }
      case T::lfloor:
        return mk(Node::fn, "floor", {group(T::rfloor)});
      case T::lceil:
        return mk(Node::fn, "ceiling", {group(T::rceil)});
      case T::letter:
      case T::symbol:
        if (!nofunc) {  // f(x), f_1'(x): a function call when it parses as one
          const size_t save = pos_;
          try {
            return call();
          } catch (const Soft&) {
            pos_ = save;
          } catch (const Hard&) {
            pos_ = save;
          }
        }
        return atom();
      case T::func:
      case T::integral:
      case T::sqrt:
      case T::overline:
      case T::sum:
      case T::prod:
      case T::lim:
        if (nofunc) throw Soft{};
        return func();
      default:
        return atom();
    }
  }

  // LETTER/SYMBOL (subexpr? quotes? | quotes? subexpr?) '(' args ')'
  P call() {
    std::string name = name_with_suffixes();
    if (!is(T::lparen)) throw Soft{};
    ++pos_;
    std::vector<P> args{expr()};
    while (is(T::comma)) {
      ++pos_;
      args.push_back(expr());
    }
    expect(T::rparen);
    return mk(Node::ufn, name, args);
  }

  std::string name_with_suffixes() {
    const Tok& k = peek();
    std::string name = k.text;
    ++pos_;
    std::string quotes, sub;
    if (is(T::quotes)) quotes = t_[pos_++].text;
    if (is(T::underscore)) sub = "_{" + print(subexpr_committed()) + "}";
    if (quotes.empty() && is(T::quotes)) quotes = t_[pos_++].text;
    return name + sub + quotes;
  }

  // '_' (atom | '{' expr '}') after a letter: sympy's parser commits on the '_'.
  P subexpr_committed() {
    try {
      return subexpr();
    } catch (const Soft&) {
      throw Hard{};
    }
  }

  P subexpr() {
    expect(T::underscore);
    if (is(T::lbrace)) return group(T::rbrace);
    return atom();
  }

  P atom() {
    const Tok& k = peek();
    switch (k.t) {
      case T::letter:
      case T::symbol: {
        if (k.t == T::symbol && k.text == "infty") {
          name_with_suffixes();
          return mk(Node::inf);
        }
        return mk(Node::sym, name_with_suffixes());
      }
      case T::digit:
        return number();
      case T::differential:
        ++pos_;
        return mk(Node::sym, "d" + k.text);
      case T::mathit: {
        ++pos_;
        expect(T::lbrace);
        std::string text;
        while (is(T::letter)) text += t_[pos_++].text;
        expect(T::rbrace);
        return mk(Node::sym, text);
      }
      case T::frac:
        return frac();
      case T::binom: {
        ++pos_;
        if (!is(T::lbrace)) throw Soft{};
        P n = group(T::rbrace);
        if (!is(T::lbrace)) throw Soft{};
        P r = group(T::rbrace);
        return mk(Node::fn, "binomial", {n, r});
      }
      case T::langle:
      case T::lbar:
      case T::bar: {  // bra <x| and ket |x>: parsed, not evaluated
        ++pos_;
        expr();
        if (k.t == T::langle ? (is(T::rbar) || is(T::bar)) : is(T::rangle)) throw Fatal{true};
        throw Soft{};
      }
      default:
        throw Soft{};
    }
  }

  // DIGIT+ (',' DIGIT DIGIT DIGIT)* ('.' DIGIT+)?. sympy's parser looks ahead across the digit
  // loops: before a '.' it ends the digits one early when that lets the parse go on ("12." is
  // 1 then a failed "2.", "1.25.2" is 1.2 times 5.2); a lone digit before a dangling '.' fails.
  P number() {
    const size_t start = pos_;
    size_t end = pos_;
    while (tok(end).t == T::digit) ++end;
    size_t groups_end = end;
    while (tok(groups_end).t == T::comma && tok(groups_end + 1).t == T::digit &&
           tok(groups_end + 2).t == T::digit && tok(groups_end + 3).t == T::digit)
      groups_end += 4;
    auto text_of = [&](size_t a, size_t b) {
      std::string s;
      for (size_t i = a; i < b; ++i)
        if (t_[i].t == T::digit) s += t_[i].text;
      return s;
    };
    if (tok(groups_end).t == T::dot && tok(groups_end + 1).t != T::digit) {  // dangling '.'
      if (groups_end > end || end - start >= 2) {
        pos_ = groups_end > end ? end : end - 1;
        return num(text_of(start, pos_));
      }
      throw Hard{};
    }
    pos_ = groups_end;
    std::string text = text_of(start, groups_end);
    if (!is(T::dot)) return num(text);
    size_t f = pos_ + 1;
    while (tok(f).t == T::digit) ++f;
    if (tok(f).t == T::dot && f - pos_ - 1 >= 2) --f;
    text += "." + text_of(pos_ + 1, f);
    pos_ = f;
    return num(text);
  }

  // CMD_FRAC (DIGIT | '{' expr '}') (DIGIT | '{' expr '}'); d/dx forms are derivatives.
  P frac() {
    ++pos_;
    auto part = [&]() -> std::pair<P, bool> {
      if (is(T::digit)) return {num(t_[pos_++].text), false};
      if (!is(T::lbrace)) throw Soft{};
      const bool lone_differential = is(T::differential, 1) && is(T::rbrace, 2);
      return {group(T::rbrace), lone_differential};
    };
    P upper = part().first;
    auto [lower, l_diff] = part();
    if (l_diff) throw Fatal{true};
    return mk(Node::mul, "", {upper, mk(Node::pow, "", {lower, num("-1")})});
  }

  P func() {
    const Tok k = peek();
    ++pos_;
    if (k.t == T::sqrt) {
      std::optional<P> root;
      if (is(T::lbracket)) root = group(T::rbracket);
      if (!is(T::lbrace)) throw Soft{};
      P base = group(T::rbrace);
      if (root) return mk(Node::fn, "root", {base, *root});
      return mk(Node::fn, "sqrt", {base});
    }
    if (k.t == T::overline) {
      if (!is(T::lbrace)) throw Soft{};
      return mk(Node::fn, "conjugate", {group(T::rbrace)});
    }
    if (k.t != T::func) throw Fatal{true};  // \int, \sum, \prod, \lim
    std::optional<P> sub, sup;
    // A bare number as the last script ("\log_2 8") gives its last digit to the argument when
    // the argument would be missing otherwise, as sympy's parser decides by looking ahead.
    std::optional<P>* last_number = nullptr;  // the last script, when a bare multi-digit number
    size_t number_from = 0;
    auto script = [&](std::optional<P>& into) {
      ++pos_;
      last_number = nullptr;
      if (is(T::lbrace)) {
        into = group(T::rbrace);
        return;
      }
      const size_t from = pos_;
      into = atom();
      bool plain = pos_ - from >= 2;
      for (size_t i = from; i < pos_ && plain; ++i) plain = t_[i].t == T::digit;
      if (plain) last_number = &into, number_from = from;
    };
    if (is(T::underscore)) script(sub);
    if (is(T::caret)) script(sup);
    if (!sub && is(T::underscore)) script(sub);
    if (last_number && !starts_postfix(false) && !is(T::add) && !is(T::sub)) {
      --pos_;
      std::string d;
      for (size_t i = number_from; i < pos_; ++i) d += t_[i].text;
      *last_number = num(d);
    }
    P arg;
    const size_t save = pos_;
    bool done = false;
    if (is(T::lparen)) {
      try {
        ++pos_;
        arg = expr();
        while (is(T::comma)) ++pos_, expr();  // func_arg: expr (',' func_arg)?; the first counts
        expect(T::rparen);
        done = true;
      } catch (const Soft&) {
        pos_ = save;
      }
    }
    if (!done) arg = mp(true);
    std::string name = k.text;
    if (name.starts_with("arc"))
      name = "a" + name.substr(3);
    else if (name == "arsinh" || name == "arcosh" || name == "artanh")
      name = "a" + name.substr(2);
    P e;
    if ((name == "log" || name == "ln") && !sub) {
      e = mk(Node::fn, "ln", {arg});  // sympy.log(arg, E)
    } else if (name == "log" || name == "lg" || name == "ln") {
      e = mk(Node::fn, "log", {arg, sub ? *sub : num("10")});
    } else {
      e = mk(Node::fn, name, {arg});
    }
    static const std::vector<std::string_view> trig = {"sin", "cos",  "tan",  "csc", "sec",
                                                       "cot", "sinh", "cosh", "tanh"};
    bool should_pow = true;
    if (sup && std::find(trig.begin(), trig.end(), name) != trig.end() && (*sup)->k == Node::neg &&
        (*sup)->a[0]->k == Node::num && (*sup)->a[0]->name == "1") {
      e = mk(Node::fn, "a" + name, {arg});
      should_pow = false;
    }
    const bool zero_pow =
        sup && (*sup)->k == Node::num && (*sup)->name.find_first_not_of("0.") == std::string::npos;
    if (sup && should_pow && !zero_pow) e = mk(Node::pow, "", {e, *sup});
    return e;
  }

  std::vector<Tok> t_;
  size_t pos_ = 0;
  int nesting_ = 0;                        // unary() frames open
  std::unordered_map<size_t, Memo> memo_;  // comp() by 2 * position + nofunc
};

// ---- Values.
using C = std::complex<long double>;

// Exact rationals while they fit; nullopt otherwise (then the numeric route decides).
struct Q {
  __int128 p = 0, q = 1;
};

std::optional<Q> reduce(__int128 p, __int128 q) {
  if (q == 0) return std::nullopt;
  if (q < 0) p = -p, q = -q;
  __int128 a = p < 0 ? -p : p, b = q;
  while (b) a %= b, std::swap(a, b);
  if (a > 1) p /= a, q /= a;
  return Q{p, q};
}

// The most negative __int128 is refused too, so that negating a value never overflows.
constexpr __int128 kInt128Min = static_cast<__int128>(static_cast<unsigned __int128>(1) << 127);

std::optional<__int128> mul(__int128 a, __int128 b) {
  __int128 r;
  if (__builtin_mul_overflow(a, b, &r) || r == kInt128Min) return std::nullopt;
  return r;
}

std::optional<Q> qadd(Q x, Q y) {
  auto a = mul(x.p, y.q), b = mul(y.p, x.q), d = mul(x.q, y.q);
  __int128 s;
  if (!a || !b || !d || __builtin_add_overflow(*a, *b, &s) || s == kInt128Min) return std::nullopt;
  return reduce(s, *d);
}

std::optional<Q> qmul(Q x, Q y) {
  auto a = mul(x.p, y.p), d = mul(x.q, y.q);
  if (!a || !d) return std::nullopt;
  return reduce(*a, *d);
}

std::optional<Q> parse_number(std::string_view text) {
  __int128 p = 0, q = 1;
  bool frac = false;
  const bool minus = text.starts_with('-');
  if (minus) text.remove_prefix(1);
  for (char c : text) {
    if (c == '.') {
      frac = true;
      continue;
    }
    auto m = mul(p, 10);
    if (!m || __builtin_add_overflow(*m, __int128(c - '0'), &p)) return std::nullopt;
    if (frac) {
      auto mq = mul(q, 10);
      if (!mq) return std::nullopt;
      q = *mq;
    }
  }
  return reduce(minus ? -p : p, q);
}

std::optional<Q> exact(const P& n) {
  switch (n->k) {
    case Node::num:
      return parse_number(n->name);
    case Node::neg: {
      auto x = exact(n->a[0]);
      if (!x) return std::nullopt;
      return Q{-x->p, x->q};
    }
    case Node::add: {
      auto x = exact(n->a[0]), y = exact(n->a[1]);
      if (!x || !y) return std::nullopt;
      return qadd(*x, *y);
    }
    case Node::mul: {
      auto x = exact(n->a[0]), y = exact(n->a[1]);
      if (!x || !y) return std::nullopt;
      return qmul(*x, *y);
    }
    case Node::pow: {
      auto b = exact(n->a[0]), e = exact(n->a[1]);
      if (!b || !e || e->q != 1 || e->p > 400 || e->p < -400) return std::nullopt;
      if (e->p < 0) {
        if (b->p == 0) return std::nullopt;  // zoo
        b = reduce(b->q, b->p);
      }
      Q r{1, 1};
      for (__int128 i = 0; i < (e->p < 0 ? -e->p : e->p); ++i) {
        auto m = qmul(r, *b);
        if (!m) return std::nullopt;
        r = *m;
      }
      return r;
    }
    case Node::fn: {
      if (n->name == "abs") {
        auto x = exact(n->a[0]);
        if (!x) return std::nullopt;
        return Q{x->p < 0 ? -x->p : x->p, x->q};
      }
      if (n->name == "conjugate") return exact(n->a[0]);
      if (n->name == "floor" || n->name == "ceiling") {
        auto x = exact(n->a[0]);
        if (!x) return std::nullopt;
        __int128 f = x->p / x->q;
        if (x->p % x->q != 0 && x->p < 0) --f;
        if (n->name == "ceiling" && x->p % x->q != 0) ++f;
        return Q{f, 1};
      }
      if (n->name == "factorial") {
        auto x = exact(n->a[0]);
        if (!x || x->q != 1 || x->p < 0 || x->p > 33) return std::nullopt;
        __int128 f = 1;
        for (__int128 i = 2; i <= x->p; ++i) f *= i;
        return Q{f, 1};
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t hash(std::string_view s, uint64_t salt) {
  uint64_t h = 1469598103934665603ull ^ mix(salt);
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return mix(h);
}

// A point on the annulus 0.6 <= |z| <= 1.4, drawn from (name, point, slot).
C draw(std::string_view name, uint64_t point, uint64_t slot) {
  const uint64_t h = hash(name, point * 1000003ull + slot);
  const long double r = 0.6L + 0.8L * (long double)(h & 0xFFFFFFFF) / 4294967296.0L;
  const long double th = 6.283185307179586L * (long double)(h >> 32) / 4294967296.0L;
  return std::polar(r, th);
}

bool near_int(C z, long double& v) {
  v = std::round(z.real());
  return std::abs(z.imag()) < 1e-12L && std::abs(z.real() - v) < 1e-12L;
}

C eval(const P& n, uint64_t point);

C opaque(const std::string& name, const std::vector<C>& args, uint64_t point) {
  // An unknown function (f(x), or factorial off the integers): a fixed, generic function of
  // its arguments, the same for the same name.
  (void)point;
  C v = draw(name, 7, 0);
  for (size_t i = 0; i < args.size(); ++i) v += draw(name, 7, i + 1) * args[i];
  if (!args.empty()) v += draw(name, 7, 99) * args[0] * args[0];
  return v;
}

C ipow(C b, long long e) {
  if (e < 0) return C(1) / ipow(b, -e);
  C r = 1;
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return r;
}

C eval(const P& n, uint64_t point) {
  const long double nan = std::numeric_limits<long double>::quiet_NaN();
  switch (n->k) {
    case Node::num:
      return std::strtold(n->name.c_str(), nullptr);
    case Node::sym:
      return draw(n->name, point, 0);
    case Node::inf:
      return C(nan, nan);
    case Node::neg:
      return -eval(n->a[0], point);
    case Node::add:
      return eval(n->a[0], point) + eval(n->a[1], point);
    case Node::mul:
      return eval(n->a[0], point) * eval(n->a[1], point);
    case Node::pow: {
      const C b = eval(n->a[0], point), e = eval(n->a[1], point);
      long double v;
      if (near_int(e, v) && std::abs(v) <= 1e6L) {
        if (b == C(0) && v < 0) return C(nan, nan);
        return ipow(b, (long long)v);
      }
      if (b == C(0)) return e.real() > 0 ? C(0) : C(nan, nan);
      return std::pow(b, e);
    }
    case Node::rel:
      return C(nan, nan);
    case Node::ufn: {
      std::vector<C> args;
      for (auto& x : n->a) args.push_back(eval(x, point));
      return opaque(n->name, args, point);
    }
    case Node::fn:
      break;
  }
  const std::string& f = n->name;
  const C x = eval(n->a[0], point);
  long double v, w;
  if (f == "sqrt") return std::sqrt(x);
  if (f == "root") return std::pow(x, C(1) / eval(n->a[1], point));
  if (f == "abs") return std::abs(x);
  if (f == "conjugate") return std::conj(x);
  if (f == "exp") return std::exp(x);
  if (f == "ln") return std::log(x);
  if (f == "log") return std::log(x) / std::log(eval(n->a[1], point));
  if (f == "sin") return std::sin(x);
  if (f == "cos") return std::cos(x);
  if (f == "tan") return std::tan(x);
  if (f == "csc") return C(1) / std::sin(x);
  if (f == "sec") return C(1) / std::cos(x);
  if (f == "cot") return C(1) / std::tan(x);
  if (f == "asin") return std::asin(x);
  if (f == "acos") return std::acos(x);
  if (f == "atan") return std::atan(x);
  if (f == "acsc") return std::asin(C(1) / x);
  if (f == "asec") return std::acos(C(1) / x);
  if (f == "acot") return std::atan(C(1) / x);
  if (f == "sinh") return std::sinh(x);
  if (f == "cosh") return std::cosh(x);
  if (f == "tanh") return std::tanh(x);
  if (f == "asinh") return std::asinh(x);
  if (f == "acosh") return std::acosh(x);
  if (f == "atanh") return std::atanh(x);
  if ((f == "floor" || f == "ceiling") && std::abs(x.imag()) < 1e-12L)
    return f == "floor" ? std::floor(x.real()) : std::ceil(x.real());
  if (f == "factorial" && near_int(x, v) && v >= 0 && v <= 170) {
    long double r = 1;
    for (int i = 2; i <= int(v); ++i) r *= i;
    return r;
  }
  if (f == "binomial" && near_int(x, v) && near_int(eval(n->a[1], point), w) && v >= 0 &&
      v <= 1000) {
    if (w < 0 || w > v) return 0;
    long double r = 1;
    for (int i = 1; i <= int(w); ++i) r = r * (v - w + i) / i;
    return std::round(r);
  }
  // x is the first argument: evaluating it again would double the work at every level, and
  // "s!!!!!!!!!!!!!!!!!!!!!!" (found by fuzz_grading) took 2^22 evaluations.
  std::vector<C> args{x};
  for (size_t i = 1; i < n->a.size(); ++i) args.push_back(eval(n->a[i], point));
  return opaque(f, args, point);
}

bool finite(C z) {
  return std::isfinite(z.real()) && std::isfinite(z.imag());
}

bool contains_rel(const P& n) {
  if (n->k == Node::rel) return true;
  for (auto& x : n->a)
    if (contains_rel(x)) return true;
  return false;
}

// sympy.Number raises on an integer literal with leading zeros ("015"), as Python does.
bool bad_literal(const P& n) {
  if (n->k == Node::num && n->name.size() > 1 && n->name[0] == '0' &&
      n->name.find('.') == std::string::npos && n->name.find_first_not_of('0') != std::string::npos)
    return true;
  for (auto& x : n->a)
    if (bad_literal(x)) return true;
  return false;
}

// sympy's check_matrix_delimiters, run before parsing: matrix/array environments must pair up
// with their own closing delimiter, in order.
bool matrix_delimiters_ok(std::string_view s) {
  if (s.find("\\begin") == std::string_view::npos && s.find("\\end") == std::string_view::npos)
    return true;  // every delimiter holds one of them
  // The patterns of sympy/parsing/latex/__init__.py, as written there (raw strings).
  static const std::string il = R"(\s*[{]*\s*)", ir = R"(\s*[}]*\s*)", nl = R"((?<!\\left))";
  static const std::string bm = R"(\\begin{matrix})", em = R"(\\end{matrix})";
  static const std::string ba = R"(\\begin{array}{.*?})", ea = R"(\\end{array})";
  static const std::vector<std::pair<std::string, std::string>> delims = {
      {R"(\\left\()" + il + bm, em + ir + R"(\\right\))"},
      {nl + R"(\()" + il + bm, em + ir + R"(\))"},
      {R"(\\left\[)" + il + bm, em + ir + R"(\\right\])"},
      {nl + R"(\[)" + il + bm, em + ir + R"(\])"},
      {R"(\\left\|)" + il + bm, em + ir + R"(\\right\|)"},
      {nl + R"(\|)" + il + bm, em + ir + R"(\|)"},
      {R"(\\begin{pmatrix})", R"(\\end{pmatrix})"},
      {R"(\\begin{bmatrix})", R"(\\end{bmatrix})"},
      {R"(\\begin{vmatrix})", R"(\\end{vmatrix})"},
      {R"(\\left\()" + il + ba, ea + ir + R"(\\right\))"},
      {nl + R"(\()" + il + ba, ea + ir + R"(\))"},
      {R"(\\left\[)" + il + ba, ea + ir + R"(\\right\])"},
      {nl + R"(\[)" + il + ba, ea + ir + R"(\])"},
      {R"(\\left\|)" + il + ba, ea + ir + R"(\\right\|)"},
      {nl + R"(\|)" + il + ba, ea + ir + R"(\|)"},
  };
  struct Span {
    size_t start;
    int delim;  // index into delims
    bool end;
  };
  std::vector<Span> spans;
  for (size_t d = 0; d < delims.size(); ++d) {
    for (auto& m : py_regex_cached(delims[d].first).finditer(s))
      spans.push_back({m.start, int(d), false});
    for (auto& m : py_regex_cached(delims[d].second).finditer(s))
      spans.push_back({m.start, int(d), true});
  }
  std::stable_sort(spans.begin(), spans.end(),
                   [](const Span& a, const Span& b) { return a.start < b.start; });
  for (size_t i = 0; i < spans.size(); i += 2) {
    if (spans[i].end || i + 1 == spans.size()) return false;
    if (!spans[i + 1].end || spans[i + 1].delim != spans[i].delim) return false;
  }
  return true;
}

// parse_latex(s): the expression, or nullopt with why.
std::optional<P> parse(std::string_view s, LatexParse& status) {
  if (!matrix_delimiters_ok(s)) {
    status = LatexParse::error;
    return std::nullopt;
  }
  const std::string stripped = tmpl::pystr::strip(s, std::nullopt, true, true);
  try {
    Parser p(lex(stripped));
    P e = p.math();
    if (bad_literal(e)) {
      status = LatexParse::error;
      return std::nullopt;
    }
    status = contains_rel(e) ? LatexParse::relation : LatexParse::expression;
    return e;
  } catch (const Soft&) {
    status = LatexParse::error;
  } catch (const Hard&) {
    status = LatexParse::error;
  } catch (const Fatal& f) {
    status = f.unsupported ? LatexParse::unsupported : LatexParse::error;
  }
  return std::nullopt;
}

}  // namespace

LatexParse latex_parse_status(std::string_view s) {
  LatexParse st;
  parse(s, st);
  return st;
}

bool minerva_is_equiv(std::string_view x1, std::string_view x2) {
  if (!x1.empty() && x1 == x2) return true;
  LatexParse s1, s2;
  const auto a = parse(x1, s1);
  if (!a) return false;
  const auto b = parse(x2, s2);
  if (!b || s1 != LatexParse::expression || s2 != LatexParse::expression) return false;
  const auto qa = exact(*a), qb = exact(*b);
  if (qa && qb) return qa->p == qb->p && qa->q == qb->q;
  for (uint64_t point = 0; point < 4; ++point) {
    const C u = eval(*a, point), v = eval(*b, point);
    if (!finite(u) || !finite(v)) return false;
    const long double scale = std::max(std::abs(u), std::abs(v));
    if (std::abs(u - v) > 1e-10L * scale + 1e-13L) return false;
  }
  return true;
}

}  // namespace erank::grading
