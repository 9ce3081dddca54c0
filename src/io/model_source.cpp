#include "io/model_source.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace erank {

#ifndef ERANK_SOURCE_DIR_DEFAULT
#define ERANK_SOURCE_DIR_DEFAULT ""
#endif

std::vector<std::string> model_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* e = std::getenv("ERANK_MODELS"); e && *e) dirs.emplace_back(e);
  if (const char* s = ERANK_SOURCE_DIR_DEFAULT; *s) dirs.push_back(std::string(s) + "/models");
  return dirs;
}

std::string hf_hub_cache() {
  if (const char* c = std::getenv("HF_HUB_CACHE"); c && *c) return c;
  if (const char* c = std::getenv("HUGGINGFACE_HUB_CACHE"); c && *c) return c;
  if (const char* h = std::getenv("HF_HOME"); h && *h) return std::string(h) + "/hub";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::string(x) + "/huggingface/hub";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/huggingface/hub";
}

namespace {

// models--ORG--NAME/snapshots/<rev>, rev from refs/main when present (as from_pretrained does),
// else the only snapshot.
std::string find_in_hf_cache(const std::string& id, std::string* searched) {
  std::string repo = "models--";
  for (char c : id) repo += (c == '/') ? std::string("--") : std::string(1, c);
  const fs::path base = fs::path(hf_hub_cache()) / repo;
  *searched = base.string();
  if (!fs::is_directory(base / "snapshots")) return {};
  std::ifstream ref(base / "refs" / "main");
  std::string rev;
  if (ref && std::getline(ref, rev) && fs::is_directory(base / "snapshots" / rev))
    return (base / "snapshots" / rev).string();
  std::vector<fs::path> snaps;
  for (auto& e : fs::directory_iterator(base / "snapshots"))
    if (e.is_directory()) snaps.push_back(e.path());
  if (snaps.size() == 1) return snaps[0].string();
  if (snaps.size() > 1)
    fail("{}: several snapshots and no refs/main; pass the snapshot folder explicitly",
         base.string());
  return {};
}

ModelSource from_path(const fs::path& p, const std::string& spec) {
  if (fs::is_regular_file(p)) {
    if (p.extension() != ".gguf") fail("{}: not a .gguf file nor a model folder", p.string());
    return {ModelSource::Kind::gguf, p.string(), spec};
  }
  if (fs::is_regular_file(p / "config.json"))
    return {ModelSource::Kind::hf_folder, p.string(), spec};
  std::vector<fs::path> ggufs;
  for (auto& e : fs::directory_iterator(p))
    if (e.path().extension() == ".gguf") ggufs.push_back(e.path());
  if (ggufs.size() == 1) return {ModelSource::Kind::gguf, ggufs[0].string(), spec};
  fail("{}: folder has no config.json (and not exactly one .gguf file)", p.string());
}

}  // namespace

ModelSource resolve_model_source(const std::string& spec_in) {
  const std::string spec = spec_in.empty() ? kDefaultModel : spec_in;
  std::error_code ec;
  if (fs::exists(spec, ec)) return from_path(spec, spec);
  // An absolute or ./-relative path names one place only; short names and relative paths are
  // also looked for in the model folders (NAME.gguf unless the name already ends in .gguf).
  const bool explicit_path = spec.front() == '/' || spec.front() == '.' || spec.front() == '~';
  std::vector<std::string> searched{spec};
  for (const auto& d : explicit_path ? std::vector<std::string>{} : model_search_dirs()) {
    std::vector<std::string> cands{d + "/" + spec};
    if (fs::path(spec).extension() != ".gguf")
      cands.insert(cands.begin(), d + "/" + spec + ".gguf");
    for (const std::string& cand : cands) {
      searched.push_back(cand);
      if (fs::exists(cand, ec)) return from_path(cand, spec);
    }
  }
  if (explicit_path) fail("model '{}' not found: no such file or folder", spec);
  if (spec.find('/') != std::string::npos && spec.front() != '/' && spec.front() != '.') {
    std::string where;
    const std::string snap = find_in_hf_cache(spec, &where);
    searched.push_back(where);
    if (!snap.empty()) return from_path(snap, spec);
  }
  std::string list;
  for (auto& s : searched) list += (list.empty() ? "" : ", ") + s;
  fail("model '{}' not found (looked in: {}). Run scripts/install.sh for the embedded models.",
       spec, list);
}

}  // namespace erank
