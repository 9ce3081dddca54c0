// Attribute and item access as jinja2's sandbox does it (getattr first for `.`, item first for
// `[]`), the Python methods of str / dict / list that templates call, and the globals
// transformers provides (raise_exception, strftime_now, namespace, dict) plus jinja2's range.
#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

#include "template/interpreter.h"
#include "template/pystr.h"

namespace erank::tmpl {
namespace {

std::optional<std::string> opt_str(const Value& v, const char* what) {
  if (v.is_undefined() || v.is_none()) return std::nullopt;
  if (!v.is_string()) fault("{}: expected a string, got {}", what, v.type_name());
  return v.s;
}
int64_t opt_int(const Value& v, int64_t def, const char* what) {
  if (v.is_undefined() || v.is_none()) return def;
  if (!v.is_int()) fault("{}: expected an integer, got {}", what, v.type_name());
  return v.as_int();
}
const std::string& need_str(const Value& v, const char* what) {
  if (!v.is_string()) fault("{}: expected a string, got {}", what, defined_or_fail(v).type_name());
  return v.s;
}
Value str_list(const std::vector<std::string>& parts) {
  std::vector<Value> r;
  for (auto& p : parts) r.push_back(Value::str(p));
  return Value::make_list(std::move(r));
}

// A method bound to `self`.
Value bound(const std::string& name, Value self, Value (*fn)(const Value&, const Args&)) {
  return Value::function(name,
                         [self = std::move(self), fn](Interp&, Args& a) { return fn(self, a); });
}

// str.format with automatic or explicit field numbering and keyword fields; no format specs.
Value str_format(const Value& self, const Args& a) {
  std::string out;
  const std::string& s = self.s;
  size_t auto_idx = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if ((c == '{' || c == '}') && i + 1 < s.size() && s[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') fault("Single '}}' encountered in format string");
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t e = s.find('}', i);
    if (e == std::string::npos) fault("Single '{{' encountered in format string");
    const std::string field = s.substr(i + 1, e - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos)
      fault("unsupported construct: str.format field '{{{}}}' (only {{}}, {{0}} and {{name}})",
            field);
    const Value* v = nullptr;
    if (field.empty() || std::isdigit(static_cast<unsigned char>(field[0]))) {
      const size_t k = field.empty() ? auto_idx++ : std::stoul(field);
      if (k >= a.pos.size())
        fault("Replacement index {} out of range for positional args tuple", k);
      v = &a.pos[k];
    } else {
      for (auto& [n, x] : a.kw)
        if (n == field) v = &x;
      if (!v) fault("KeyError: '{}'", field);
    }
    out += to_str(*v);
    i = e;
  }
  return Value::str(out);
}

Value str_method(const Value& self, const std::string& name) {
  using F = Value (*)(const Value&, const Args&);
  static const std::vector<std::pair<const char*, F>> methods = {
      {"strip",
       [](const Value& s, const Args& a) {
         auto p = a.bind("strip", {"chars"});
         return Value::str(pystr::strip(s.s, opt_str(p[0], "strip"), true, true));
       }},
      {"lstrip",
       [](const Value& s, const Args& a) {
         auto p = a.bind("lstrip", {"chars"});
         return Value::str(pystr::strip(s.s, opt_str(p[0], "lstrip"), true, false));
       }},
      {"rstrip",
       [](const Value& s, const Args& a) {
         auto p = a.bind("rstrip", {"chars"});
         return Value::str(pystr::strip(s.s, opt_str(p[0], "rstrip"), false, true));
       }},
      {"split",
       [](const Value& s, const Args& a) {
         auto p = a.bind("split", {"sep", "maxsplit"});
         return str_list(pystr::split(s.s, opt_str(p[0], "split"), opt_int(p[1], -1, "split")));
       }},
      {"rsplit",
       [](const Value& s, const Args& a) {
         auto p = a.bind("rsplit", {"sep", "maxsplit"});
         return str_list(pystr::rsplit(s.s, opt_str(p[0], "rsplit"), opt_int(p[1], -1, "rsplit")));
       }},
      {"splitlines",
       [](const Value& s, const Args& a) {
         auto p = a.bind("splitlines", {"keepends"});
         return str_list(pystr::splitlines(s.s, p[0].truthy()));
       }},
      {"startswith",
       [](const Value& s, const Args& a) {
         auto p = a.bind("startswith", {"prefix"});
         std::vector<Value> opts = p[0].is_list() ? p[0].list->items : std::vector<Value>{p[0]};
         for (auto& o : opts)
           if (s.s.compare(0, need_str(o, "startswith").size(), o.s) == 0)
             return Value::boolean(true);
         return Value::boolean(false);
       }},
      {"endswith",
       [](const Value& s, const Args& a) {
         auto p = a.bind("endswith", {"suffix"});
         std::vector<Value> opts = p[0].is_list() ? p[0].list->items : std::vector<Value>{p[0]};
         for (auto& o : opts) {
           const std::string& x = need_str(o, "endswith");
           if (s.s.size() >= x.size() && s.s.compare(s.s.size() - x.size(), x.size(), x) == 0)
             return Value::boolean(true);
         }
         return Value::boolean(false);
       }},
      {"upper", [](const Value& s, const Args&) { return Value::str(pystr::upper(s.s)); }},
      {"lower", [](const Value& s, const Args&) { return Value::str(pystr::lower(s.s)); }},
      {"casefold", [](const Value& s, const Args&) { return Value::str(pystr::lower(s.s)); }},
      {"title", [](const Value& s, const Args&) { return Value::str(pystr::title(s.s)); }},
      {"capitalize",
       [](const Value& s, const Args&) { return Value::str(pystr::capitalize(s.s)); }},
      {"replace",
       [](const Value& s, const Args& a) {
         auto p = a.bind("replace", {"old", "new", "count"});
         return Value::str(pystr::replace(s.s, need_str(p[0], "replace"), need_str(p[1], "replace"),
                                          opt_int(p[2], -1, "replace")));
       }},
      {"find",
       [](const Value& s, const Args& a) {
         return Value::integer(pystr::find(s.s, need_str(a.bind("find", {"sub"})[0], "find")));
       }},
      {"rfind",
       [](const Value& s, const Args& a) {
         return Value::integer(
             pystr::find(s.s, need_str(a.bind("rfind", {"sub"})[0], "rfind"), true));
       }},
      {"index",
       [](const Value& s, const Args& a) {
         const int64_t k = pystr::find(s.s, need_str(a.bind("index", {"sub"})[0], "index"));
         if (k < 0) fault("substring not found");
         return Value::integer(k);
       }},
      {"count",
       [](const Value& s, const Args& a) {
         return Value::integer(pystr::count(s.s, need_str(a.bind("count", {"sub"})[0], "count")));
       }},
      {"join",
       [](const Value& s, const Args& a) {
         std::string out;
         bool first = true;
         for (auto& x : iterate(defined_or_fail(a.bind("join", {"iterable"})[0]), "join")) {
           if (!first) out += s.s;
           out += need_str(x, "join");
           first = false;
         }
         return Value::str(out);
       }},
      {"format", str_format},
      {"removeprefix",
       [](const Value& s, const Args& a) {
         const std::string& x = need_str(a.bind("removeprefix", {"prefix"})[0], "removeprefix");
         return Value::str(s.s.compare(0, x.size(), x) == 0 ? s.s.substr(x.size()) : s.s);
       }},
      {"removesuffix",
       [](const Value& s, const Args& a) {
         const std::string& x = need_str(a.bind("removesuffix", {"suffix"})[0], "removesuffix");
         const bool has =
             s.s.size() >= x.size() && s.s.compare(s.s.size() - x.size(), x.size(), x) == 0;
         return Value::str(has && !x.empty() ? s.s.substr(0, s.s.size() - x.size()) : s.s);
       }},
      {"isdigit",
       [](const Value& s, const Args&) {
         auto c = pystr::decode(s.s);
         return Value::boolean(!c.empty() && std::all_of(c.begin(), c.end(), pystr::is_digit));
       }},
      {"isalpha",
       [](const Value& s, const Args&) {
         auto c = pystr::decode(s.s);
         return Value::boolean(!c.empty() && std::all_of(c.begin(), c.end(), pystr::is_alpha));
       }},
      {"isalnum",
       [](const Value& s, const Args&) {
         auto c = pystr::decode(s.s);
         return Value::boolean(!c.empty() && std::all_of(c.begin(), c.end(), [](char32_t x) {
           return pystr::is_alpha(x) || pystr::is_digit(x);
         }));
       }},
      {"isspace",
       [](const Value& s, const Args&) {
         auto c = pystr::decode(s.s);
         return Value::boolean(!c.empty() && std::all_of(c.begin(), c.end(), pystr::is_space));
       }},
      {"isupper",
       [](const Value& s, const Args&) {
         auto c = pystr::decode(s.s);
         return Value::boolean(std::any_of(c.begin(), c.end(), pystr::is_upper_cased) &&
                               std::none_of(c.begin(), c.end(), pystr::is_lower_cased));
       }},
      {"islower",
       [](const Value& s, const Args&) {
         auto c = pystr::decode(s.s);
         return Value::boolean(std::any_of(c.begin(), c.end(), pystr::is_lower_cased) &&
                               std::none_of(c.begin(), c.end(), pystr::is_upper_cased));
       }},
  };
  for (auto& [n, f] : methods)
    if (name == n) return bound("str." + name, self, f);
  return Value::undef(fmt::format("'str object' has no attribute '{}'", name));
}

Value dict_method(const Value& self, const std::string& name) {
  using F = Value (*)(const Value&, const Args&);
  static const std::vector<std::pair<const char*, F>> methods = {
      {"items",
       [](const Value& d, const Args&) {
         std::vector<Value> r;
         for (auto& [k, v] : d.dict->items) r.push_back(Value::make_list({k, v}, true));
         return Value::make_list(std::move(r));
       }},
      {"keys", [](const Value& d, const Args&) { return Value::make_list(iterate(d, "keys")); }},
      {"values",
       [](const Value& d, const Args&) {
         std::vector<Value> r;
         for (auto& kv : d.dict->items) r.push_back(kv.second);
         return Value::make_list(std::move(r));
       }},
      {"get",
       [](const Value& d, const Args& a) {
         auto p = a.bind("get", {"key", "default"});
         const Value* v = d.dict->find(p[0]);
         return v ? *v : (p[1].is_undefined() ? Value::none() : p[1]);
       }},
      {"copy", [](const Value& d, const Args&) { return Value::make_dict(d.dict->items); }},
  };
  for (auto& [n, f] : methods)
    if (name == n) return bound("dict." + name, self, f);
  return Value::undef("");  // not a method: the caller looks the key up
}

Value list_method(const Value& self, const std::string& name) {
  if (name == "index" || name == "count")
    return Value::function("list." + name, [self, name](Interp&, Args& a) {
      const Value x = a.bind(name, {"value"})[0];
      int64_t n = 0, k = 0;
      for (auto& v : self.list->items) {
        if (equal(v, x)) {
          if (name == "index") return Value::integer(k);
          ++n;
        }
        ++k;
      }
      if (name == "index") fault("{} is not in list", repr(x));
      return Value::integer(n);
    });
  return Value::undef(fmt::format("'{} object' has no attribute '{}'", self.type_name(), name));
}

bool is_unsafe(const Value& obj, const std::string& name) {
  static const char* list_m[] = {"append", "extend",  "insert", "pop",
                                 "remove", "reverse", "sort",   "clear"};
  static const char* dict_m[] = {"pop", "popitem", "setdefault", "update", "clear"};
  if (obj.is_list() && !obj.list->tuple)
    for (const char* m : list_m)
      if (name == m) return true;
  if (obj.is_dict() && !obj.dict->ns)
    for (const char* m : dict_m)
      if (name == m) return true;
  return !name.empty() && name[0] == '_';
}

Value index_seq(const Value& obj, int64_t k) {
  const int64_t n = obj.is_string() ? static_cast<int64_t>(pystr::length(obj.s))
                                    : static_cast<int64_t>(obj.list->items.size());
  const int64_t i = k < 0 ? k + n : k;
  if (i < 0 || i >= n)
    return Value::undef(fmt::format("'{} object' has no attribute '{}'", obj.type_name(), k));
  if (obj.is_list()) return obj.list->items[static_cast<size_t>(i)];
  std::string one;
  pystr::append_utf8(one, pystr::decode(obj.s)[static_cast<size_t>(i)]);
  return Value::str(one);
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) undefined_error(obj);
  if (is_unsafe(obj, name))
    return Value::undef(
        fmt::format("access to attribute '{}' of '{}' object is unsafe", name, obj.type_name()));
  if (obj.is_namespace()) {
    if (const Value* v = obj.dict->find(std::string_view(name))) return *v;
    return Value::undef(fmt::format("'Namespace object' has no attribute '{}'", name));
  }
  if (obj.is_dict()) {
    Value m = dict_method(obj, name);
    if (!m.is_undefined()) return m;
    if (const Value* v = obj.dict->find(std::string_view(name))) return *v;
    return Value::undef(fmt::format("'dict object' has no attribute '{}'", name));
  }
  if (obj.is_string()) return str_method(obj, name);
  if (obj.is_list()) return list_method(obj, name);
  return Value::undef(fmt::format("'{} object' has no attribute '{}'", obj.type_name(), name));
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) undefined_error(obj);
  if (obj.is_list() && obj.list->lazy)
    return Value::undef("'generator' object is not subscriptable");
  if ((obj.is_list() || obj.is_string()) && key.is_int()) return index_seq(obj, key.as_int());
  if (obj.is_dict() && !obj.dict->ns) {
    if (const Value* v = obj.dict->find(key)) return *v;
    if (key.is_string()) {
      Value m = dict_method(obj, key.s);
      if (!m.is_undefined()) return m;
    }
    return Value::undef(fmt::format("'dict object' has no attribute '{}'", to_str(key)));
  }
  if (key.is_string()) return get_attr(obj, key.s);
  return Value::undef(
      fmt::format("'{} object' has no attribute '{}'", obj.type_name(), to_str(key)));
}

namespace {

// namespace(...) and dict(...): a mapping and/or keyword arguments.
std::vector<std::pair<Value, Value>> mapping_args(const Args& a, const char* what) {
  std::vector<std::pair<Value, Value>> items;
  if (a.pos.size() > 1) fault("{} expected at most 1 argument, got {}", what, a.pos.size());
  if (!a.pos.empty()) {
    const Value& m = defined_or_fail(a.pos[0]);
    if (m.is_dict()) {
      items = m.dict->items;
    } else {
      for (auto& kv : iterate(m, what)) {
        if (!kv.is_list() || kv.list->items.size() != 2)
          fault("{}: sequence elements must be pairs", what);
        items.emplace_back(kv.list->items[0], kv.list->items[1]);
      }
    }
  }
  for (auto& [k, v] : a.kw) items.emplace_back(Value::str(k), v);
  return items;
}

}  // namespace

Value global(const std::string& name) {
  if (name == "raise_exception")
    return Value::function(name, [](Interp&, Args& a) -> Value {
      fault("{}", a.pos.empty() ? std::string() : to_str(a.pos[0]));
    });
  if (name == "strftime_now")
    return Value::function(name, [](Interp&, Args& a) {
      const std::string f = need_str(a.bind("strftime_now", {"format"})[0], "strftime_now");
      const std::time_t t = std::time(nullptr);
      std::tm tm{};
      localtime_r(&t, &tm);
      char buf[512];
      const size_t n = f.empty() ? 0 : std::strftime(buf, sizeof buf, f.c_str(), &tm);
      return Value::str(std::string(buf, n));
    });
  if (name == "namespace")
    return Value::function(name, [](Interp& in, Args& a) {
      auto items = mapping_args(a, "namespace");
      for (auto& kv : items)
        if (kv.first.is_string() && !kv.first.s.empty() && kv.first.s[0] == '_')
          fault("chat templates cannot store underscore-prefixed attributes on a namespace ('{}')",
                kv.first.s);
      Value ns = Value::make_dict(std::move(items), true);
      in.adopt(ns);
      return ns;
    });
  if (name == "dict")
    return Value::function(
        name, [](Interp&, Args& a) { return Value::make_dict(mapping_args(a, "dict")); });
  if (name == "range")
    return Value::function(name, [](Interp&, Args& a) {
      if (a.pos.empty() || a.pos.size() > 3 || !a.kw.empty())
        fault("range expected 1 to 3 integer arguments");
      int64_t v[3] = {0, 0, 1};
      for (auto& x : a.pos)
        if (!x.is_int()) fault("'{}' object cannot be interpreted as an integer", x.type_name());
      if (a.pos.size() == 1) {
        v[1] = a.pos[0].as_int();
      } else {
        for (size_t k = 0; k < a.pos.size(); ++k) v[k] = a.pos[k].as_int();
      }
      if (v[2] == 0) fault("range() arg 3 must not be zero");
      std::vector<Value> r;
      for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2]) {
        if (r.size() >= 100000)
          fault("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        r.push_back(Value::integer(i));
        if ((v[2] > 0 && i > INT64_MAX - v[2]) || (v[2] < 0 && i < INT64_MIN - v[2])) break;
      }
      return Value::make_list(std::move(r));
    });
  if (name == "lipsum" || name == "cycler" || name == "joiner")
    return Value::function(name, [name](Interp&, Args&) -> Value {
      fault("unsupported construct: the global '{}()' is not in erank's Jinja subset", name);
    });
  return Value::undef("");
}

}  // namespace erank::tmpl
