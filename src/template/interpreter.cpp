#include "template/interpreter.h"

#include <cmath>

#include "core/error.h"
#include "template/pystr.h"

namespace erank::tmpl {

Value* Frame::find(const std::string& name) {
  for (auto& [k, v] : vars)
    if (k == name) return &v;
  return nullptr;
}
void Frame::set(const std::string& name, Value v) {
  if (Value* x = find(name)) {
    *x = std::move(v);
  } else {
    vars.emplace_back(name, std::move(v));
  }
}

// Switches the current scope for a block and restores it, also on exceptions.
struct FrameGuard {
  Interp& in;
  std::shared_ptr<Frame> saved;
  FrameGuard(Interp& i, std::shared_ptr<Frame> f) : in(i), saved(std::move(i.frame_)) {
    in.frame_ = std::move(f);
  }
  ~FrameGuard() { in.frame_ = std::move(saved); }
};

Interp::Interp(std::string origin, Value context, Limits limits)
    : origin_(std::move(origin)),
      context_(std::move(context)),
      limits_(limits),
      frame_(std::make_shared<Frame>()) {}

Interp::~Interp() {
  for (auto& ns : namespaces_) {
    auto items = std::move(ns->items);  // released here while every namespace is still held
    ns->items.clear();
  }
  for (auto& f : closures_) {
    auto vars = std::move(f->vars);
    f->vars.clear();
  }
}

std::string Interp::render(const Body& body) {
  std::string out;
  exec(body, out);
  return out;
}

void Interp::check_size(size_t n) const {
  if (n > limits_.max_output) fault("rendered text exceeds {} bytes", limits_.max_output);
}

Value Interp::lookup(const std::string& name) {
  for (Frame* f = frame_.get(); f; f = f->parent.get())
    if (Value* v = f->find(name)) return *v;
  if (context_.is_dict())
    if (const Value* v = context_.dict->find(std::string_view(name))) return *v;
  Value g = global(name);
  if (!g.is_undefined()) return g;
  return Value::undef(fmt::format("'{}' is undefined", name));
}

Interp::Flow Interp::exec(const Body& body, std::string& out) {
  for (auto& s : body) {
    const Flow f = exec_stmt(*s, out);
    if (f != Flow::normal) return f;
  }
  return Flow::normal;
}

void Interp::assign(const std::vector<std::string>& targets, bool unpack, const Value& v) {
  if (!unpack) {
    frame_->set(targets[0], v);
    return;
  }
  std::vector<Value> items = iterate(defined_or_fail(v), "unpacking");
  if (items.size() != targets.size())
    fault("{} values to unpack (expected {}, got {})",
          items.size() > targets.size() ? "too many" : "not enough", targets.size(), items.size());
  for (size_t i = 0; i < targets.size(); ++i) frame_->set(targets[i], items[i]);
}

void Interp::exec_set(const Stmt& s, Value v) {
  if (s.attr.empty()) return assign(s.targets, s.tuple_target, v);
  Value ns = lookup(s.targets[0]);
  if (!ns.is_namespace()) fault("cannot assign attribute on non-namespace object");
  if (!s.attr.empty() && s.attr[0] == '_')
    fault("chat templates cannot store underscore-prefixed attributes on a namespace ('{}')",
          s.attr);
  ns.dict->set(Value::str(s.attr), std::move(v));
}

Interp::Flow Interp::exec_stmt(const Stmt& s, std::string& out) {
  try {
    switch (s.kind) {
      case Stmt::Kind::text:
        out += s.text;
        break;
      case Stmt::Kind::print: {
        Value v = eval(*s.expr);
        if (limits_.strict_undefined && v.is_undefined()) undefined_error(v);
        out += to_str(v);
        break;
      }
      case Stmt::Kind::if_:
        for (size_t i = 0; i < s.bodies.size(); ++i)
          if (i >= s.conds.size() || eval(*s.conds[i]).truthy()) return exec(s.bodies[i], out);
        break;
      case Stmt::Kind::for_:
        return exec_for(s, out);
      case Stmt::Kind::set:
        exec_set(s, eval(*s.expr));
        break;
      case Stmt::Kind::set_block:
      case Stmt::Kind::filter: {
        std::string inner;
        exec(s.bodies[0], inner);
        Value v = Value::str(std::move(inner));
        for (auto& f : s.filters) {
          Args a = eval_args(*f, 1);
          v = filter(f->name, v, a);
        }
        if (s.kind == Stmt::Kind::filter) {
          out += to_str(v);
        } else {
          exec_set(s, std::move(v));
        }
        break;
      }
      case Stmt::Kind::macro:
        frame_->set(s.text, make_macro(s, s.text));
        break;
      case Stmt::Kind::call_block: {
        const Expr& call = *s.expr;
        Value fn = eval(*call.a[0]);
        Args a = eval_args(call, 1);
        a.kw.emplace_back("caller", make_macro(s, "caller"));
        out += to_str(this->call(fn, a));
        break;
      }
      case Stmt::Kind::with: {
        auto f = std::make_shared<Frame>();
        f->parent = frame_;
        for (size_t i = 0; i < s.targets.size(); ++i) f->set(s.targets[i], eval(*s.values[i]));
        FrameGuard g(*this, f);
        return exec(s.bodies[0], out);
      }
      case Stmt::Kind::break_:
        return Flow::break_;
      case Stmt::Kind::continue_:
        return Flow::continue_;
    }
  } catch (const Fault& f) {
    throw Error(fmt::format("{}:{}: {}", origin_, s.line, f.what()));
  }
  check_size(out.size());
  return Flow::normal;
}

Interp::Flow Interp::exec_for(const Stmt& s, std::string& out) {
  std::vector<Value> items = iterate(eval(*s.expr), "for loop");
  if (s.cond) {  // `for x in xs if c`: filtered first, so loop.length counts what is kept
    std::vector<Value> kept;
    for (auto& v : items) {
      auto f = std::make_shared<Frame>();
      f->parent = frame_;
      FrameGuard g(*this, f);
      assign(s.targets, s.tuple_target, v);
      if (eval(*s.cond).truthy()) kept.push_back(v);
    }
    items = std::move(kept);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    auto f = std::make_shared<Frame>();  // each iteration starts from the enclosing scope
    f->parent = frame_;
    FrameGuard g(*this, f);
    assign(s.targets, s.tuple_target, items[static_cast<size_t>(i)]);
    std::vector<std::pair<Value, Value>> loop = {
        {Value::str("index"), Value::integer(i + 1)},
        {Value::str("index0"), Value::integer(i)},
        {Value::str("revindex"), Value::integer(n - i)},
        {Value::str("revindex0"), Value::integer(n - i - 1)},
        {Value::str("first"), Value::boolean(i == 0)},
        {Value::str("last"), Value::boolean(i == n - 1)},
        {Value::str("length"), Value::integer(n)},
        {Value::str("depth"), Value::integer(1)},
        {Value::str("depth0"), Value::integer(0)},
    };
    if (i > 0) loop.emplace_back(Value::str("previtem"), items[static_cast<size_t>(i - 1)]);
    if (i + 1 < n) loop.emplace_back(Value::str("nextitem"), items[static_cast<size_t>(i + 1)]);
    loop.emplace_back(Value::str("cycle"), Value::function("loop.cycle", [i](Interp&, Args& a) {
                        if (a.pos.empty()) fault("no items for cycling given");
                        return a.pos[static_cast<size_t>(i) % a.pos.size()];
                      }));
    f->set("loop", Value::make_dict(std::move(loop)));
    const Flow fl = exec(s.bodies[0], out);
    if (fl == Flow::break_) break;
  }
  if (n == 0 && s.bodies.size() > 1) return exec(s.bodies[1], out);
  return Flow::normal;
}

// A macro (or a call block's `caller`): a callable closing over the scope it was defined in.
Value Interp::make_macro(const Stmt& s, const std::string& name) {
  const Stmt* def = &s;
  std::shared_ptr<Frame> closure = frame_;
  closures_.push_back(frame_);
  return Value::function(name, [def, closure, name](Interp& in, Args& args) {
    if (++in.depth_ > in.limits_.max_call_depth) {
      --in.depth_;
      fault("maximum recursion depth exceeded calling '{}'", name);
    }
    auto f = std::make_shared<Frame>();
    f->parent = closure;
    FrameGuard g(in, f);
    std::vector<Value> extra;
    const size_t np = def->targets.size();
    for (size_t i = 0; i < args.pos.size(); ++i) {
      if (i < np) {
        f->set(def->targets[i], args.pos[i]);
      } else {
        extra.push_back(args.pos[i]);
      }
    }
    std::vector<std::pair<Value, Value>> kwargs;
    for (auto& [k, v] : args.kw) {
      bool param = false;
      for (size_t i = 0; i < np; ++i)
        if (def->targets[i] == k) {
          if (i < args.pos.size())
            fault("macro '{}' got multiple values for argument '{}'", name, k);
          f->set(k, v);
          param = true;
        }
      if (!param && k == "caller") {
        f->set("caller", v);
      } else if (!param) {
        kwargs.emplace_back(Value::str(k), v);
      }
    }
    for (size_t i = 0; i < np; ++i) {
      if (f->find(def->targets[i])) continue;
      const Expr* d = i < def->defaults.size() ? def->defaults[i].get() : nullptr;
      f->set(def->targets[i],
             d ? in.eval(*d)
               : Value::undef(fmt::format("parameter '{}' was not provided", def->targets[i])));
    }
    f->set("varargs", Value::make_list(std::move(extra), true));
    f->set("kwargs", Value::make_dict(std::move(kwargs)));
    std::string out;
    try {
      in.exec(def->bodies[0], out);
    } catch (...) {
      --in.depth_;
      throw;
    }
    --in.depth_;
    return Value::str(std::move(out));
  });
}

Value Interp::call(const Value& fn, Args& args) {
  if (fn.is_undefined()) undefined_error(fn);
  if (fn.type != Value::Type::func) fault("'{}' object is not callable", fn.type_name());
  return fn.func->fn(*this, args);
}

Args Interp::eval_args(const Expr& e, size_t first) {
  Args a;
  for (size_t i = first; i < e.a.size(); ++i) a.pos.push_back(eval(*e.a[i]));
  for (auto& [k, x] : e.kw) a.kw.emplace_back(k, eval(*x));
  return a;
}

Value Interp::eval(const Expr& e) {
  if (limits_.max_steps && ++steps_ > limits_.max_steps) fault("evaluation step limit reached");
  try {
    return eval_node(e);
  } catch (const Fault& f) {
    throw Error(fmt::format("{}:{}: {}", origin_, e.line, f.what()));
  }
}

namespace {
std::optional<int64_t> slice_part(const Value& v) {
  if (v.is_none()) return std::nullopt;
  if (!v.is_int()) fault("slice indices must be integers or None");
  return v.as_int();
}
}  // namespace

Value Interp::eval_node(const Expr& e) {
  using K = Expr::Kind;
  switch (e.kind) {
    case K::constant:
      return e.value;
    case K::name:
      return lookup(e.name);
    case K::attr:
      return get_attr(eval(*e.a[0]), e.name);
    case K::item: {
      Value obj = eval(*e.a[0]);
      return get_item(obj, eval(*e.a[1]));
    }
    case K::slice: {
      Value obj = defined_or_fail(eval(*e.a[0]));
      std::optional<int64_t> p[3];
      for (int k = 0; k < 3; ++k)
        if (e.a[static_cast<size_t>(k) + 1])
          p[k] = slice_part(eval(*e.a[static_cast<size_t>(k) + 1]));
      if (obj.is_string()) {
        const auto cps = pystr::decode(obj.s);
        std::vector<char32_t> r;
        for (int64_t i : pystr::slice_indices(static_cast<int64_t>(cps.size()), p[0], p[1], p[2]))
          r.push_back(cps[static_cast<size_t>(i)]);
        return Value::str(pystr::encode(r));
      }
      if (obj.is_list() && obj.list->lazy) return Value::undef("a generator has no slices");
      if (obj.is_list()) {
        std::vector<Value> r;
        const auto& it = obj.list->items;
        for (int64_t i : pystr::slice_indices(static_cast<int64_t>(it.size()), p[0], p[1], p[2]))
          r.push_back(it[static_cast<size_t>(i)]);
        return Value::make_list(std::move(r), obj.list->tuple);
      }
      fault("'{}' object is not subscriptable", obj.type_name());
    }
    case K::unary: {
      Value v = defined_or_fail(eval(*e.a[0]));
      if (!v.is_number()) fault("bad operand type for unary {}: '{}'", e.name, v.type_name());
      if (e.name == "+") return v.type == Value::Type::boolean ? Value::integer(v.as_int()) : v;
      if (v.type == Value::Type::real) return Value::real(-v.f);
      if (v.as_int() == INT64_MIN) fault("integer overflow");
      return Value::integer(-v.as_int());
    }
    case K::binary: {
      Value l = eval(*e.a[0]);
      Value r = eval(*e.a[1]);
      return binary_op(e.name, l, r, *this);
    }
    case K::compare: {
      Value l = eval(*e.a[0]);
      for (size_t k = 0; k < e.ops.size(); ++k) {
        Value r = eval(*e.a[k + 1]);
        const std::string& op = e.ops[k];
        bool ok;
        if (op == "==")
          ok = equal(l, r);
        else if (op == "!=")
          ok = !equal(l, r);
        else if (op == "in")
          ok = contains(r, l);
        else if (op == "not in")
          ok = !contains(r, l);
        else {
          const int c = compare(l, r, op.c_str());
          ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
        }
        if (!ok) return Value::boolean(false);
        l = std::move(r);
      }
      return Value::boolean(true);
    }
    case K::and_: {
      Value l = eval(*e.a[0]);
      return l.truthy() ? eval(*e.a[1]) : l;
    }
    case K::or_: {
      Value l = eval(*e.a[0]);
      return l.truthy() ? l : eval(*e.a[1]);
    }
    case K::not_:
      return Value::boolean(!eval(*e.a[0]).truthy());
    case K::cond:
      if (eval(*e.a[0]).truthy()) return eval(*e.a[1]);
      if (e.a[2]) return eval(*e.a[2]);
      return Value::undef(
          "the inline if-expression evaluated to false and no else section was defined");
    case K::filter: {
      Value v = eval(*e.a[0]);
      Args a = eval_args(e, 1);
      return filter(e.name, v, a);
    }
    case K::test: {
      Value v = eval(*e.a[0]);
      Args a = eval_args(e, 1);
      const bool r = test(e.name, v, a);
      return Value::boolean(e.negated ? !r : r);
    }
    case K::call: {
      Value fn = eval(*e.a[0]);
      Args a = eval_args(e, 1);
      return call(fn, a);
    }
    case K::list:
    case K::tuple: {
      std::vector<Value> items;
      for (auto& x : e.a) items.push_back(eval(*x));
      return Value::make_list(std::move(items), e.kind == K::tuple);
    }
    case K::dict: {
      std::vector<std::pair<Value, Value>> items;
      for (size_t k = 0; k + 1 < e.a.size(); k += 2) {
        Value key = eval(*e.a[k]);
        if (key.is_list() && !key.list->tuple) fault("unhashable type: 'list'");
        if (key.is_dict()) fault("unhashable type: 'dict'");
        items.emplace_back(std::move(key), eval(*e.a[k + 1]));
      }
      return Value::make_dict(std::move(items));
    }
  }
  fault("unknown expression");
}

// --- Python operators ---

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

// a OP b with overflow detection (`op` is one of the __builtin_*_overflow functions).
template <typename F>
int64_t checked(F op, int64_t a, int64_t b) {
  int64_t r = 0;
  if (op(a, b, &r)) fault("integer overflow");
  return r;
}
bool add_ovf(int64_t a, int64_t b, int64_t* r) {
  return __builtin_add_overflow(a, b, r);
}
bool sub_ovf(int64_t a, int64_t b, int64_t* r) {
  return __builtin_sub_overflow(a, b, r);
}
bool mul_ovf(int64_t a, int64_t b, int64_t* r) {
  return __builtin_mul_overflow(a, b, r);
}

Value repeat(const Value& seq, int64_t n, const Interp& in) {
  if (n <= 0) return seq.is_string() ? Value::str("") : Value::make_list({}, seq.list->tuple);
  const size_t unit = seq.is_string() ? seq.s.size() : seq.list->items.size();
  if (unit && static_cast<uint64_t>(n) > (size_t{1} << 40) / unit) fault("repetition too large");
  in.check_size(unit * static_cast<size_t>(n));
  if (seq.is_string()) {
    std::string r;
    r.reserve(unit * static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) r += seq.s;
    return Value::str(std::move(r));
  }
  std::vector<Value> r;
  for (int64_t k = 0; k < n; ++k) r.insert(r.end(), seq.list->items.begin(), seq.list->items.end());
  return Value::make_list(std::move(r), seq.list->tuple);
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b, const Interp& in) {
  if (op == "~") {
    std::string r = to_str(a) + to_str(b);
    in.check_size(r.size());
    return Value::str(std::move(r));
  }
  defined_or_fail(a);
  defined_or_fail(b);
  const bool real = a.type == Value::Type::real || b.type == Value::Type::real;
  if (a.is_number() && b.is_number()) {
    const int64_t x = a.as_int(), y = b.as_int();
    const double p = a.as_double(), q = b.as_double();
    if (op == "+") return real ? Value::real(p + q) : Value::integer(checked(add_ovf, x, y));
    if (op == "-") return real ? Value::real(p - q) : Value::integer(checked(sub_ovf, x, y));
    if (op == "*") return real ? Value::real(p * q) : Value::integer(checked(mul_ovf, x, y));
    if (op == "/") {
      if (q == 0) fault("division by zero");
      return Value::real(p / q);
    }
    if (op == "//" || op == "%") {
      if (real) {
        if (q == 0) fault("float {} by zero", op == "//" ? "floor division" : "modulo");
        // CPython's float_divmod
        double m = std::fmod(p, q), d = (p - m) / q;
        if (m != 0) {
          if ((q < 0) != (m < 0)) {
            m += q;
            d -= 1.0;
          }
        } else {
          m = std::copysign(0.0, q);
        }
        if (op == "%") return Value::real(m);
        if (d == 0) return Value::real(std::copysign(0.0, p / q));
        double fd = std::floor(d);
        if (d - fd > 0.5) fd += 1.0;
        return Value::real(fd);
      }
      if (y == 0) fault("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) {
        if (op == "%") return Value::integer(0);
        fault("integer overflow");
      }
      int64_t qt = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --qt;
        m += y;
      }
      return Value::integer(op == "//" ? qt : m);
    }
    if (op == "**") {
      if (!real && y >= 0) {
        int64_t acc = 1, base = x;
        for (int64_t e = y; e > 0; e >>= 1) {
          if (e & 1) acc = checked(mul_ovf, acc, base);
          if (e > 1) base = checked(mul_ovf, base, base);
        }
        return Value::integer(acc);
      }
      if (p == 0 && q < 0) fault("0.0 cannot be raised to a negative power");
      return Value::real(std::pow(p, q));
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      in.check_size(a.s.size() + b.s.size());
      if (!a.markup && !b.markup) return Value::str(a.s + b.s);
      // Markup + str escapes the str (markupsafe), as `"x"|safe + s` does in jinja2
      Value r =
          Value::str((a.markup ? a.s : html_escape(a.s)) + (b.markup ? b.s : html_escape(b.s)));
      r.markup = true;
      return r;
    }
    if (a.is_list() && b.is_list() && a.list->tuple == b.list->tuple && !a.list->lazy &&
        !b.list->lazy) {
      std::vector<Value> r = a.list->items;
      r.insert(r.end(), b.list->items.begin(), b.list->items.end());
      return Value::make_list(std::move(r), a.list->tuple);
    }
    if (a.is_string()) fault("can only concatenate str (not \"{}\") to str", b.type_name());
    if (a.is_list() && !a.list->tuple && !a.list->lazy)
      fault("can only concatenate list (not \"{}\") to list", b.type_name());
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && b.is_int()) return repeat(a, b.as_int(), in);
    if ((b.is_string() || b.is_list()) && a.is_int()) return repeat(b, a.as_int(), in);
  }
  if (op == "%" && a.is_string())
    fault("unsupported construct: printf-style '%' string formatting");
  fault("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
}

bool contains(const Value& c, const Value& item) {
  switch (c.type) {
    case Value::Type::undefined:
      return false;
    case Value::Type::string:
      if (!item.is_string())
        fault("'in <string>' requires string as left operand, not {}", item.type_name());
      return c.s.find(item.s) != std::string::npos;
    case Value::Type::list:
      for (auto& x : c.list->items)
        if (equal(x, item)) return true;
      return false;
    case Value::Type::dict:
      if (!c.dict->ns) return c.dict->find(item) != nullptr;
      break;
    default:
      break;
  }
  fault("argument of type '{}' is not iterable", c.type_name());
}

}  // namespace erank::tmpl
