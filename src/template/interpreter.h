// Renders a syntax tree against a context, with jinja2's runtime semantics: scopes (a for-loop
// iteration and a macro call get their own; `if` does not), Undefined values, Python operators.
// Failures inside are tmpl::Fault; the innermost node that failed turns it into one erank::Error
// "<origin>:<line>: <message>".
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "template/ast.h"
#include "template/value.h"

namespace erank::tmpl {

struct Limits {
  size_t max_output = size_t{1} << 30;  // bytes of any one rendered string
  int max_call_depth = 200;             // macro recursion
  int64_t max_steps = 0;                // evaluated nodes, 0 = unlimited (the fuzzer bounds it)
  bool strict_undefined = false;        // printing an undefined value fails (StrictUndefined)
};

struct Frame {
  std::vector<std::pair<std::string, Value>> vars;
  std::shared_ptr<Frame> parent;
  Value* find(const std::string& name);
  void set(const std::string& name, Value v);
};

class Interp {
 public:
  Interp(std::string origin, Value context, Limits limits);
  ~Interp();
  // Namespaces are the one mutable object, so they can form cycles (ns.a = ns): the interpreter
  // keeps each one and empties them all when it ends, so nothing leaks or recurses on release.
  void adopt(const Value& ns) { namespaces_.push_back(ns.dict); }
  std::string render(const Body& body);

  // Calls a callable value (macro, builtin, bound method); the filters use it for map().
  Value call(const Value& fn, Args& args);
  Value filter(const std::string& name, const Value& v, Args& args);  // filters.cpp
  bool test(const std::string& name, const Value& v, Args& args);     // filters.cpp
  const std::string& origin() const { return origin_; }
  void check_size(size_t n) const;

 private:
  enum class Flow { normal, break_, continue_ };
  Flow exec(const Body& body, std::string& out);
  Flow exec_stmt(const Stmt& s, std::string& out);
  Flow exec_for(const Stmt& s, std::string& out);
  void exec_set(const Stmt& s, Value v);
  Value eval(const Expr& e);
  Value eval_node(const Expr& e);
  Value lookup(const std::string& name);
  Args eval_args(const Expr& e, size_t first);
  Value make_macro(const Stmt& s, const std::string& name);
  void assign(const std::vector<std::string>& targets, bool unpack, const Value& v);

  std::string origin_;
  Value context_;
  Limits limits_;
  std::shared_ptr<Frame> frame_;
  std::vector<std::shared_ptr<DictObj>> namespaces_;
  std::vector<std::shared_ptr<Frame>> closures_;  // scopes macros close over (a frame holds its
                                                  // macro, which holds the frame: emptied at end)
  int depth_ = 0;
  int64_t steps_ = 0;
  friend struct FrameGuard;
};

// Python operators (interpreter.cpp).
Value binary_op(const std::string& op, const Value& a, const Value& b, const Interp& in);
bool contains(const Value& container, const Value& item);
std::string html_escape(const std::string& s);              // markupsafe.escape
Value get_attr(const Value& obj, const std::string& name);  // methods.cpp
Value get_item(const Value& obj, const Value& key);         // methods.cpp
Value global(const std::string& name);                      // methods.cpp

}  // namespace erank::tmpl
