// Values of the Jinja subset, modelled on the Python objects jinja2 works with: undefined, None,
// bool, int (int64 here, overflow is an error), float, str (UTF-8), list/tuple, dict (insertion
// ordered, as Python's), namespace and callables. Lists and dicts are shared, immutable once built
// (the sandbox forbids mutation); a namespace is the one object a template may change in place.
#pragma once
#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace erank::tmpl {

// A template-level failure without a location; the interpreter adds origin and line.
struct Fault : std::runtime_error {
  explicit Fault(const std::string& m) : std::runtime_error(m) {}
};
template <typename... Args>
[[noreturn]] void fault(fmt::format_string<Args...> f, Args&&... args);

class Interp;
struct Value;
struct Args;
using Native = std::function<Value(Interp&, Args&)>;

struct ListObj;
struct DictObj;
struct FuncObj {
  std::string name;
  Native fn;
};

struct Value {
  enum class Type : uint8_t { undefined, none, boolean, integer, real, string, list, dict, func };
  Type type = Type::undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // string payload, or for undefined: why (the hint jinja2 gives when misused)
  bool markup = false;  // a string marked safe (markupsafe.Markup): `+` escapes the other side
  std::shared_ptr<ListObj> list;
  std::shared_ptr<DictObj> dict;
  std::shared_ptr<FuncObj> func;

  Value() = default;
  static Value undef(std::string hint) {
    Value v;
    v.s = std::move(hint);
    return v;
  }
  static Value none() { return of(Type::none); }
  static Value boolean(bool x) {
    Value v = of(Type::boolean);
    v.b = x;
    return v;
  }
  static Value integer(int64_t x) {
    Value v = of(Type::integer);
    v.i = x;
    return v;
  }
  static Value real(double x) {
    Value v = of(Type::real);
    v.f = x;
    return v;
  }
  static Value str(std::string x) {
    Value v = of(Type::string);
    v.s = std::move(x);
    return v;
  }
  static Value make_list(std::vector<Value> items, bool tuple = false);
  static Value make_dict(std::vector<std::pair<Value, Value>> items, bool ns = false);
  static Value function(std::string name, Native fn);

  bool is_undefined() const { return type == Type::undefined; }
  bool is_none() const { return type == Type::none; }
  bool is_string() const { return type == Type::string; }
  bool is_list() const { return type == Type::list; }
  bool is_dict() const { return type == Type::dict; }
  bool is_namespace() const;
  bool is_int() const { return type == Type::integer || type == Type::boolean; }  // Python int
  bool is_number() const { return is_int() || type == Type::real; }
  int64_t as_int() const { return type == Type::boolean ? (b ? 1 : 0) : i; }
  double as_double() const { return type == Type::real ? f : static_cast<double>(as_int()); }

  bool truthy() const;
  std::string type_name() const;  // Python's type name, for messages ("str", "dict", ...)

 private:
  static Value of(Type t) {
    Value v;
    v.type = t;
    return v;
  }
};

// `depth` (nesting of lists and dicts, a namespace counting 1) is bounded so that comparing,
// printing and destroying a value never recurses without limit.
constexpr int kMaxValueDepth = 1000;
struct ListObj {
  std::vector<Value> items;
  bool tuple = false;
  int depth = 1;
  // A generator in jinja2 (select, map, unique, ...): always true, no len(), not JSON. (Unlike
  // Python's, it can be iterated more than once.)
  bool lazy = false;
};
struct DictObj {
  std::vector<std::pair<Value, Value>> items;  // insertion order, keys unique by Python equality
  bool ns = false;                             // a namespace(): attributes, assignable
  int depth = 1;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(const Value& key, Value v);
};

// Positional and keyword arguments of a call, bound Python-style by `bind`.
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  // Binds to `params` (names in order) and returns one Value per name (undefined when not given).
  // Fails on too many positional or unknown keyword arguments, naming `what`.
  std::vector<Value> bind(const std::string& what, std::initializer_list<const char*> params) const;
};

// Python semantics.
bool equal(const Value& a, const Value& b);                    // ==
int compare(const Value& a, const Value& b, const char* op);   // <0, 0, >0; TypeError otherwise
std::string to_str(const Value& v);                            // str(v); undefined -> ""
std::string repr(const Value& v);                              // repr(v)
std::string py_float(double d);                                // repr(float)
[[noreturn]] void undefined_error(const Value& v);             // jinja2's UndefinedError
const Value& defined_or_fail(const Value& v);                  // v, or UndefinedError
std::vector<Value> iterate(const Value& v, const char* what);  // list(v)

// JSON <-> values (objects keep their order when given an ordered_json).
Value from_json(const nlohmann::ordered_json& j);
Value from_json(const nlohmann::json& j);
struct JsonStyle {
  std::string indent;  // none when !has_indent
  bool has_indent = false;
  std::string item_sep = ", ", key_sep = ": ";
  bool ensure_ascii = false, sort_keys = false;
};
std::string to_json(const Value& v, const JsonStyle& style);  // Python json.dumps

template <typename... Args>
[[noreturn]] void fault(fmt::format_string<Args...> f, Args&&... args) {
  throw Fault(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace erank::tmpl
