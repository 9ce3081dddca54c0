#include "template/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "template/pystr.h"

namespace erank::tmpl {

namespace {
int child_depth(const Value& v) {
  if (v.is_list()) return v.list->depth;
  if (v.is_dict()) return v.dict->ns ? 1 : v.dict->depth;
  return 0;
}
}  // namespace

Value Value::make_list(std::vector<Value> items, bool tuple) {
  Value v = of(Type::list);
  int depth = 1;
  for (auto& x : items) depth = std::max(depth, 1 + child_depth(x));
  if (depth > kMaxValueDepth) fault("value nested too deeply (over {} levels)", kMaxValueDepth);
  v.list = std::make_shared<ListObj>(ListObj{std::move(items), tuple, depth});
  return v;
}

Value Value::make_dict(std::vector<std::pair<Value, Value>> items, bool ns) {
  Value v = of(Type::dict);
  v.dict = std::make_shared<DictObj>();
  v.dict->ns = ns;
  for (auto& [k, x] : items) {
    v.dict->depth = std::max(v.dict->depth, 1 + std::max(child_depth(k), child_depth(x)));
    v.dict->set(k, std::move(x));  // later duplicates win, as Python
  }
  if (v.dict->depth > kMaxValueDepth)
    fault("value nested too deeply (over {} levels)", kMaxValueDepth);
  return v;
}

Value Value::function(std::string name, Native fn) {
  Value v = of(Type::func);
  v.func = std::make_shared<FuncObj>(FuncObj{std::move(name), std::move(fn)});
  return v;
}

bool Value::is_namespace() const {
  return type == Type::dict && dict->ns;
}

bool Value::truthy() const {
  switch (type) {
    case Type::undefined:
    case Type::none:
      return false;
    case Type::boolean:
      return b;
    case Type::integer:
      return i != 0;
    case Type::real:
      return f != 0;
    case Type::string:
      return !s.empty();
    case Type::list:
      return list->lazy || !list->items.empty();
    case Type::dict:
      return dict->ns || !dict->items.empty();
    case Type::func:
      return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (type) {
    case Type::undefined:
      return "Undefined";
    case Type::none:
      return "NoneType";
    case Type::boolean:
      return "bool";
    case Type::integer:
      return "int";
    case Type::real:
      return "float";
    case Type::string:
      return "str";
    case Type::list:
      return list->lazy ? "generator" : (list->tuple ? "tuple" : "list");
    case Type::dict:
      return dict->ns ? "Namespace" : "dict";
    case Type::func:
      return "function";
  }
  return "?";
}

const Value* DictObj::find(const Value& key) const {
  for (auto& [k, v] : items)
    if (equal(k, key)) return &v;
  return nullptr;
}
const Value* DictObj::find(std::string_view key) const {
  for (auto& [k, v] : items)
    if (k.is_string() && k.s == key) return &v;
  return nullptr;
}
void DictObj::set(const Value& key, Value v) {
  for (auto& [k, x] : items)
    if (equal(k, key)) {
      x = std::move(v);
      return;
    }
  items.emplace_back(key, std::move(v));
}

std::vector<Value> Args::bind(const std::string& what,
                              std::initializer_list<const char*> params) const {
  std::vector<Value> out(params.size());
  if (pos.size() > params.size())
    fault("{}() takes at most {} arguments ({} given)", what, params.size(), pos.size());
  for (size_t i = 0; i < pos.size(); ++i) out[i] = pos[i];
  for (auto& [name, v] : kw) {
    size_t i = 0;
    for (const char* p : params) {
      if (name == p) break;
      ++i;
    }
    if (i == params.size()) fault("{}() got an unexpected keyword argument '{}'", what, name);
    out[i] = v;
  }
  return out;
}

bool equal(const Value& a, const Value& b) {
  using T = Value::Type;
  if (a.is_number() && b.is_number()) {
    if (a.type == T::real || b.type == T::real) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.type != b.type) return false;
  switch (a.type) {
    case T::undefined:
    case T::none:
      return true;
    case T::string:
      return a.s == b.s;
    case T::list: {
      if (a.list == b.list) return true;
      if (a.list->lazy || b.list->lazy) return false;
      if (a.list->tuple != b.list->tuple || a.list->items.size() != b.list->items.size())
        return false;
      for (size_t i = 0; i < a.list->items.size(); ++i)
        if (!equal(a.list->items[i], b.list->items[i])) return false;
      return true;
    }
    case T::dict: {
      if (a.dict == b.dict) return true;
      if (a.dict->ns || b.dict->ns) return false;  // namespaces compare by identity
      if (a.dict->items.size() != b.dict->items.size()) return false;
      for (auto& [k, v] : a.dict->items) {
        const Value* o = b.dict->find(k);
        if (!o || !equal(v, *o)) return false;
      }
      return true;
    }
    case T::func:
      return a.func == b.func;
    default:
      return false;
  }
}

int compare(const Value& a, const Value& b, const char* op) {
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  if (a.is_number() && b.is_number()) {
    if (a.type == Value::Type::real || b.type == Value::Type::real) {
      const double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) return a.s.compare(b.s) < 0 ? -1 : (a.s == b.s ? 0 : 1);
  if (a.is_list() && b.is_list() && a.list->tuple == b.list->tuple) {
    const auto &x = a.list->items, &y = b.list->items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!equal(x[i], y[i])) return compare(x[i], y[i], op);
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  fault("'{}' not supported between instances of '{}' and '{}'", op, a.type_name(), b.type_name());
}

std::string py_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits, laid out as Python's repr: exponent form when the decimal point
  // position is <= -4 or > 16.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  std::string out;
  if (sci[0] == '-') {
    out = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exp10 = std::stoi(sci.substr(e + 1));
  const int decpt = exp10 + 1;
  const int nd = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    out += digits.substr(0, 1);
    if (nd > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exp10 < 0 ? '-' : '+', std::abs(exp10));
  } else if (decpt <= 0) {
    out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
  } else if (decpt >= nd) {
    out += digits + std::string(static_cast<size_t>(decpt - nd), '0') + ".0";
  } else {
    out += digits.substr(0, static_cast<size_t>(decpt)) + "." +
           digits.substr(static_cast<size_t>(decpt));
  }
  return out;
}

namespace {

std::string repr_str(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (char32_t c : pystr::decode(s)) {
    if (c == static_cast<char32_t>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    } else if (c == 0x2028 || c == 0x2029 || (c >= 0xD800 && c <= 0xDFFF)) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      pystr::append_utf8(out, c);
    }
  }
  return out + q;
}

}  // namespace

namespace {
std::string repr_at(const Value& v, int depth);
}
std::string repr(const Value& v) {
  return repr_at(v, 0);
}

namespace {
// A namespace may contain itself; Python prints such a cycle as "...", we stop at a depth.
std::string repr_at(const Value& v, int depth) {
  using T = Value::Type;
  if (depth > 200) return "...";
  auto repr = [&](const Value& x) { return repr_at(x, depth + 1); };
  switch (v.type) {
    case T::undefined:
      return "Undefined";
    case T::string:
      return repr_str(v.s);
    case T::list: {
      if (v.list->lazy) return "<generator object>";
      const auto& it = v.list->items;
      std::string out = v.list->tuple ? "(" : "[";
      for (size_t i = 0; i < it.size(); ++i) out += (i ? ", " : "") + repr(it[i]);
      if (v.list->tuple && it.size() == 1) out += ",";
      return out + (v.list->tuple ? ")" : "]");
    }
    case T::dict: {
      std::string out = v.dict->ns ? "<Namespace {" : "{";
      bool first = true;
      for (auto& [k, x] : v.dict->items) {
        out += (first ? "" : ", ") + repr(k) + ": " + repr(x);
        first = false;
      }
      return out + (v.dict->ns ? "}>" : "}");
    }
    default:
      return to_str(v);
  }
}
}  // namespace

std::string to_str(const Value& v) {
  using T = Value::Type;
  switch (v.type) {
    case T::undefined:
      return "";
    case T::none:
      return "None";
    case T::boolean:
      return v.b ? "True" : "False";
    case T::integer:
      return std::to_string(v.i);
    case T::real:
      return py_float(v.f);
    case T::string:
      return v.s;
    case T::func:
      return "<function " + v.func->name + ">";
    default:
      return repr(v);
  }
}

void undefined_error(const Value& v) {
  fault("{}", v.s.empty() ? std::string("value is undefined") : v.s);
}

const Value& defined_or_fail(const Value& v) {
  if (v.is_undefined()) undefined_error(v);
  return v;
}

std::vector<Value> iterate(const Value& v, const char* what) {
  switch (v.type) {
    case Value::Type::undefined:
      return {};
    case Value::Type::list:
      return v.list->items;
    case Value::Type::dict: {
      if (v.dict->ns) break;
      std::vector<Value> keys;
      for (auto& kv : v.dict->items) keys.push_back(kv.first);
      return keys;
    }
    case Value::Type::string: {
      std::vector<Value> out;
      for (char32_t c : pystr::decode(v.s)) {
        std::string one;
        pystr::append_utf8(one, c);
        out.push_back(Value::str(std::move(one)));
      }
      return out;
    }
    default:
      break;
  }
  fault("{}: '{}' object is not iterable", what, v.type_name());
}

namespace {
template <typename J>
Value json_to_value(const J& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::real(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value::real(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value::str(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      for (auto& x : j) items.push_back(json_to_value(x));
      return Value::make_list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      std::vector<std::pair<Value, Value>> items;
      for (auto it = j.begin(); it != j.end(); ++it)
        items.emplace_back(Value::str(it.key()), json_to_value(it.value()));
      return Value::make_dict(std::move(items));
    }
    default:
      fault("unsupported JSON value");
  }
}
}  // namespace

Value from_json(const nlohmann::ordered_json& j) {
  return json_to_value(j);
}
Value from_json(const nlohmann::json& j) {
  return json_to_value(j);
}

namespace {

void json_str(std::string& out, const std::string& s, bool ascii) {
  out += '"';
  for (char32_t c : pystr::decode(s)) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || (ascii && c > 0x7E)) {
          if (c > 0xFFFF) {  // surrogate pair, as json.dumps with ensure_ascii
            const char32_t v = c - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", static_cast<unsigned>(0xD800 + (v >> 10)),
                               static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
          } else {
            out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
          }
        } else {
          pystr::append_utf8(out, c);
        }
    }
  }
  out += '"';
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  return py_float(d);
}

void dump(std::string& out, const Value& v, const JsonStyle& st, int depth) {
  using T = Value::Type;
  auto newline = [&](int d) {
    out += '\n';
    for (int k = 0; k < d; ++k) out += st.indent;
  };
  const std::string& item_sep = st.item_sep;
  if (depth > 512) fault("value nested too deeply for tojson");
  switch (v.type) {
    case T::none:
      out += "null";
      return;
    case T::boolean:
      out += v.b ? "true" : "false";
      return;
    case T::integer:
      out += std::to_string(v.i);
      return;
    case T::real:
      out += json_float(v.f);
      return;
    case T::string:
      json_str(out, v.s, st.ensure_ascii);
      return;
    case T::list: {
      if (v.list->lazy) break;
      const auto& it = v.list->items;
      if (it.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < it.size(); ++i) {
        if (i) out += item_sep;
        if (st.has_indent) newline(depth + 1);
        dump(out, it[i], st, depth + 1);
      }
      if (st.has_indent) newline(depth);
      out += ']';
      return;
    }
    case T::dict: {
      if (v.dict->ns) break;
      auto items = v.dict->items;
      if (items.empty()) {
        out += "{}";
        return;
      }
      if (st.sort_keys)
        std::stable_sort(items.begin(), items.end(),
                         [](auto& a, auto& b) { return compare(a.first, b.first, "<") < 0; });
      out += '{';
      bool first = true;
      for (auto& [k, x] : items) {
        if (!first) out += item_sep;
        first = false;
        if (st.has_indent) newline(depth + 1);
        if (k.is_string()) {
          json_str(out, k.s, st.ensure_ascii);
        } else if (k.type == T::boolean || k.type == T::none || k.type == T::integer) {
          out += '"' +
                 (k.type == T::boolean ? std::string(k.b ? "true" : "false")
                  : k.type == T::none  ? std::string("null")
                                       : std::to_string(k.i)) +
                 '"';
        } else if (k.type == T::real) {
          out += '"' + json_float(k.f) + '"';
        } else {
          fault("keys must be str, int, float, bool or None, not {}", k.type_name());
        }
        out += st.key_sep;
        dump(out, x, st, depth + 1);
      }
      if (st.has_indent) newline(depth);
      out += '}';
      return;
    }
    default:
      break;
  }
  fault("Object of type {} is not JSON serializable", v.type_name());
}

}  // namespace

std::string to_json(const Value& v, const JsonStyle& style) {
  std::string out;
  dump(out, v, style, 0);
  return out;
}

}  // namespace erank::tmpl
