#include "arena/leaderboard.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "arena/style.h"
#include "core/error.h"

namespace erank::arena {

Leaderboard rate(std::vector<Battle> battles, const RateOptions& opt) {
  if (battles.empty()) fail("no battles to rate");
  if (opt.ci != "bootstrap" && opt.ci != "sandwich")
    fail("--ci must be bootstrap or sandwich (got '{}')", opt.ci);
  sort_by_time(battles);
  Leaderboard lb;
  lb.opt = opt;
  lb.n_battles = static_cast<int64_t>(battles.size());
  const auto elo = online_elo(battles);
  const PairTable t = make_pair_table(battles);
  lb.finite = mle_exists(t);
  std::vector<double> theta;
  fit_bt(t, t.n, theta);
  const std::vector<double> bt = to_elo_scale(t, theta, opt.anchor);
  const auto sw = sandwich_ci(t, theta, opt.anchor);
  std::vector<std::array<double, 2>> boot;
  if (opt.rounds > 0) boot = bootstrap_ci(t, opt.rounds, opt.seed, opt.anchor);
  const bool use_boot = opt.ci == "bootstrap" && !boot.empty();
  const auto& chosen = use_boot ? boot : sw;
  const std::vector<int> rank = ci_ranks(chosen);

  std::optional<StyleResult> style;
  const bool have_style = std::all_of(battles.begin(), battles.end(),
                                      [](const Battle& b) { return b.style_a && b.style_b; });
  if (opt.style && have_style) {
    StyleOptions so;
    so.rounds = opt.rounds;
    so.seed = opt.seed;
    so.anchor = opt.anchor;
    style = fit_style_control(battles, so);
    lb.style_coefficients = style->coefficients;
  }
  for (size_t i = 0; i < t.models.size(); ++i) {
    ModelRating r;
    r.model = t.models[i];
    r.n_battles = t.battles_per_model[i];
    r.elo = elo.at(r.model);
    r.bt = bt[i];
    r.sandwich_ci = sw[i];
    if (!boot.empty()) r.bootstrap_ci = boot[i];
    r.bt_ci = chosen[i];
    r.rank = rank[i];
    if (style) {
      r.style_bt = style->ratings[i];
      if (!style->ci.empty()) r.style_ci = style->ci[i];
    }
    lb.models.push_back(std::move(r));
  }
  std::stable_sort(lb.models.begin(), lb.models.end(),
                   [](const ModelRating& a, const ModelRating& b) { return a.bt > b.bt; });
  return lb;
}

nlohmann::ordered_json to_json(const Leaderboard& lb) {
  using oj = nlohmann::ordered_json;
  oj models = oj::array();
  for (const ModelRating& r : lb.models) {
    oj m{{"model", r.model},
         {"n_battles", r.n_battles},
         {"elo", r.elo},
         {"bt", r.bt},
         {"bt_ci", r.bt_ci},
         {"rank", r.rank},
         {"sandwich_ci", r.sandwich_ci}};
    if (lb.opt.rounds > 0) m["bootstrap_ci"] = r.bootstrap_ci;
    if (r.style_bt) m["style_bt"] = *r.style_bt;
    if (r.style_ci) m["style_ci"] = *r.style_ci;
    models.push_back(std::move(m));
  }
  oj j{{"models", models},
       {"n_battles", lb.n_battles},
       {"ci", lb.opt.rounds > 0 ? lb.opt.ci : std::string("sandwich")},
       {"bootstrap_rounds", lb.opt.rounds},
       {"seed", lb.opt.seed},
       {"finite_mle", lb.finite}};
  if (lb.opt.anchor)
    j["anchor"] = {{"model", lb.opt.anchor->model}, {"rating", lb.opt.anchor->rating}};
  if (!lb.style_coefficients.empty()) {
    oj c;
    for (int f = 0; f < kStyleFeatures; ++f) c[kStyleFeatureNames[f]] = lb.style_coefficients[f];
    j["style_coefficients"] = c;
  }
  return j;
}

std::string to_table(const Leaderboard& lb) {
  size_t w = 5;
  for (const auto& r : lb.models) w = std::max(w, r.model.size());
  std::string s = fmt::format("{:>4}  {:<{}}  {:>8}  {:>17}  {:>8}  {:>7}{}\n", "rank", "model", w,
                              "BT", "95% CI", "Elo", "battles",
                              lb.style_coefficients.empty() ? "" : "  style-controlled BT");
  for (const auto& r : lb.models) {
    s += fmt::format("{:>4}  {:<{}}  {:>8.1f}  [{:>7.1f}, {:>7.1f}]  {:>8.1f}  {:>7}", r.rank,
                     r.model, w, r.bt, r.bt_ci[0], r.bt_ci[1], r.elo, r.n_battles);
    if (r.style_bt) s += fmt::format("  {:>8.1f}", *r.style_bt);
    s += "\n";
  }
  return s;
}

std::string forest_svg(const Leaderboard& lb, const std::string& title) {
  // Layout: names on the left, a rating axis on the right with a dot (the MLE) and a bar (the
  // interval) per model; the axis spans every bound plus a margin, ticks at round steps.
  const int row = 26, left = 200, plot_w = 480, top = 46, n = static_cast<int>(lb.models.size());
  const int W = left + plot_w + 40, H = top + n * row + 50;
  double lo = 1e300, hi = -1e300;
  for (const auto& r : lb.models) {
    lo = std::min({lo, r.bt_ci[0], r.bt});
    hi = std::max({hi, r.bt_ci[1], r.bt});
  }
  if (!(hi > lo)) lo -= 10, hi += 10;
  const double pad = (hi - lo) * 0.08;
  lo -= pad, hi += pad;
  const double span = hi - lo;
  const double base = std::pow(10.0, std::floor(std::log10(span / 5)));
  double step = base * 10;  // at most 8 ticks, at 1, 2 or 5 times a power of ten
  for (double m : {1.0, 2.0, 5.0})
    if (span / (base * m) <= 8) {
      step = base * m;
      break;
    }
  auto X = [&](double v) { return left + (v - lo) / span * plot_w; };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" "
      "fill=\"white\"/>\n<text x=\"{}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
      W, H, W, H, 12, xml_escape(title));
  const int axis_y = top + n * row + 6;
  for (double v = std::ceil(lo / step) * step; v <= hi; v += step) {
    s += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\" fill=\"#444\">{4:.0f}</text>\n",
        X(v), top - 6, axis_y, axis_y + 16, v);
  }
  for (int i = 0; i < n; ++i) {
    const ModelRating& r = lb.models[i];
    const int y = top + i * row + row / 2;
    s += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}. {}</text>"
        "<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#2563eb\" "
        "stroke-width=\"3\"/>"
        "<circle cx=\"{:.1f}\" cy=\"{}\" r=\"5\" fill=\"#dc2626\"/>"
        "<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" fill=\"#444\">{:.0f}</text>\n",
        left - 10, y + 4, r.rank, xml_escape(r.model), X(r.bt_ci[0]), y, X(r.bt_ci[1]), y, X(r.bt),
        y, X(r.bt_ci[1]) + 6, y + 4, r.bt);
  }
  s += fmt::format(
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#444\">rating (dot: MLE; bar: 95% "
      "{} interval)</text>\n</svg>\n",
      left + plot_w / 2, axis_y + 36, lb.opt.rounds > 0 ? lb.opt.ci : std::string("sandwich"));
  return s;
}

}  // namespace erank::arena
