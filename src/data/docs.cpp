// read_docs: what a path names (file, `save_to_disk` folder, shard folder or pattern) and which
// reader reads it; the readers themselves are in docs_text.cpp and docs_arrow.cpp.
#include "data/docs.h"

#include <fnmatch.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "data/docs_internal.h"

namespace fs = std::filesystem;

namespace erank {
namespace {

using Json = nlohmann::ordered_json;

std::string lower_ext(const fs::path& p) {
  std::string e = p.extension().string();
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

bool known_ext(const std::string& e) {
  return e == ".parquet" || e == ".arrow" || e == ".jsonl" || e == ".ndjson" || e == ".json" ||
         e == ".csv";
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open the file", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) fail("{}: read error", path);
  return std::move(ss).str();
}

// A gzip file's bytes, inflated (HumanEval ships as .jsonl.gz). Bounded so that a hostile file
// cannot exhaust memory.
std::string gunzip(const std::string& path) {
  const std::string in = slurp(path);
  constexpr size_t kMax = size_t(4) << 30;
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) fail("{}: cannot start zlib", path);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      fail("{}: not a valid gzip file ({})", path, rc == Z_BUF_ERROR ? "truncated" : "corrupt");
    }
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > kMax) {
      inflateEnd(&z);
      fail("{}: inflates to more than 4 GiB", path);
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      fail("{}: not a valid gzip file (truncated)", path);
    }
  }
  inflateEnd(&z);
  return out;
}

DocTable read_file(const std::string& path) {
  if (lower_ext(path) == ".gz") {
    const std::string inner = lower_ext(fs::path(path).stem());
    if (inner == ".jsonl" || inner == ".ndjson")
      return docs_detail::parse_json_docs(gunzip(path), false, path);
    if (inner == ".json") return docs_detail::parse_json_docs(gunzip(path), true, path);
    if (inner == ".csv") return docs_detail::parse_csv_docs(gunzip(path), path);
    fail("{}: unknown compressed format (expected .jsonl.gz, .json.gz or .csv.gz)", path);
  }
  const std::string e = lower_ext(path);
  if (e == ".parquet") return docs_detail::read_parquet_file(path);
  if (e == ".arrow") return docs_detail::read_arrow_file(path);
  if (e == ".jsonl" || e == ".ndjson")
    return docs_detail::parse_json_docs(slurp(path), false, path);
  if (e == ".json") return docs_detail::parse_json_docs(slurp(path), true, path);
  if (e == ".csv") return docs_detail::parse_csv_docs(slurp(path), path);
  fail(
      "{}: unknown document format '{}' (expected .parquet, .arrow, .jsonl, .json, .csv, or "
      "gzipped .jsonl/.json/.csv)",
      path, e);
}

// Shards of one split, in order: their columns must agree.
DocTable read_files(const std::vector<std::string>& files, const std::string& origin) {
  DocTable all;
  all.origin = origin;
  for (const std::string& f : files) {
    DocTable t = read_file(f);
    if (&f == &files.front())
      all.features = t.features;
    else if (t.features != all.features)
      fail("{}: its columns differ from those of {}", f, files.front());
    all.rows.insert(all.rows.end(), std::make_move_iterator(t.rows.begin()),
                    std::make_move_iterator(t.rows.end()));
  }
  return all;
}

// A save_to_disk split: state.json lists the data-*.arrow shards; a format with columns
// (set_format(columns=...), not output_all_columns) keeps only those, as __getitem__ does.
DocTable read_saved_split(const fs::path& dir) {
  const std::string state_path = (dir / "state.json").string();
  Json state;
  try {
    state = Json::parse(slurp(state_path));
  } catch (const Json::exception& e) {
    fail("{}: malformed JSON: {}", state_path, e.what());
  }
  const auto files = state.find("_data_files");
  if (files == state.end() || !files->is_array() || files->empty())
    fail("{}: no \"_data_files\" list", state_path);
  std::vector<std::string> paths;
  for (const Json& f : *files) {
    if (!f.is_object() || !f.contains("filename") || !f["filename"].is_string())
      fail("{}: a \"_data_files\" entry has no \"filename\"", state_path);
    const std::string name = f["filename"].get<std::string>();
    if (name.find('/') != std::string::npos || name == "..")
      fail("{}: data file '{}' is not in the folder", state_path, name);
    paths.push_back((dir / name).string());
  }
  DocTable t = read_files(paths, dir.string());
  const auto cols = state.find("_format_columns");
  const bool all_cols = state.value("_output_all_columns", false);
  if (cols != state.end() && cols->is_array() && !all_cols) {
    std::vector<std::string> keep;
    for (const Json& c : *cols)
      if (c.is_string() && std::count(t.features.begin(), t.features.end(), c.get<std::string>()))
        keep.push_back(c.get<std::string>());
    for (Json& r : t.rows) {
      Json kept = Json::object();
      for (const std::string& k : t.features)
        if (std::count(keep.begin(), keep.end(), k)) kept[k] = std::move(r[k]);
      r = std::move(kept);
    }
    std::vector<std::string> features;
    for (const std::string& k : t.features)
      if (std::count(keep.begin(), keep.end(), k)) features.push_back(k);
    t.features = std::move(features);
  }
  return t;
}

DocTable read_folder(const fs::path& dir) {
  if (fs::is_regular_file(dir / "state.json")) return read_saved_split(dir);
  if (fs::is_regular_file(dir / "dataset_dict.json")) {
    std::string splits;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory()) splits += (splits.empty() ? "" : ", ") + e.path().filename().string();
    fail("{}: a DatasetDict folder (splits: {}); give one split's folder", dir.string(), splits);
  }
  std::vector<std::string> files;
  std::string ext;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string x = lower_ext(e.path());
    if (!e.is_regular_file() || !known_ext(x)) continue;
    if (!ext.empty() && x != ext)
      fail("{}: data files of two formats ({} and {}); give one file", dir.string(), ext, x);
    ext = x;
    files.push_back(e.path().string());
  }
  if (files.empty())
    fail("{}: no state.json and no .parquet/.arrow/.jsonl/.json/.csv files", dir.string());
  std::sort(files.begin(), files.end());
  return read_files(files, dir.string());
}

DocTable read_pattern(const fs::path& p) {
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string pat = p.filename().string();
  if (dir.string().find_first_of("*?") != std::string::npos)
    fail("{}: a pattern may only be in the file name", p.string());
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("{}: no such folder", dir.string());
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && fnmatch(pat.c_str(), e.path().filename().c_str(), 0) == 0)
      files.push_back(e.path().string());
  if (files.empty()) fail("{}: no file matches", p.string());
  std::sort(files.begin(), files.end());
  return read_files(files, p.string());
}

}  // namespace

DocTable read_docs(const std::string& path) {
  const fs::path p(path);
  DocTable t;
  std::error_code ec;
  if (p.filename().string().find_first_of("*?") != std::string::npos)
    t = read_pattern(p);
  else if (fs::is_directory(p, ec))
    t = read_folder(p);
  else if (fs::exists(p, ec))
    t = read_file(path);
  else
    fail("{}: no such file or folder", path);
  t.origin = path;
  if (t.rows.empty()) fail("{}: no rows", path);
  return t;
}

DocTable parse_docs(std::string_view bytes, DocFormat format, const std::string& origin) {
  DocTable t;
  switch (format) {
    case DocFormat::jsonl:
      t = docs_detail::parse_json_docs(bytes, false, origin);
      break;
    case DocFormat::json:
      t = docs_detail::parse_json_docs(bytes, true, origin);
      break;
    case DocFormat::csv:
      t = docs_detail::parse_csv_docs(bytes, origin);
      break;
    case DocFormat::parquet:
      t = docs_detail::parse_parquet_bytes(bytes, origin);
      break;
    case DocFormat::arrow:
      t = docs_detail::parse_arrow_bytes(bytes, origin);
      break;
  }
  if (t.rows.empty()) fail("{}: no rows", origin);
  return t;
}

}  // namespace erank
