#define PCRE2_CODE_UNIT_WIDTH 8
#include "arena/style.h"

#include <pcre2.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "arena/linalg.h"
#include "core/error.h"

namespace erank::arena {
namespace {

// A compiled pattern with Python's `re` semantics for what FastChat's patterns use: MULTILINE,
// `^` only after "\n", Unicode \s and \d (UCP), UTF-8 subjects.
class Pattern {
 public:
  explicit Pattern(const char* p) {
    int err = 0;
    PCRE2_SIZE off = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p), PCRE2_ZERO_TERMINATED,
                          PCRE2_MULTILINE | PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off,
                          nullptr);
    ERANK_CHECK(code_ != nullptr, "bad built-in pattern {}", p);
  }
  ~Pattern() { pcre2_code_free(code_); }
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;

  // Non-overlapping matches left to right (re.findall): each match's group `g` span.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view s, int g = 0) const {
    std::vector<std::pair<size_t, size_t>> out;
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
        pcre2_match_data_create_from_pattern(code_, nullptr), &pcre2_match_data_free);
    size_t pos = 0;
    while (pos <= s.size()) {
      const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos, 0,
                                 md.get(), nullptr);
      if (rc < 0) break;
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
      out.emplace_back(ov[2 * g], ov[2 * g + 1]);
      pos = ov[1] > ov[0] ? ov[1] : ov[0] + 1;  // an empty match moves on by one
    }
    return out;
  }
  int64_t count(std::string_view s) const { return static_cast<int64_t>(find_all(s).size()); }

 private:
  pcre2_code* code_ = nullptr;
};

// Inputs are checked UTF-8 (battle logs are JSON; the server rejects invalid prompts), so the
// subjects below are valid and PCRE2's own check is skipped.
const Pattern& pat(int i) {
  static const Pattern p[] = {Pattern("(*LF)```([^`]*)```"),        Pattern("(*LF)^#{1,6}\\s"),
                              Pattern("(*LF)^\\s*\\d+\\.\\s"),      Pattern("(*LF)^\\s*[-*+]\\s"),
                              Pattern("(*LF)\\*\\*[^*\\n]+\\*\\*"), Pattern("(*LF)__[^_\\n]+__")};
  return p[i];
}

void replace_all(std::string& s, const std::string& what) {
  if (what.empty()) return;
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(what, pos)) != std::string::npos; pos = hit + what.size())
    out.append(s, pos, hit - pos);
  out.append(s, pos);
  s = std::move(out);
}

const double kLn10 = std::log(10.0);

double sigmoid(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}
double softplus(double x) {
  return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)));
}

struct Rows {
  std::vector<int32_t> a, b;
  std::vector<double> y;
  std::vector<std::array<double, kStyleFeatures>> x;  // z-scored
};

// Newton on FastChat's penalised contextual likelihood (strictly convex: the penalty covers every
// parameter), over the rows listed in `idx` (with repeats for a bootstrap draw).
std::vector<double> fit_rows(const Rows& d, const std::vector<size_t>& idx, int M, double reg) {
  const int P = M + kStyleFeatures;
  std::vector<double> p(P, 0.0);
  auto loss_at = [&](const std::vector<double>& q) {
    double l = 0;
    for (size_t i : idx) {
      double z = kLn10 * (q[d.a[i]] - q[d.b[i]]);
      for (int f = 0; f < kStyleFeatures; ++f) z += d.x[i][f] * q[M + f];
      l += softplus(z) - d.y[i] * z;
    }
    for (double v : q) l += 0.5 * reg * v * v;
    return l;
  };
  double loss = loss_at(p);
  for (int it = 0; it < 100; ++it) {
    std::vector<double> g(P), H(static_cast<size_t>(P) * P, 0.0);
    for (int k = 0; k < P; ++k) g[k] = reg * p[k], H[k * P + k] = reg;
    for (size_t i : idx) {
      // The row's logit gradient: +ln10 at a, -ln10 at b, x at the features.
      double z = kLn10 * (p[d.a[i]] - p[d.b[i]]);
      for (int f = 0; f < kStyleFeatures; ++f) z += d.x[i][f] * p[M + f];
      const double s = sigmoid(z), e = s - d.y[i], h = s * (1 - s);
      int cols[2 + kStyleFeatures];
      double v[2 + kStyleFeatures];
      cols[0] = d.a[i], v[0] = kLn10;
      cols[1] = d.b[i], v[1] = -kLn10;
      for (int f = 0; f < kStyleFeatures; ++f) cols[2 + f] = M + f, v[2 + f] = d.x[i][f];
      for (int u = 0; u < 2 + kStyleFeatures; ++u) {
        g[cols[u]] += e * v[u];
        for (int w = 0; w < 2 + kStyleFeatures; ++w) H[cols[u] * P + cols[w]] += h * v[u] * v[w];
      }
    }
    double gmax = 0;
    for (double x : g) gmax = std::max(gmax, std::abs(x));
    if (gmax < 1e-12 * std::max<double>(1.0, static_cast<double>(idx.size()))) break;
    std::vector<double> step(g);
    for (double& x : step) x = -x;
    ERANK_CHECK(cholesky_solve(H, step, P, 1), "style control: Hessian not positive definite");
    double slope = 0;
    for (int k = 0; k < P; ++k) slope += g[k] * step[k];
    std::vector<double> trial(P);
    double s = 1.0, next = loss;
    for (int k = 0; k < 60; ++k, s *= 0.5) {
      for (int j = 0; j < P; ++j) trial[j] = p[j] + s * step[j];
      next = loss_at(trial);
      if (next <= loss + 1e-4 * s * slope) break;
    }
    if (next >= loss) break;
    p = trial;
    loss = next;
  }
  return p;
}

}  // namespace

const char* const kStyleFeatureNames[kStyleFeatures] = {"length", "headers", "lists", "bold"};

MarkdownCounts count_markdown(std::string_view answer) {
  std::string text(answer);
  // FastChat: blocks = findall("```([^`]*)```"); answer.replace(block, "") for each, in order.
  std::vector<std::string> blocks;
  for (auto [b, e] : pat(0).find_all(text, 1)) blocks.emplace_back(text.substr(b, e - b));
  for (const auto& b : blocks) replace_all(text, b);
  MarkdownCounts c;
  c.headers = pat(1).count(text);
  c.lists = pat(2).count(text) + pat(3).count(text);
  c.bold = pat(4).count(text) + pat(5).count(text);
  return c;
}

StyleCounts style_from_text(std::string_view answer) {
  const MarkdownCounts m = count_markdown(answer);
  StyleCounts s;
  s.headers = static_cast<double>(m.headers);
  s.lists = static_cast<double>(m.lists);
  s.bold = static_cast<double>(m.bold);
  bool in_word = false;
  for (unsigned char ch : answer) {
    const bool space = ch == ' ' || (ch >= '\t' && ch <= '\r');
    if (!space && !in_word) s.tokens += 1;
    in_word = !space;
  }
  return s;
}

StyleResult fit_style_control(const std::vector<Battle>& battles, const StyleOptions& opt) {
  StyleResult res;
  const PairTable t = make_pair_table(battles);  // for the model list (name order)
  res.models = t.models;
  const int M = static_cast<int>(t.models.size());
  Rows d;
  const size_t n = battles.size();
  std::array<std::vector<double>, kStyleFeatures> raw;
  for (const Battle& b : battles) {
    if (!b.style_a || !b.style_b)
      fail("{}: style control needs conv_metadata or both conversations", b.where);
    auto idx = [&](const std::string& m) {
      return static_cast<int32_t>(std::lower_bound(t.models.begin(), t.models.end(), m) -
                                  t.models.begin());
    };
    d.a.push_back(idx(b.model_a));
    d.b.push_back(idx(b.model_b));
    d.y.push_back(outcome_a(b.winner));
    const StyleCounts &sa = *b.style_a, &sb = *b.style_b;
    const double va[] = {sa.tokens, sa.headers, sa.lists, sa.bold};
    const double vb[] = {sb.tokens, sb.headers, sb.lists, sb.bold};
    for (int f = 0; f < kStyleFeatures; ++f)
      raw[f].push_back((va[f] - vb[f]) / (va[f] + vb[f] + 1));
  }
  d.x.resize(n);
  for (int f = 0; f < kStyleFeatures; ++f) {
    double mean = 0, var = 0;
    for (double v : raw[f]) mean += v;
    mean /= static_cast<double>(n);
    for (double v : raw[f]) var += (v - mean) * (v - mean);
    double sd = std::sqrt(var / static_cast<double>(n));  // np.std: population
    if (!(sd > 0)) sd = 1;  // a constant feature (FastChat would divide by zero): left at zero
    for (size_t i = 0; i < n; ++i) d.x[i][f] = (raw[f][i] - mean) / sd;
  }
  auto ratings_of = [&](const std::vector<double>& p) {
    std::vector<double> r(M);
    for (int i = 0; i < M; ++i) r[i] = 400.0 * p[i] + 1000.0;
    if (opt.anchor) {
      auto it = std::find(t.models.begin(), t.models.end(), opt.anchor->model);
      if (it == t.models.end()) fail("--anchor: no battle involves '{}'", opt.anchor->model);
      const double shift = opt.anchor->rating - r[it - t.models.begin()];
      for (double& x : r) x += shift;
    }
    return r;
  };
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  const std::vector<double> p = fit_rows(d, all, M, opt.reg);
  res.ratings = ratings_of(p);
  res.coefficients.assign(p.begin() + M, p.end());
  if (opt.rounds > 0) {
    ArenaRng rng(opt.seed);
    std::vector<std::vector<double>> samples(M);
    std::vector<size_t> idx(n);
    for (int k = 0; k < opt.rounds; ++k) {
      for (size_t& i : idx) i = rng.below(n);
      const std::vector<double> r = ratings_of(fit_rows(d, idx, M, opt.reg));
      for (int i = 0; i < M; ++i) samples[i].push_back(r[i]);
    }
    for (int i = 0; i < M; ++i)
      res.ci.push_back({quantile(samples[i], 0.025), quantile(samples[i], 0.975)});
  }
  return res;
}

}  // namespace erank::arena
