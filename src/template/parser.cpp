#include "template/parser.h"

#include <algorithm>

#include "core/error.h"

namespace erank::tmpl {
namespace {

constexpr int kMaxDepth = 200;  // nesting of expressions and blocks; deeper input is refused

class Parser {
 public:
  Parser(const std::vector<Token>& t, const std::string& origin) : t_(t), origin_(origin) {}

  Body run() {
    Body b = subparse({});
    if (cur().kind != Tok::eof) error("unexpected '" + describe(cur()) + "'");
    return b;
  }

 private:
  // --- token stream ---
  const Token& cur() const { return t_[p_]; }
  const Token& look(size_t k = 1) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  void next() {
    if (p_ + 1 < t_.size()) ++p_;
  }
  bool is_op(const char* op) const { return cur().kind == Tok::op && cur().text == op; }
  bool is_name(const char* n) const { return cur().kind == Tok::name && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tok::eof:
        return "end of template";
      case Tok::var_end:
        return "end of print statement";
      case Tok::block_end:
        return "end of statement block";
      case Tok::var_begin:
        return "begin of print statement";
      case Tok::block_begin:
        return "begin of statement block";
      case Tok::data:
        return "template data";
      default:
        return t.text;
    }
  }
  [[noreturn]] void error(const std::string& msg) const {
    fail("{}:{}: syntax error: {}", origin_, cur().line, msg);
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) error(fmt::format("expected '{}', got '{}'", op, describe(cur())));
  }
  void expect_name(const char* n) {
    if (!skip_name(n)) error(fmt::format("expected '{}', got '{}'", n, describe(cur())));
  }
  std::string expect_ident() {
    if (cur().kind != Tok::name) error("expected a name, got '" + describe(cur()) + "'");
    std::string n = cur().text;
    next();
    return n;
  }
  void expect_block_end() {
    if (cur().kind != Tok::block_end)
      error("expected 'end of statement block', got '" + describe(cur()) + "'");
    next();
  }
  struct Depth {
    Parser& p;
    explicit Depth(Parser& q) : p(q) {
      if (++p.depth_ > kMaxDepth) p.error("template nested too deeply");
    }
    ~Depth() { --p.depth_; }
  };

  ExprPtr node(Expr::Kind k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }

  // --- statements ---
  // Parses until a block tag named in `ends` (left current) or the end of the template.
  Body subparse(const std::vector<std::string>& ends) {
    Depth d(*this);
    Body body;
    while (cur().kind != Tok::eof) {
      const Token& tk = cur();
      if (tk.kind == Tok::data) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::text;
        s->line = tk.line;
        s->text = tk.text;
        body.push_back(std::move(s));
        next();
      } else if (tk.kind == Tok::var_begin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::print;
        s->line = tk.line;
        s->expr = parse_tuple(true, {});
        if (cur().kind != Tok::var_end)
          error("expected 'end of print statement', got '" + describe(cur()) + "'");
        next();
        body.push_back(std::move(s));
      } else if (tk.kind == Tok::block_begin) {
        next();
        if (cur().kind == Tok::name &&
            std::find(ends.begin(), ends.end(), cur().text) != ends.end())
          return body;
        body.push_back(statement(ends));
        expect_block_end();
      } else {
        error("unexpected '" + describe(tk) + "'");
      }
    }
    if (!ends.empty()) {
      std::string want;
      for (auto& e : ends) want += (want.empty() ? "'" : " or '") + e + "'";
      error("unexpected end of template, expected " + want);
    }
    return body;
  }

  // After the tag's header: block end, body up to one of `ends`; drop_needle consumes the end name.
  Body statements(const std::vector<std::string>& ends, bool drop_needle) {
    skip_op(":");
    expect_block_end();
    Body b = subparse(ends);
    if (cur().kind == Tok::eof) error("unexpected end of template");
    if (drop_needle) next();
    return b;
  }

  std::unique_ptr<Stmt> stmt(Stmt::Kind k, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = k;
    s->line = line;
    return s;
  }

  std::unique_ptr<Stmt> statement(const std::vector<std::string>& open_ends) {
    if (cur().kind != Tok::name) error("tag name expected");
    const std::string tag = cur().text;
    const int line = cur().line;
    if (tag == "if") return parse_if();
    if (tag == "for") return parse_for();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "call") return parse_call_block();
    if (tag == "filter") {
      next();
      auto s = stmt(Stmt::Kind::filter, line);
      s->filters = parse_filter_chain(nullptr, true);
      s->bodies.push_back(statements({"endfilter"}, true));
      return s;
    }
    if (tag == "with" || tag == "generation") {  // generation: transformers' AssistantTracker
      next();
      auto s = stmt(Stmt::Kind::with, line);
      while (tag == "with" && cur().kind != Tok::block_end) {
        if (!s->targets.empty()) expect_op(",");
        s->targets.push_back(expect_ident());
        expect_op("=");
        s->values.push_back(parse_expression(true));
      }
      s->bodies.push_back(statements({"end" + tag}, true));
      return s;
    }
    if (tag == "print") {
      next();
      auto s = stmt(Stmt::Kind::print, line);
      s->expr = parse_tuple(true, {});
      return s;
    }
    if (tag == "break" || tag == "continue") {
      if (loops_ == 0) error("'" + tag + "' outside of a loop");
      next();
      return stmt(tag == "break" ? Stmt::Kind::break_ : Stmt::Kind::continue_, line);
    }
    static const char* unsupported[] = {"include",    "extends", "block",     "import", "from",
                                        "autoescape", "trans",   "pluralize", "do",     "raw"};
    for (const char* u : unsupported)
      if (tag == u)
        fail("{}:{}: unsupported construct: the '{{% {} %}}' tag is not in erank's Jinja subset",
             origin_, line, tag);
    if (!open_ends.empty()) {
      std::string want;
      for (auto& e : open_ends) want += (want.empty() ? "'" : " or '") + e + "'";
      error("unknown tag '" + tag + "' (looking for " + want + ")");
    }
    error("unknown tag '" + tag + "'");
  }

  std::unique_ptr<Stmt> parse_if() {
    auto s = stmt(Stmt::Kind::if_, cur().line);
    next();
    while (true) {
      s->conds.push_back(parse_tuple(false, {}));
      s->bodies.push_back(statements({"elif", "else", "endif"}, false));
      const std::string t = cur().text;
      next();
      if (t == "elif") continue;
      if (t == "else") s->bodies.push_back(statements({"endif"}, true));
      break;
    }
    return s;
  }

  // Names for `for` / `set` targets: a name or a tuple of names.
  void assign_targets(Stmt& s, const char* end_name) {
    bool paren = skip_op("(");
    while (true) {
      s.targets.push_back(expect_ident());
      if (!skip_op(",")) break;
      s.tuple_target = true;
      if ((end_name && is_name(end_name)) || (paren && is_op(")"))) break;
    }
    if (paren) {
      expect_op(")");
      s.tuple_target = true;
    }
  }

  std::unique_ptr<Stmt> parse_for() {
    auto s = stmt(Stmt::Kind::for_, cur().line);
    next();
    assign_targets(*s, "in");
    expect_name("in");
    s->expr = parse_tuple(false, {"recursive"});
    if (skip_name("if")) s->cond = parse_expression(true);
    if (is_name("recursive"))
      fail("{}:{}: unsupported construct: recursive for loops", origin_, cur().line);
    ++loops_;
    s->bodies.push_back(statements({"endfor", "else"}, false));
    --loops_;
    const std::string t = cur().text;
    next();
    if (t == "else") s->bodies.push_back(statements({"endfor"}, true));
    return s;
  }

  std::unique_ptr<Stmt> parse_set() {
    auto s = stmt(Stmt::Kind::set, cur().line);
    next();
    if (cur().kind == Tok::name && look().kind == Tok::op && look().text == ".") {
      s->targets.push_back(expect_ident());
      next();
      s->attr = expect_ident();
    } else {
      assign_targets(*s, nullptr);
    }
    if (skip_op("=")) {
      s->expr = parse_tuple(true, {});
      return s;
    }
    if (!s->attr.empty() || s->tuple_target) error("expected '='");
    s->kind = Stmt::Kind::set_block;
    s->filters = parse_filter_chain(nullptr, false);
    s->bodies.push_back(statements({"endset"}, true));
    return s;
  }

  void signature(Stmt& s) {
    expect_op("(");
    while (!is_op(")")) {
      if (!s.targets.empty()) expect_op(",");
      s.targets.push_back(expect_ident());
      if (skip_op("=")) {
        s.defaults.push_back(parse_expression(true));
      } else {
        if (!s.defaults.empty() && s.defaults.back())
          error("non-default argument follows default argument");
        s.defaults.push_back(nullptr);
      }
    }
    expect_op(")");
  }

  std::unique_ptr<Stmt> parse_macro() {
    auto s = stmt(Stmt::Kind::macro, cur().line);
    next();
    s->text = expect_ident();
    signature(*s);
    const int saved = loops_;
    loops_ = 0;
    s->bodies.push_back(statements({"endmacro"}, true));
    loops_ = saved;
    return s;
  }

  std::unique_ptr<Stmt> parse_call_block() {
    auto s = stmt(Stmt::Kind::call_block, cur().line);
    next();
    if (is_op("(")) signature(*s);
    s->expr = parse_expression(true);
    if (s->expr->kind != Expr::Kind::call) error("expected call");
    const int saved = loops_;
    loops_ = 0;
    s->bodies.push_back(statements({"endcall"}, true));
    loops_ = saved;
    return s;
  }

  // --- expressions ---
  bool tuple_end(const std::vector<std::string>& extra) const {
    if (cur().kind == Tok::var_end || cur().kind == Tok::block_end || cur().kind == Tok::eof ||
        (cur().kind == Tok::op && cur().text == ")"))
      return true;
    return cur().kind == Tok::name &&
           std::find(extra.begin(), extra.end(), cur().text) != extra.end();
  }

  ExprPtr parse_tuple(bool condexpr, const std::vector<std::string>& extra, bool paren = false) {
    const int line = cur().line;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (tuple_end(extra)) break;
      args.push_back(parse_expression(condexpr));
      if (!is_op(",")) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!paren) error("expected an expression, got '" + describe(cur()) + "'");
    }
    auto e = node(Expr::Kind::tuple, line);
    e->a = std::move(args);
    return e;
  }

  ExprPtr parse_expression(bool condexpr) {
    Depth d(*this);
    return condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr e = parse_or();
    while (is_name("if")) {
      const int line = cur().line;
      next();
      auto c = node(Expr::Kind::cond, line);
      c->a.push_back(parse_or());
      c->a.push_back(std::move(e));
      c->a.push_back(skip_name("else") ? parse_condexpr() : nullptr);
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(Expr::Kind k, ExprPtr l, ExprPtr r, int line, std::string op = "") {
    auto e = node(k, line);
    e->name = std::move(op);
    e->a.push_back(std::move(l));
    e->a.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      const int line = cur().line;
      next();
      e = binary(Expr::Kind::or_, std::move(e), parse_and(), line);
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      const int line = cur().line;
      next();
      e = binary(Expr::Kind::and_, std::move(e), parse_not(), line);
    }
    return e;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      Depth d(*this);
      auto e = node(Expr::Kind::not_, cur().line);
      next();
      e->a.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    ExprPtr c;
    while (true) {
      std::string op;
      if (cur().kind == Tok::op &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && look().kind == Tok::name && look().text == "in") {
        op = "not in";
        next();
        next();
      } else {
        break;
      }
      if (!c) {
        c = node(Expr::Kind::compare, line);
        c->a.push_back(std::move(first));
      }
      c->ops.push_back(op);
      c->a.push_back(parse_math1());
    }
    return c ? std::move(c) : std::move(first);
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = cur().text;
      const int line = cur().line;
      next();
      e = binary(Expr::Kind::binary, std::move(e), parse_concat(), line, op);
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      const int line = cur().line;
      next();
      e = binary(Expr::Kind::binary, std::move(e), parse_math2(), line, "~");
    }
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = cur().text;
      const int line = cur().line;
      next();
      e = binary(Expr::Kind::binary, std::move(e), parse_pow(), line, op);
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      const int line = cur().line;
      next();
      e = binary(Expr::Kind::binary, std::move(e), parse_unary(true), line, "**");
    }
    return e;
  }
  ExprPtr parse_unary(bool with_filter) {
    Depth d(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      e = node(Expr::Kind::unary, cur().line);
      e->name = cur().text;
      next();
      e->a.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    return with_filter ? parse_filter_expr(std::move(e)) : std::move(e);
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    if (t.kind == Tok::name) {
      auto e = node(Expr::Kind::constant, t.line);
      if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
        e->value = Value::boolean(t.text[0] == 't' || t.text[0] == 'T');
      } else if (t.text == "none" || t.text == "None") {
        e->value = Value::none();
      } else {
        e->kind = Expr::Kind::name;
        e->name = t.text;
      }
      next();
      return e;
    }
    if (t.kind == Tok::string) {
      auto e = node(Expr::Kind::constant, t.line);
      std::string s;
      while (cur().kind == Tok::string) {  // adjacent literals concatenate
        s += cur().text;
        next();
      }
      e->value = Value::str(std::move(s));
      return e;
    }
    if (t.kind == Tok::integer || t.kind == Tok::real) {
      auto e = node(Expr::Kind::constant, t.line);
      e->value = t.kind == Tok::integer ? Value::integer(t.i) : Value::real(t.f);
      next();
      return e;
    }
    if (is_op("(")) {
      next();
      ExprPtr e = parse_tuple(true, {}, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      auto e = node(Expr::Kind::list, t.line);
      next();
      while (!is_op("]")) {
        if (!e->a.empty()) expect_op(",");
        if (is_op("]")) break;
        e->a.push_back(parse_expression(true));
      }
      expect_op("]");
      return e;
    }
    if (is_op("{")) {
      auto e = node(Expr::Kind::dict, t.line);
      next();
      while (!is_op("}")) {
        if (!e->a.empty()) expect_op(",");
        if (is_op("}")) break;
        e->a.push_back(parse_expression(true));
        expect_op(":");
        e->a.push_back(parse_expression(true));
      }
      expect_op("}");
      return e;
    }
    error("unexpected '" + describe(t) + "'");
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (is_op(".")) {
        const int line = cur().line;
        next();
        if (cur().kind == Tok::name) {
          auto a = node(Expr::Kind::attr, line);
          a->name = cur().text;
          a->a.push_back(std::move(e));
          e = std::move(a);
        } else if (cur().kind == Tok::integer) {
          auto a = node(Expr::Kind::item, line);
          a->a.push_back(std::move(e));
          auto k = node(Expr::Kind::constant, line);
          k->value = Value::integer(cur().i);
          a->a.push_back(std::move(k));
          e = std::move(a);
        } else {
          error("expected name or number");
        }
        next();
      } else if (is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    const int line = cur().line;
    next();
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    if (args.empty()) error("expected a subscript");
    if (args.size() == 1 && args[0]->kind == Expr::Kind::slice) {
      args[0]->a[0] = std::move(obj);
      return std::move(args[0]);
    }
    auto e = node(Expr::Kind::item, line);
    e->a.push_back(std::move(obj));
    if (args.size() == 1) {
      e->a.push_back(std::move(args[0]));
    } else {
      auto t = node(Expr::Kind::tuple, line);
      for (auto& x : args)
        if (x->kind == Expr::Kind::slice)
          fail("{}:{}: unsupported construct: multi-dimensional slice", origin_, line);
      t->a = std::move(args);
      e->a.push_back(std::move(t));
    }
    return e;
  }

  // One subscript: an expression, or a slice start:stop:step (the slice's a[0] is filled later).
  ExprPtr parse_subscribed() {
    const int line = cur().line;
    std::vector<ExprPtr> parts;
    if (is_op(":")) {
      next();
      parts.push_back(nullptr);
    } else {
      ExprPtr e = parse_expression(true);
      if (!is_op(":")) return e;
      next();
      parts.push_back(std::move(e));
    }
    auto stop_or_step_end = [&] { return is_op("]") || is_op(","); };
    if (is_op(":") || stop_or_step_end()) {
      parts.push_back(nullptr);
    } else {
      parts.push_back(parse_expression(true));
    }
    if (skip_op(":")) {
      parts.push_back(stop_or_step_end() ? nullptr : parse_expression(true));
    } else {
      parts.push_back(nullptr);
    }
    auto s = node(Expr::Kind::slice, line);
    s->a.push_back(nullptr);
    for (auto& p : parts) s->a.push_back(std::move(p));
    return s;
  }

  void call_args(Expr& e) {
    expect_op("(");
    bool comma = false;
    while (!is_op(")")) {
      if (comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**"))
        fail("{}:{}: unsupported construct: *args / **kwargs in a call", origin_, cur().line);
      if (cur().kind == Tok::name && look().kind == Tok::op && look().text == "=") {
        std::string k = cur().text;
        next();
        next();
        e.kw.emplace_back(std::move(k), parse_expression(true));
      } else {
        if (!e.kw.empty()) error("positional argument after keyword argument");
        e.a.push_back(parse_expression(true));
      }
      comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr fn) {
    auto e = node(Expr::Kind::call, cur().line);
    e->a.push_back(std::move(fn));
    call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string n = expect_ident();
    while (is_op(".")) {
      next();
      n += "." + expect_ident();
    }
    return n;
  }

  // `| f(args) | g ...`; with obj null the chain is for a filter/set block (a[0] stays null).
  std::vector<ExprPtr> parse_filter_chain(ExprPtr* obj, bool start_inline) {
    std::vector<ExprPtr> chain;
    while (is_op("|") || start_inline) {
      if (!start_inline) next();
      start_inline = false;
      auto f = node(Expr::Kind::filter, cur().line);
      f->name = dotted_name();
      f->a.push_back(obj ? std::move(*obj) : nullptr);
      if (is_op("(")) call_args(*f);
      if (obj) {
        *obj = std::move(f);
      } else {
        chain.push_back(std::move(f));
      }
    }
    return chain;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        parse_filter_chain(&e, false);
      } else if (is_name("is")) {
        e = parse_test(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_test(ExprPtr obj) {
    auto t = node(Expr::Kind::test, cur().line);
    next();
    t->negated = skip_name("not");
    t->name = dotted_name();
    t->a.push_back(std::move(obj));
    const Token& c = cur();
    if (is_op("(")) {
      call_args(*t);
    } else if ((c.kind == Tok::name || c.kind == Tok::string || c.kind == Tok::integer ||
                c.kind == Tok::real || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) error("You cannot chain multiple tests with is");
      t->a.push_back(parse_postfix(parse_primary()));
    }
    return t;
  }

  const std::vector<Token>& t_;
  const std::string& origin_;
  size_t p_ = 0;
  int depth_ = 0, loops_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens, const std::string& origin) {
  return Parser(tokens, origin).run();
}

}  // namespace erank::tmpl
