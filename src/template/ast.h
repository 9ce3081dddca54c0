// Syntax tree of the Jinja subset. One node type per layer (expressions, statements); the
// interpreter switches on `kind`. Every node keeps its template line for error messages.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/value.h"

namespace erank::tmpl {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    constant,  // value
    name,      // name
    attr,      // a[0].name
    item,      // a[0][a[1]]
    slice,     // a[0][a[1]:a[2]:a[3]] (null parts are absent)
    unary,     // name in {"-", "+"}: a[0]
    binary,    // name in {+ - * / // % ** ~}: a[0] op a[1]
    compare,   // a[0] ops[0] a[1] ops[1] a[2] ... (Python chained comparison)
    and_,      // a[0] and a[1]
    or_,       // a[0] or a[1]
    not_,      // not a[0]
    cond,      // a[1] if a[0] else a[2] (a[2] may be null: undefined)
    filter,    // a[0] | name(a[1..], kw)
    test,      // a[0] is [not] name(a[1..], kw); negated
    call,      // a[0](a[1..], kw)
    list,      // [a...]
    tuple,     // (a...)
    dict,      // {a[0]: a[1], a[2]: a[3], ...}
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;
  bool negated = false;
  std::vector<ExprPtr> a;
  std::vector<std::pair<std::string, ExprPtr>> kw;
  std::vector<std::string> ops;
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind {
    text,        // text
    print,       // {{ expr }}
    if_,         // conds[i] -> bodies[i]; bodies.back() is the else when bodies > conds
    for_,        // for targets in expr [if cond]: bodies[0], else bodies[1]
    set,         // targets = expr, or `ns.attr = expr` (attr set)
    set_block,   // {% set targets[0] | filters %} bodies[0]
    macro,       // name(params = defaults): bodies[0]
    call_block,  // {% call(params) expr %} bodies[0]
    filter,      // {% filter filters %} bodies[0]
    break_,
    continue_,
    with,  // {% with targets[i] = values[i] %} bodies[0]
  };
  Kind kind;
  int line = 0;
  std::string text;
  std::string attr;                  // set: namespace attribute
  std::vector<std::string> targets;  // for / set / macro params / call params
  bool tuple_target = false;         // `for a, b in` / `set a, b =` (unpacking)
  ExprPtr expr, cond;
  std::vector<ExprPtr> conds, values, defaults;  // if / with / macro defaults (null = none)
  std::vector<ExprPtr> filters;  // set_block / filter: Expr::filter nodes with a[0] null
  std::vector<Body> bodies;
};

}  // namespace erank::tmpl
