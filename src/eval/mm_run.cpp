#include "eval/mm_run.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "data/readers.h"
#include "eval/progress.h"
#include "metrics/erank.h"
#include "metrics/stats.h"
#include "vision/llava.h"

namespace fs = std::filesystem;

namespace erank {
namespace {

constexpr int kPerPairVersion = 1;
const char* const kNames[5] = {"erank1", "erank2", "erank3", "erank4", "erank5"};

struct PairInput {
  std::string image;  // as written in the data file
  std::string text;
};

std::vector<PairInput> read_pairs(const MMSettings& s) {
  std::ifstream f(s.data, std::ios::binary);
  if (!f) fail("{}: cannot open", s.data);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const Format fmt = format_from_path(s.data);
  if (fmt != Format::jsonl && fmt != Format::csv)
    fail("{}: pairs are read from JSONL or CSV files", s.data);
  RecordReader images(bytes, fmt, s.image_field, s.data), texts(bytes, fmt, s.text_field, s.data);
  std::vector<PairInput> out;
  for (int64_t i = 0; i < images.size(); ++i) {
    if (s.limit >= 0 && int64_t(out.size()) >= s.limit) break;
    out.push_back({images.text(i), texts.text(i)});
    if (out.back().image.empty())
      fail("{}:{}: empty '{}' field", s.data, images.line(i), s.image_field);
  }
  if (out.empty()) fail("{}: no pairs", s.data);
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

nlohmann::json num(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}
double num_of(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : NAN;
}

nlohmann::json pair_json(const MMPair& p) {
  nlohmann::json j = {{"index", p.index}, {"rotation", p.rotation}};
  for (int k = 0; k < 5; ++k) j[kNames[k]] = num(p.erank[k]);
  j["image_reduction_ratio"] = num(p.reduction);
  j["image_text_alignment"] = num(p.alignment);
  j["tokens"] = {p.tokens[0], p.tokens[1], p.tokens[2], p.tokens[3], p.tokens[4]};
  if (!p.skipped.empty()) j["skipped"] = p.skipped;
  return j;
}

MMPair pair_of(const nlohmann::json& j) {
  MMPair p;
  p.index = j.at("index").get<int64_t>();
  p.rotation = j.at("rotation").get<int>();
  for (int k = 0; k < 5; ++k) {
    p.erank[k] = num_of(j.at(kNames[k]));
    p.tokens[k] = j.at("tokens").at(size_t(k)).get<int64_t>();
  }
  p.reduction = num_of(j.at("image_reduction_ratio"));
  p.alignment = num_of(j.at("image_text_alignment"));
  p.skipped = j.value("skipped", "");
  return p;
}

// The per-pair file: a header with the settings that must match on --resume, then one line per
// (pair, rotation). A torn last line (killed mid-write) is dropped and cut off.
std::map<std::pair<int, int64_t>, MMPair> read_per_pair(const std::string& path,
                                                        const nlohmann::json& header) {
  std::map<std::pair<int, int64_t>, MMPair> done;
  std::ifstream f(path);
  if (!f) return done;
  std::string line;
  int64_t lineno = 0, good = 0, pos = 0;
  while (std::getline(f, line)) {
    ++lineno;
    const bool complete = !f.eof();
    pos += int64_t(line.size()) + (complete ? 1 : 0);
    if (!complete) break;
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (lineno == 1) {
        if (j.value("erank_mm_per_pair", 0) != kPerPairVersion ||
            j["settings"] != header["settings"])
          fail(
              "{}: made with different settings (model, data, fields, template, rotation) or by "
              "another erank version; use another --per-pair file or remove it",
              path);
      } else {
        MMPair p = pair_of(j);
        done[{p.rotation, p.index}] = p;
      }
    } catch (const nlohmann::json::exception& e) {
      fail("{}:{}: malformed record ({}); the per-pair file is corrupt", path, lineno, e.what());
    }
    good = pos;
  }
  f.close();
  if (fs::file_size(path) != uintmax_t(good)) fs::resize_file(path, uintmax_t(good));
  return done;
}

ERank erank_of_matrix(const Matrix& m) {
  return erank_of(m.v.data(), m.rows, m.cols);
}

class PairRunner {
 public:
  PairRunner(const MMSettings& s, const Llava& m, Backend& be) : s_(s), m_(m), be_(be) {
    if (s.prompt_template.find("{text}") == std::string::npos)
      fail("--template '{}' has no {{text}}", s.prompt_template);
  }

  MMPair run(int64_t index, const PairInput& in, int rotation) const {
    MMPair p;
    p.index = index;
    p.rotation = rotation;
    const std::string& tag = m_.config().image_token;
    const Tokenizer& tok = m_.tokenizer();
    const int32_t image_id = int32_t(m_.config().image_token_id);
    // The image+text prompt needs exactly one placeholder (one image per pair).
    const std::string prompt = replace_all(s_.prompt_template, "{text}", in.text);
    const std::vector<int32_t> ids5 = tok.encode(prompt);
    const auto n_img = std::count(ids5.begin(), ids5.end(), image_id);
    if (n_img != 1)
      fail("{}: pair {}: the prompt {} '{}' ({}){}", s_.data, index,
           n_img == 0 ? "has no image placeholder" : "has several image placeholders", tag,
           n_img == 0 ? "put it in --template or in the text"
                      : "one image per pair: keep one in the template or the text",
           n_img == 0 ? "" : fmt::format(", {} found", n_img));

    const fs::path base = fs::path(s_.data).parent_path();
    const fs::path img_path =
        fs::path(in.image).is_absolute() ? fs::path(in.image) : base / in.image;
    const Image im = rotate_clockwise(read_image(img_path.string()), rotation);
    const ImageFeatures f = m_.encode(be_, preprocess(im, m_.image_processor()));
    ERank e[5];
    e[0] = erank_of_matrix(f.tower);
    e[1] = erank_of_matrix(f.projected);
    // eRank3: "<image>" alone, rows of the image tokens only.
    {
      const std::vector<int32_t> ids = m_.expand_image_tokens(tok.encode(tag));
      const Matrix h = m_.language_hidden(be_, ids, {&f.projected});
      Matrix rows{0, h.cols, {}};
      for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] == image_id) {
          rows.v.insert(rows.v.end(), h.v.begin() + int64_t(i) * h.cols,
                        h.v.begin() + int64_t(i + 1) * h.cols);
          ++rows.rows;
        }
      e[2] = erank_of_matrix(rows);
    }
    // eRank4: the text alone, placeholders (and the newline after one) removed.
    {
      const std::string text = replace_all(replace_all(in.text, tag + "\n", ""), tag, "");
      const std::vector<int32_t> ids = tok.encode(text);
      e[3] = erank_of_matrix(m_.language_hidden(be_, ids, {}));
    }
    // eRank5: every token of the prompt, the image expanded in place.
    {
      const std::vector<int32_t> ids = m_.expand_image_tokens(ids5);
      e[4] = erank_of_matrix(m_.language_hidden(be_, ids, {&f.projected}));
    }
    for (int k = 0; k < 5; ++k) {
      p.erank[k] = e[k].ok ? e[k].erank : NAN;
      p.tokens[k] = e[k].n_tokens;
      if (!e[k].ok && p.skipped.empty()) p.skipped = fmt::format("{}: {}", kNames[k], e[k].skipped);
    }
    p.reduction = (p.erank[0] - p.erank[1]) / p.erank[0];
    const double mx = std::max({p.erank[2], p.erank[3], p.erank[4]});
    p.alignment = (p.erank[2] + p.erank[3] + p.erank[4]) / 3.0 / mx;
    if (!p.skipped.empty()) p.reduction = p.alignment = NAN;
    return p;
  }

 private:
  const MMSettings& s_;
  const Llava& m_;
  Backend& be_;
};

}  // namespace

nlohmann::json summarize_mm(const std::vector<MMPair>& pairs) {
  std::vector<double> v[7];
  int64_t skipped = 0;
  for (const MMPair& p : pairs) {
    if (!p.skipped.empty()) {
      ++skipped;
      continue;
    }
    for (int k = 0; k < 5; ++k) v[k].push_back(p.erank[k]);
    v[5].push_back(p.reduction);
    v[6].push_back(p.alignment);
  }
  nlohmann::json mean, se, arr = nlohmann::json::array();
  for (int k = 0; k < 7; ++k) {
    const char* name = k < 5    ? kNames[k]
                       : k == 5 ? "image_reduction_ratio"
                                : "image_text_alignment";
    mean[name] = num(stats::mean(v[k]));
    se[name] = num(stats::stderr_of_mean(v[k]));
  }
  for (const MMPair& p : pairs) arr.push_back(pair_json(p));
  // The paper's table relates its ratios to its mean eRanks this way.
  const double m[5] = {stats::mean(v[0]), stats::mean(v[1]), stats::mean(v[2]), stats::mean(v[3]),
                       stats::mean(v[4])};
  const nlohmann::json of_means = {
      {"image_reduction_ratio", num((m[0] - m[1]) / m[0])},
      {"image_text_alignment", num((m[2] + m[3] + m[4]) / 3.0 / std::max({m[2], m[3], m[4]}))}};
  return {{"pairs", arr},
          {"mean", mean},
          {"stderr", se},
          {"of_means", of_means},
          {"n_pairs", int64_t(v[0].size())},
          {"n_skipped", skipped}};
}

nlohmann::json run_mm(const MMSettings& s) {
  if (s.rotate % 90 != 0 || s.rotate < 0 || s.rotate >= 360)
    fail("--rotate {}: use 90, 180 or 270 (clockwise)", s.rotate);
  const std::vector<PairInput> pairs = read_pairs(s);
  const auto model = Llava::load(s.model);
  auto be = make_backend(s.backend, s.threads);
  const PairRunner runner(s, *model, *be);
  std::vector<int> rotations = {s.rotate};
  if (s.rotation_study) rotations = {0, s.rotate == 0 ? 90 : s.rotate};

  const nlohmann::json settings = {{"model", fs::absolute(s.model).lexically_normal().string()},
                                   {"data", fs::absolute(s.data).lexically_normal().string()},
                                   {"n_pairs", pairs.size()},
                                   {"image_field", s.image_field},
                                   {"text_field", s.text_field},
                                   {"template", s.prompt_template},
                                   {"rotations", rotations},
                                   {"backend", s.backend}};
  const nlohmann::json header = {{"erank_mm_per_pair", kPerPairVersion}, {"settings", settings}};
  std::map<std::pair<int, int64_t>, MMPair> done;
  std::ofstream per;
  if (!s.per_pair.empty()) {
    if (s.resume) {
      done = read_per_pair(s.per_pair, header);
    } else if (fs::exists(s.per_pair)) {
      fail("{}: exists; pass --resume to continue it, or remove it", s.per_pair);
    }
    const bool fresh = !fs::exists(s.per_pair) || fs::file_size(s.per_pair) == 0;
    per.open(s.per_pair, std::ios::app);
    if (!per) fail("{}: cannot write", s.per_pair);
    if (fresh) per << header.dump() << "\n" << std::flush;
  }
  const int64_t total = int64_t(pairs.size() * rotations.size());
  Progress prog("mm", total, isatty(2) != 0, s.quiet, "pair runs");
  int64_t n = 0, tokens = 0;
  for (int rot : rotations)
    for (size_t i = 0; i < pairs.size(); ++i, ++n) {
      if (done.count({rot, int64_t(i)})) continue;
      const MMPair p = runner.run(int64_t(i), pairs[i], rot);
      done[{rot, int64_t(i)}] = p;
      if (per.is_open()) per << pair_json(p).dump() << "\n" << std::flush;
      tokens += p.tokens[2] + p.tokens[3] + p.tokens[4];  // language-model rows
      prog.update(n + 1, tokens);
    }
  prog.finish();
  auto summary = [&](int rot) {
    std::vector<MMPair> v;
    for (size_t i = 0; i < pairs.size(); ++i) v.push_back(done.at({rot, int64_t(i)}));
    nlohmann::json j = summarize_mm(v);
    j["rotation"] = rot;
    return j;
  };
  nlohmann::json out = {{"erank_mm", 1}, {"settings", settings}};
  if (s.rotation_study) {
    out["upright"] = summary(rotations[0]);
    out["rotated"] = summary(rotations[1]);
  } else {
    out.update(summary(rotations[0]));
  }
  return out;
}

std::string format_mm(const nlohmann::json& r) {
  const char* rows[7] = {"erank1",
                         "erank2",
                         "erank3",
                         "erank4",
                         "erank5",
                         "image_reduction_ratio",
                         "image_text_alignment"};
  const char* labels[7] = {"eRank1 (vision tower)", "eRank2 (projector)", "eRank3 (LM: image)",
                           "eRank4 (LM: text)",     "eRank5 (LM: both)",  "image reduction ratio",
                           "image-text alignment"};
  auto cell = [](const nlohmann::json& part, const char* k) {
    const double m = num_of(part["mean"][k]), e = num_of(part["stderr"][k]);
    return fmt::format("{:.4f} ± {:.4f}", m, e);
  };
  std::string out;
  if (r.contains("upright")) {
    const auto &a = r["upright"], &b = r["rotated"];
    out += fmt::format("{:<24} {:>20} {:>20} {:>10}\n", "mean over pairs", "upright",
                       fmt::format("rotated {}°", b["rotation"].get<int>()), "change");
    for (int k = 0; k < 7; ++k)
      out += fmt::format("{:<24} {:>20} {:>20} {:>+10.4f}\n", labels[k], cell(a, rows[k]),
                         cell(b, rows[k]), num_of(b["mean"][rows[k]]) - num_of(a["mean"][rows[k]]));
    out += fmt::format("pairs: {} ({} skipped upright, {} rotated)\n", a["n_pairs"].get<int64_t>(),
                       a["n_skipped"].get<int64_t>(), b["n_skipped"].get<int64_t>());
    return out;
  }
  out += fmt::format("{:<24} {:>20}\n", "mean over pairs",
                     fmt::format("rotation {}°", r["rotation"].get<int>()));
  for (int k = 0; k < 7; ++k) out += fmt::format("{:<24} {:>20}\n", labels[k], cell(r, rows[k]));
  out += fmt::format("ratios of the mean eRanks: reduction {:.4f}, alignment {:.4f}\n",
                     num_of(r["of_means"]["image_reduction_ratio"]),
                     num_of(r["of_means"]["image_text_alignment"]));
  out += fmt::format("pairs: {} ({} skipped)\n", r["n_pairs"].get<int64_t>(),
                     r["n_skipped"].get<int64_t>());
  return out;
}

}  // namespace erank
