// jinja2's built-in filters and tests that chat and task templates use, with transformers'
// tojson (json.dumps: ensure_ascii=False, indent/separators/sort_keys options). Unknown names
// fail when they run, naming the filter or test.
#include <algorithm>
#include <cmath>

#include "template/interpreter.h"
#include "template/pyre.h"
#include "template/pystr.h"

namespace erank::tmpl {
namespace {

// jinja2's make_attrgetter: "a.b.0" looked up item-first, digits as integer indices.
Value attr_path(const Value& v, const std::string& path) {
  Value cur = v;
  for (const auto& part : pystr::split(path, std::string("."), -1)) {
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    cur = get_item(cur, digits ? Value::integer(std::stoll(part)) : Value::str(part));
    if (cur.is_undefined()) break;
  }
  return cur;
}

std::vector<Value> seq(const Value& v, const char* what) {
  return iterate(v, what);
}

// What jinja2 returns as a generator.
Value lazy(std::vector<Value> items) {
  Value v = Value::make_list(std::move(items));
  v.list->lazy = true;
  return v;
}

Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::str(pystr::lower(v.s));
  return v;
}

// select/reject/selectattr/rejectattr: the optional test name and its arguments start at `first`.
Value select(Interp& in, const Value& v, Args& a, bool attr, bool keep, const char* what) {
  std::string attr_name;
  size_t k = 0;
  if (attr) {
    if (a.pos.empty()) fault("{}: missing attribute name", what);
    attr_name = to_str(a.pos[k++]);
  }
  std::string test_name;
  if (k < a.pos.size()) test_name = to_str(a.pos[k++]);
  Args targs;
  targs.pos.assign(a.pos.begin() + static_cast<ptrdiff_t>(k), a.pos.end());
  targs.kw = a.kw;
  std::vector<Value> out;
  if (!v.truthy()) return lazy({});  // jinja2 only iterates a truthy value (None is fine)
  for (auto& item : seq(v, what)) {
    const Value x = attr ? attr_path(item, attr_name) : item;
    const bool r = test_name.empty() ? x.truthy() : in.test(test_name, x, targs);
    if (r == keep) out.push_back(item);
  }
  return lazy(std::move(out));
}

std::string indent(const std::string& s0, const Value& width, bool first, bool blank) {
  const std::string ind =
      width.is_string()
          ? width.s
          : std::string(
                static_cast<size_t>(std::max<int64_t>(0, width.is_int() ? width.as_int() : 4)),
                ' ');
  const std::string s = s0 + "\n";  // jinja2's quirk, for splitlines
  auto lines = pystr::splitlines(s);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind) + lines[i];
  }
  return first ? ind + rv : rv;
}

Value tojson(const Value& v, const Args& a) {
  auto p = a.bind("tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonStyle st;
  st.ensure_ascii = p[0].truthy();
  if (!p[1].is_undefined() && !p[1].is_none()) {
    st.has_indent = true;
    if (p[1].is_string()) {
      st.indent = p[1].s;
    } else if (p[1].is_int()) {
      st.indent =
          std::string(static_cast<size_t>(std::clamp<int64_t>(p[1].as_int(), 0, 1 << 16)), ' ');
    } else {
      fault("tojson: indent must be an integer or a string");
    }
    st.item_sep = ",";
  }
  if (!p[2].is_undefined() && !p[2].is_none()) {
    if (!p[2].is_list() || p[2].list->items.size() != 2 || !p[2].list->items[0].is_string() ||
        !p[2].list->items[1].is_string())
      fault("tojson: separators must be a pair of strings");
    st.item_sep = p[2].list->items[0].s;
    st.key_sep = p[2].list->items[1].s;
  }
  st.sort_keys = p[3].truthy();
  return Value::str(to_json(v, st));
}

Value round_filter(const Value& v, const Args& a) {
  auto p = a.bind("round", {"precision", "method"});
  const int64_t prec = p[0].is_undefined() ? 0 : p[0].as_int();
  const std::string method = p[1].is_undefined() ? "common" : to_str(p[1]);
  if (!defined_or_fail(v).is_number()) fault("round: expected a number, got {}", v.type_name());
  if (method == "common") {
    if (v.is_int()) return Value::integer(v.as_int());  // round(int, n) stays an int
    if (prec < -300 || prec > 300 || !std::isfinite(v.f)) return v;
    // printf rounds the exact binary value half-to-even, which is what Python's round() does.
    if (prec >= 0)
      return Value::real(std::strtod(fmt::format("{:.{}f}", v.f, prec).c_str(), nullptr));
    const double m = std::pow(10.0, static_cast<double>(-prec));
    return Value::real(std::nearbyint(v.f / m) * m);
  }
  if (method != "ceil" && method != "floor") fault("method must be common, ceil or floor");
  const double m = std::pow(10.0, static_cast<double>(prec));
  const double x = v.as_double() * m;
  return Value::real((method == "ceil" ? std::ceil(x) : std::floor(x)) / m);
}

Value int_filter(const Value& v, const Args& a) {
  auto p = a.bind("int", {"default", "base"});
  const Value def = p[0].is_undefined() ? Value::integer(0) : p[0];
  const int base = p[1].is_undefined() ? 10 : static_cast<int>(p[1].as_int());
  if (v.is_int()) return Value::integer(v.as_int());
  if (v.type == Value::Type::real) {
    if (!std::isfinite(v.f) || std::fabs(v.f) >= 9.2e18) return def;
    return Value::integer(static_cast<int64_t>(v.f));
  }
  if (v.is_string()) {
    std::string s = pystr::strip(v.s, std::nullopt, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (!s.empty()) {
      errno = 0;
      char* end = nullptr;
      const long long x = std::strtoll(s.c_str(), &end, base);
      if (errno == 0 && end && *end == 0 && base >= 2 && base <= 36) return Value::integer(x);
      const double d = std::strtod(s.c_str(), &end);
      if (end && *end == 0 && std::isfinite(d) && std::fabs(d) < 9.2e18)
        return Value::integer(static_cast<int64_t>(d));
    }
  }
  return def;
}

Value float_filter(const Value& v, const Args& a) {
  auto p = a.bind("float", {"default"});
  const Value def = p[0].is_undefined() ? Value::real(0) : p[0];
  if (v.is_number()) return Value::real(v.as_double());
  if (v.is_string()) {
    std::string s = pystr::strip(v.s, std::nullopt, true, true);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == 0 && s.find_first_of("xX") == std::string::npos)
      return Value::real(d);
  }
  return def;
}

Value sorted(Interp&, const Value& v, const Args& a, const char* what) {
  auto p = a.bind(what, {"reverse", "case_sensitive", "attribute"});
  std::vector<Value> items = seq(v, what);
  const bool cs = p[1].truthy();
  const std::string attr = p[2].is_undefined() || p[2].is_none() ? "" : to_str(p[2]);
  auto key = [&](const Value& x) { return sort_key(attr.empty() ? x : attr_path(x, attr), cs); };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return compare(key(x), key(y), "<") < 0;
  });
  if (p[0].truthy()) std::reverse(items.begin(), items.end());
  return Value::make_list(std::move(items));
}

}  // namespace

Value Interp::filter(const std::string& name, const Value& v, Args& a) {
  if (name == "default" || name == "d") {
    auto p = a.bind(name, {"default_value", "boolean"});
    const bool use = v.is_undefined() || (p[1].truthy() && !v.truthy());
    return use ? (p[0].is_undefined() ? Value::str("") : p[0]) : v;
  }
  if (name == "safe") {  // a Markup string: `+` escapes what is added to it
    Value r = Value::str(to_str(v));
    r.markup = true;
    return r;
  }
  if (name == "string") return Value::str(to_str(v));
  if (name == "regex_replace") {  // lm-eval's filter: re.sub(pattern, repl, s, count)
    auto p = a.bind(name, {"pattern", "repl", "count"});
    const int64_t count = p[2].is_undefined() ? 0 : p[2].as_int();
    return Value::str(py_re_sub(to_str(p[0]), to_str(p[1]), to_str(v), count));
  }
  if (name == "tojson") return tojson(v, a);
  if (name == "length" || name == "count") {
    if (v.is_undefined()) return Value::integer(0);
    if (v.is_string()) return Value::integer(static_cast<int64_t>(pystr::length(v.s)));
    if (v.is_list() && !v.list->lazy)
      return Value::integer(static_cast<int64_t>(v.list->items.size()));
    if (v.is_dict() && !v.dict->ns)
      return Value::integer(static_cast<int64_t>(v.dict->items.size()));
    fault("object of type '{}' has no len()", v.type_name());
  }
  if (name == "trim") {
    auto p = a.bind(name, {"chars"});
    return Value::str(pystr::strip(to_str(v),
                                   p[0].is_undefined() || p[0].is_none()
                                       ? std::nullopt
                                       : std::optional<std::string>(to_str(p[0])),
                                   true, true));
  }
  if (name == "upper") return Value::str(pystr::upper(to_str(v)));
  if (name == "lower") return Value::str(pystr::lower(to_str(v)));
  if (name == "capitalize") return Value::str(pystr::capitalize(to_str(v)));
  if (name == "title") {  // jinja2's own: capitalise after runs of -, whitespace and ({[<
    std::string out;
    bool start = true;
    for (char32_t c : pystr::decode(to_str(v))) {
      const bool sep =
          pystr::is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
      std::string one;
      pystr::append_utf8(one, c);
      out += sep ? one : (start ? pystr::upper(one) : pystr::lower(one));
      start = sep;
    }
    return Value::str(out);
  }
  if (name == "replace") {
    auto p = a.bind(name, {"old", "new", "count"});
    return Value::str(pystr::replace(to_str(v), to_str(p[0]), to_str(p[1]),
                                     p[2].is_undefined() || p[2].is_none() ? -1 : p[2].as_int()));
  }
  if (name == "first" || name == "last") {
    auto items = seq(v, name.c_str());
    if (items.empty()) return Value::undef(fmt::format("No {} item, sequence was empty.", name));
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    auto p = a.bind(name, {"d", "attribute"});
    const std::string sep = p[0].is_undefined() ? "" : to_str(p[0]);
    std::string out;
    bool first = true;
    for (auto& x : seq(v, "join")) {
      if (!first) out += sep;
      out += to_str(p[1].is_undefined() || p[1].is_none() ? x : attr_path(x, to_str(p[1])));
      first = false;
      check_size(out.size());
    }
    return Value::str(out);
  }
  if (name == "list") return Value::make_list(seq(v, "list"));
  if (name == "items") {
    if (v.is_undefined()) return Value::make_list({});
    if (!v.is_dict() || v.dict->ns) fault("Can only get item pairs from a mapping.");
    std::vector<Value> r;
    for (auto& [k, x] : v.dict->items) r.push_back(Value::make_list({k, x}, true));
    return Value::make_list(std::move(r));
  }
  if (name == "int") return int_filter(v, a);
  if (name == "float") return float_filter(v, a);
  if (name == "abs") {
    defined_or_fail(v);
    if (v.type == Value::Type::real) return Value::real(std::fabs(v.f));
    if (v.is_int()) {
      if (v.as_int() == INT64_MIN) fault("integer overflow");
      return Value::integer(std::llabs(v.as_int()));
    }
    fault("bad operand type for abs(): '{}'", v.type_name());
  }
  if (name == "round") return round_filter(v, a);
  if (name == "reverse") {
    if (v.is_string()) {
      auto c = pystr::decode(v.s);
      std::reverse(c.begin(), c.end());
      return Value::str(pystr::encode(c));
    }
    auto items = seq(v, "reverse");
    std::reverse(items.begin(), items.end());
    return Value::make_list(std::move(items));
  }
  if (name == "sort") return sorted(*this, v, a, "sort");
  if (name == "dictsort") {
    auto p = a.bind(name, {"case_sensitive", "by", "reverse"});
    if (!v.is_dict()) fault("dictsort: expected a mapping, got {}", v.type_name());
    auto items = v.dict->items;
    const size_t pos = p[1].is_undefined() || to_str(p[1]) == "key" ? 0 : 1;
    if (pos == 1 && to_str(p[1]) != "value")
      fault("You can only sort by either \"key\" or \"value\"");
    std::stable_sort(items.begin(), items.end(), [&](auto& x, auto& y) {
      const Value& kx = pos ? x.second : x.first;
      const Value& ky = pos ? y.second : y.first;
      return compare(sort_key(kx, p[0].truthy()), sort_key(ky, p[0].truthy()), "<") < 0;
    });
    if (p[2].truthy()) std::reverse(items.begin(), items.end());
    std::vector<Value> r;
    for (auto& [k, x] : items) r.push_back(Value::make_list({k, x}, true));
    return Value::make_list(std::move(r));
  }
  if (name == "unique") {
    auto p = a.bind(name, {"case_sensitive", "attribute"});
    std::vector<Value> out, seen;
    for (auto& x : seq(v, "unique")) {
      Value k = sort_key(p[1].is_undefined() || p[1].is_none() ? x : attr_path(x, to_str(p[1])),
                         p[0].truthy());
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, k); })) {
        seen.push_back(k);
        out.push_back(x);
      }
    }
    return lazy(std::move(out));
  }
  if (name == "min" || name == "max") {
    auto p = a.bind(name, {"case_sensitive", "attribute"});
    auto items = seq(v, name.c_str());
    if (items.empty()) return Value::undef(fmt::format("No aggregated item, sequence was empty."));
    auto key = [&](const Value& x) {
      return sort_key(p[1].is_undefined() || p[1].is_none() ? x : attr_path(x, to_str(p[1])),
                      p[0].truthy());
    };
    Value best = items[0];
    for (auto& x : items) {
      const int c = compare(key(x), key(best), "<");
      if (name == "min" ? c < 0 : c > 0) best = x;
    }
    return best;
  }
  if (name == "sum") {
    auto p = a.bind(name, {"attribute", "start"});
    Value acc = p[1].is_undefined() ? Value::integer(0) : p[1];
    for (auto& x : seq(v, "sum"))
      acc = binary_op(
          "+", acc, p[0].is_undefined() || p[0].is_none() ? x : attr_path(x, to_str(p[0])), *this);
    return acc;
  }
  if (name == "indent") {
    auto p = a.bind(name, {"width", "first", "blank"});
    return Value::str(indent(to_str(v), p[0], p[1].truthy(), p[2].truthy()));
  }
  if (name == "escape" || name == "e" || name == "forceescape") {
    if (v.markup && name != "forceescape") return v;
    Value r = Value::str(html_escape(to_str(v)));
    r.markup = true;
    return r;
  }
  if (name == "center") {
    auto p = a.bind(name, {"width"});
    const std::string s = to_str(v);
    const int64_t w = p[0].is_undefined() ? 80 : p[0].as_int();
    const int64_t n = static_cast<int64_t>(pystr::length(s));
    if (w <= n) return Value::str(s);
    check_size(static_cast<size_t>(w));
    const int64_t pad = w - n, left = pad / 2 + (pad & w & 1);
    return Value::str(std::string(static_cast<size_t>(left), ' ') + s +
                      std::string(static_cast<size_t>(pad - left), ' '));
  }
  if (name == "wordcount") {
    return Value::integer(static_cast<int64_t>(pystr::split(to_str(v), std::nullopt, -1).size()));
  }
  if (name == "attr") return get_attr(v, to_str(a.bind(name, {"name"})[0]));
  if (name == "select") return select(*this, v, a, false, true, "select");
  if (name == "reject") return select(*this, v, a, false, false, "reject");
  if (name == "selectattr") return select(*this, v, a, true, true, "selectattr");
  if (name == "rejectattr") return select(*this, v, a, true, false, "rejectattr");
  if (name == "map") {
    std::vector<Value> out;
    if (!v.truthy()) return lazy({});  // as select: None maps to nothing
    const Value* attribute = nullptr;
    const Value* def = nullptr;
    for (auto& [k, x] : a.kw) {
      if (k == "attribute") attribute = &x;
      if (k == "default") def = &x;
    }
    if (attribute) {
      for (auto& x : seq(v, "map")) {
        Value r = attr_path(x, to_str(*attribute));
        out.push_back(r.is_undefined() && def ? *def : r);
      }
      return lazy(std::move(out));
    }
    if (a.pos.empty()) fault("map requires a filter argument");
    const std::string f = to_str(a.pos[0]);
    Args fa;
    fa.pos.assign(a.pos.begin() + 1, a.pos.end());
    fa.kw = a.kw;
    for (auto& x : seq(v, "map")) {
      Args copy = fa;
      out.push_back(filter(f, x, copy));
    }
    return lazy(std::move(out));
  }
  if (name == "batch" || name == "slice" || name == "groupby" || name == "format" ||
      name == "truncate" || name == "wordwrap" || name == "urlencode" || name == "urlize" ||
      name == "xmlattr" || name == "striptags" || name == "pprint" || name == "filesizeformat" ||
      name == "random")
    fault("unsupported construct: the filter '{}' is not in erank's Jinja subset", name);
  fault("No filter named '{}'.", name);
}

bool Interp::test(const std::string& name, const Value& v, Args& a) {
  using T = Value::Type;
  auto arg = [&](const char* n) {
    auto p = a.bind(name, {n});
    return p[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.type == T::integer;
  if (name == "float") return v.type == T::real;
  if (name == "boolean") return v.type == T::boolean;
  if (name == "true") return v.type == T::boolean && v.b;
  if (name == "false") return v.type == T::boolean && !v.b;
  if (name == "mapping") return v.is_dict() && !v.dict->ns;
  if (name == "iterable")
    return v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.dict->ns);
  if (name == "sequence")
    return v.is_undefined() || v.is_string() || (v.is_list() && !v.list->lazy) ||
           (v.is_dict() && !v.dict->ns);
  if (name == "callable") return v.type == T::func;
  if (name == "odd" || name == "even") {
    if (!defined_or_fail(v).is_number())
      fault("test '{}' needs a number, got {}", name, v.type_name());
    const Value m = binary_op("%", v, Value::integer(2), *this);
    return name == "odd" ? m.as_double() == 1 : m.as_double() == 0;
  }
  if (name == "divisibleby") {
    const Value n = arg("num");
    return binary_op("%", v, n, *this).as_double() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equal(v, arg("other"));
  if (name == "ne" || name == "!=") return !equal(v, arg("other"));
  if (name == "lt" || name == "lessthan" || name == "<") return compare(v, arg("other"), "<") < 0;
  if (name == "le" || name == "<=") return compare(v, arg("other"), "<=") <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">")
    return compare(v, arg("other"), ">") > 0;
  if (name == "ge" || name == ">=") return compare(v, arg("other"), ">=") >= 0;
  if (name == "in") return contains(arg("seq"), v);
  if (name == "sameas") {
    const Value o = arg("other");
    if (v.type != o.type) return false;
    if (v.is_list()) return v.list == o.list;
    if (v.is_dict()) return v.dict == o.dict;
    if (v.type == T::func) return v.func == o.func;
    return equal(v, o) && (v.type == T::none || v.type == T::boolean || v.type == T::undefined);
  }
  if (name == "lower" || name == "upper") {
    const std::string s = to_str(v);
    return name == "lower" ? pystr::lower(s) == s : pystr::upper(s) == s;
  }
  if (name == "escaped") return false;
  fault("No test named '{}'.", name);
}

}  // namespace erank::tmpl
