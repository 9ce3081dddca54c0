#include "report/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "report/html.h"

namespace erank::report {
namespace {

// Okabe-Ito-like colours, distinguishable for most colour-blind readers, then a few more.
const char* const kPalette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
                                "#7f3c8d", "#3b3b3b", "#a6761d", "#1b9e77", "#e7298a", "#66a61e"};
constexpr int kNPalette = sizeof(kPalette) / sizeof(kPalette[0]);

const char* colour(int i) {
  return kPalette[((i % kNPalette) + kNPalette) % kNPalette];
}

std::string shorten(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n - 1;  // do not split a UTF-8 sequence
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\u2026";
}

std::string svg_open(const std::string& name, const char* type, size_t n_series, int w, int h,
                     const std::string& title) {
  return fmt::format(
      "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" data-plot=\"{}\" "
      "data-type=\"{}\" data-series-count=\"{}\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "role=\"img\" aria-label=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
      esc(name), type, n_series, w, h, w, h, esc(title), esc(title));
}

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double p0 = 0, p1 = 1;  // pixel range
  bool integer = false;   // data are whole numbers (layers): ticks only there
  double map(double v) const {
    const double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
                         : (v - lo) / (hi - lo);
    return p0 + t * (p1 - p0);
  }
  std::vector<double> ticks() const {
    std::vector<double> t = log ? log_ticks(lo, hi) : linear_ticks(lo, hi);
    // A log axis over less than a factor of ~5 has too few round ticks: label it linearly.
    if (log && t.size() < 3) t = linear_ticks(lo, hi, 5);
    if (integer) std::erase_if(t, [](double v) { return v != std::round(v); });
    return t;
  }
};

// Data range -> axis range: padded, widened when empty, rounded out to ticks (linear).
Axis make_axis(std::vector<double> v, bool log) {
  Axis a;
  a.log = log;
  std::erase_if(v, [&](double x) { return !std::isfinite(x) || (log && x <= 0); });
  if (v.empty()) return a.log ? Axis{1, 10, true} : a;
  a.integer = std::all_of(v.begin(), v.end(), [](double x) { return x == std::round(x); });
  double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  if (log) {
    lo /= 1.5, hi *= 1.5;
    a.lo = lo, a.hi = hi;
    return a;
  }
  if (hi - lo <= 1e-12 * std::max(1.0, std::fabs(hi))) {
    const double d = std::fabs(hi) > 0 ? std::fabs(hi) * 0.1 : 1;
    lo -= d, hi += d;
  } else {
    const double pad = (hi - lo) * 0.05;
    lo -= pad, hi += pad;
  }
  const auto t = linear_ticks(lo, hi);
  const double step = t.size() > 1 ? t[1] - t[0] : (hi - lo);
  a.lo = std::floor(lo / step) * step;
  a.hi = std::ceil(hi / step) * step;
  return a;
}

std::string frame(const Axis& x, const Axis& y, const std::string& xlabel,
                  const std::string& ylabel, bool x_ticks = true, bool y_ticks = true) {
  std::string s = "<g class=\"axes\" stroke=\"#999\" fill=\"#333\">\n";
  for (double t : y_ticks ? y.ticks() : std::vector<double>{}) {
    const double py = y.map(t);
    s += fmt::format(
        "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" stroke=\"none\">{}</text>\n",
        x.p0, x.p1, py, py, x.p0 - 6, py + 4, esc(tick_label(t)));
  }
  if (x_ticks)
    for (double t : x.ticks()) {
      const double px = x.map(t);
      s += fmt::format(
          "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>"
          "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>"
          "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" stroke=\"none\">{}</text>\n",
          px, px, y.p0, y.p1, px, px, y.p0, y.p0 + 5, px, y.p0 + 18, esc(tick_label(t)));
    }
  s += fmt::format(
      "<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\"/>"
      "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{2:.1f}\" y2=\"{3:.1f}\"/>\n",
      x.p0, x.p1, y.p0, y.p1);
  s += fmt::format(
      "<text class=\"xlabel\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" "
      "stroke=\"none\">{}</text>\n",
      (x.p0 + x.p1) / 2, y.p0 + 36, esc(xlabel));
  s += fmt::format(
      "<text class=\"ylabel\" transform=\"translate({:.1f},{:.1f}) rotate(-90)\" "
      "text-anchor=\"middle\" stroke=\"none\">{}</text>\n",
      x.p0 - 52, (y.p0 + y.p1) / 2, esc(ylabel));
  return s + "</g>\n";
}

std::string legend(const std::vector<std::pair<std::string, int>>& entries,
                   const std::vector<bool>& dashed, double x, double y) {
  std::string s = "<g class=\"legend\">\n";
  for (size_t i = 0; i < entries.size(); ++i) {
    const double yy = y + 17.0 * double(i);
    const bool d = i < dashed.size() && dashed[i];
    s += fmt::format(
        "<g class=\"legend-entry\"><title>{}</title><line x1=\"{:.1f}\" x2=\"{:.1f}\" "
        "y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"2\"{}/>"
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\" stroke=\"{}\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text></g>\n",
        esc(entries[i].first), x, x + 22, yy, yy, colour(entries[i].second),
        d ? " stroke-dasharray=\"5,3\"" : "", x + 11, yy, d ? "none" : colour(entries[i].second),
        colour(entries[i].second), x + 28, yy + 4, esc(shorten(entries[i].first, 34)));
  }
  return s + "</g>\n";
}

}  // namespace

std::vector<double> linear_ticks(double lo, double hi, int max_ticks) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double span = hi - lo;
  const int e = static_cast<int>(std::floor(std::log10(span / max_ticks)));
  int m = 10;
  for (int c : {1, 2, 5})
    if (span / (c * std::pow(10.0, e)) <= max_ticks) {
      m = c;
      break;
    }
  // Tick k is k * m * 10^e; dividing by 10^-e (an exact integer) keeps 0.6 from being 0.6000001.
  auto at = [&](double k) {
    return e < 0 ? k * m / std::pow(10.0, -e) : k * m * std::pow(10.0, e);
  };
  const double step = at(1);
  std::vector<double> t;
  for (double k = std::ceil(lo / step - 1e-9); at(k) <= hi + step * 1e-9; k += 1)
    t.push_back(at(k) + 0.0);
  return t;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> t;
  if (!(lo > 0) || !(hi > lo)) return t;
  const int e0 = static_cast<int>(std::floor(std::log10(lo))),
            e1 = static_cast<int>(std::ceil(std::log10(hi)));
  const bool fine = e1 - e0 <= 2;
  for (int e = e0; e <= e1; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1.0 && !fine) continue;
      const double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
    }
  return t;
}

std::string tick_label(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return num(v / 1e9, 3) + "G";
  if (a >= 1e6) return num(v / 1e6, 3) + "M";
  if (a >= 1e4) return num(v / 1e3, 3) + "k";
  return num(v, 3);
}

std::string xy_svg(const XYPlot& p) {
  std::vector<double> xs, ys;
  std::vector<const Series*> drawn;
  for (const Series& s : p.series) {
    bool any = false;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && (!p.logx || s.x[i] > 0)) {
        xs.push_back(s.x[i]);
        ys.push_back(s.y[i]);
        any = true;
      }
    if (any) drawn.push_back(&s);
  }
  const int left = 78, top = 34, pw = 470, ph = 250, legend_w = 250;
  const int H = std::max(top + ph + 50, top + 17 * int(drawn.size()) + 20);
  const int W = left + pw + 20 + legend_w;
  Axis x = make_axis(xs, p.logx), y = make_axis(ys, false);
  y.integer = false;  // whole-number ticks are for layer axes
  x.p0 = left, x.p1 = left + pw;
  y.p0 = top + ph, y.p1 = top;
  std::string s = svg_open(p.name, "xy", drawn.size(), W, H, p.title);
  s += frame(x, y, p.xlabel, p.ylabel);
  std::vector<std::pair<std::string, int>> leg;
  std::vector<bool> dashed;
  for (size_t k = 0; k < drawn.size(); ++k) {
    const Series& se = *drawn[k];
    const int c = se.color >= 0 ? se.color : int(k);
    std::vector<std::pair<double, double>> pts;
    for (size_t i = 0; i < std::min(se.x.size(), se.y.size()); ++i)
      if (std::isfinite(se.x[i]) && std::isfinite(se.y[i]) && (!p.logx || se.x[i] > 0))
        pts.emplace_back(se.x[i], se.y[i]);
    std::stable_sort(pts.begin(), pts.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    s += fmt::format("<g class=\"series\" data-series=\"{}\" data-marks=\"{}\">\n", esc(se.name),
                     pts.size());
    if (se.line && pts.size() > 1) {
      s += fmt::format(
          "<polyline class=\"line\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"{} "
          "points=\"",
          colour(c), se.dashed ? " stroke-dasharray=\"5,3\"" : "");
      for (const auto& [px, py] : pts) s += fmt::format("{:.1f},{:.1f} ", x.map(px), y.map(py));
      s += "\"/>\n";
    }
    for (const auto& [px, py] : pts)
      s += fmt::format(
          "<circle class=\"mark\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\" "
          "stroke=\"{}\"><title>{}: ({}, {})</title></circle>\n",
          x.map(px), y.map(py), se.dashed ? "none" : colour(c), colour(c), esc(se.name),
          esc(num(px, 6)), esc(num(py, 6)));
    s += "</g>\n";
    leg.emplace_back(se.name, c);
    dashed.push_back(se.dashed);
  }
  s += legend(leg, dashed, left + pw + 24, top + 6);
  return s + "</svg>\n";
}

std::string bars_svg(const BarPlot& p) {
  std::vector<size_t> idx;
  std::vector<double> ys{0.0};
  for (size_t i = 0; i < std::min(p.labels.size(), p.value.size()); ++i)
    if (std::isfinite(p.value[i])) {
      idx.push_back(i);
      const double e = i < p.err.size() && std::isfinite(p.err[i]) ? p.err[i] : 0;
      ys.push_back(p.value[i] + e);
      ys.push_back(p.value[i] - e);
    }
  const int left = 78, top = 34, ph = 250;
  const int bw = idx.size() > 12 ? 18 : 34, gap = 14;
  const int pw = std::max(200, int(idx.size()) * (bw + gap) + gap);
  const int W = left + pw + 30, H = top + ph + 110;
  Axis x{0, 1, false, double(left), double(left + pw)};
  Axis y = make_axis(ys, false);
  y.integer = false;
  // Bars start at zero: the axis does too, and goes below it only for negative values.
  if (*std::min_element(ys.begin(), ys.end()) >= 0) y.lo = 0;
  y.lo = std::min(y.lo, 0.0);
  y.p0 = top + ph, y.p1 = top;
  std::string s = svg_open(p.name, "bars", idx.empty() ? 0 : 1, W, H, p.title);
  s += frame(x, y, "", p.ylabel, false);
  if (!idx.empty()) {
    s += fmt::format("<g class=\"series\" data-series=\"{}\" data-marks=\"{}\">\n", esc(p.series),
                     idx.size());
    for (size_t k = 0; k < idx.size(); ++k) {
      const size_t i = idx[k];
      const double x0 = left + gap + double(k) * (bw + gap);
      const double y0 = y.map(0), y1 = y.map(p.value[i]);
      s += fmt::format(
          "<rect class=\"mark\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{}\" height=\"{:.1f}\" "
          "fill=\"{}\"><title>{}: {}</title></rect>\n",
          x0, std::min(y0, y1), bw, std::max(1.0, std::fabs(y0 - y1)), colour(0), esc(p.labels[i]),
          esc(num(p.value[i], 6)));
      if (i < p.err.size() && std::isfinite(p.err[i]) && p.err[i] > 0) {
        const double cx = x0 + bw / 2.0;
        s += fmt::format(
            "<path class=\"err\" stroke=\"#333\" fill=\"none\" d=\"M{0:.1f},{1:.1f}V{2:.1f}"
            "M{3:.1f},{1:.1f}H{4:.1f}M{3:.1f},{2:.1f}H{4:.1f}\"/>\n",
            cx, y.map(p.value[i] - p.err[i]), y.map(p.value[i] + p.err[i]), cx - 5, cx + 5);
      }
      const double lx = x0 + bw / 2.0, ly = top + ph + 12;
      s += fmt::format(
          "<text class=\"bar-label\" transform=\"translate({:.1f},{:.1f}) rotate(35)\" "
          "font-size=\"11\">{}</text>\n",
          lx, ly, esc(shorten(p.labels[i], 22)));
    }
    s += "</g>\n";
  }
  return s + "</svg>\n";
}

std::string heatmap_svg(const HeatmapPlot& p) {
  const size_t nr = p.rows.size(), nc = p.cols.size();
  const int left = 90, top = 34;
  const int cw = std::clamp(int(700 / std::max<size_t>(nc, 1)), 9, 30);
  const int ch = std::clamp(int(320 / std::max<size_t>(nr, 1)), 8, 24);
  const int pw = cw * int(nc), ph = ch * int(nr);
  const int W = left + pw + 110, H = top + ph + 90;
  size_t marks = 0;
  for (size_t r = 0; r < nr && r < p.value.size(); ++r)
    for (size_t c = 0; c < nc && c < p.value[r].size(); ++c)
      if (std::isfinite(p.value[r][c])) ++marks;
  std::string s = svg_open(p.name, "heatmap", marks ? 1 : 0, W, H, p.title);
  // Sequential ramp (light to dark blue) over [vmin, vmax].
  auto fill = [&](double v) {
    double t = (v - p.vmin) / (p.vmax > p.vmin ? p.vmax - p.vmin : 1);
    t = std::clamp(t, 0.0, 1.0);
    const double a[3] = {247, 251, 255}, m[3] = {107, 174, 214}, b[3] = {8, 48, 107};
    int rgb[3];
    for (int k = 0; k < 3; ++k)
      rgb[k] = int(t < 0.5 ? a[k] + (m[k] - a[k]) * t * 2 : m[k] + (b[k] - m[k]) * (t - 0.5) * 2);
    return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
  };
  if (marks) {
    s += fmt::format("<g class=\"series\" data-series=\"{}\" data-marks=\"{}\">\n", esc(p.series),
                     marks);
    for (size_t r = 0; r < nr && r < p.value.size(); ++r)
      for (size_t c = 0; c < nc && c < p.value[r].size(); ++c) {
        const double v = p.value[r][c];
        if (!std::isfinite(v)) continue;
        const double px = left + double(c) * cw, py = top + double(nr - 1 - r) * ch;
        std::string note = r < p.notes.size() && c < p.notes[r].size() ? p.notes[r][c] : "";
        s += fmt::format(
            "<rect class=\"mark\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{}\" height=\"{}\" "
            "fill=\"{}\"><title>{} {} / {} {}: {} {}{}</title></rect>\n",
            px, py, cw, ch, fill(v), esc(p.xlabel), esc(p.cols[c]), esc(p.ylabel), esc(p.rows[r]),
            esc(p.value_label), esc(num(v, 4)), note.empty() ? "" : " (" + esc(note) + ")");
      }
    s += "</g>\n";
  }
  s += "<g class=\"axes\" fill=\"#333\">\n";
  for (size_t r = 0; r < nr; ++r)
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" font-size=\"11\">{}</text>\n",
                     left - 6, top + double(nr - 1 - r) * ch + ch / 2.0 + 4, esc(p.rows[r]));
  for (size_t c = 0; c < nc; ++c)
    s += fmt::format(
        "<text transform=\"translate({:.1f},{}) rotate(60)\" font-size=\"10\">{}</text>\n",
        left + double(c) * cw + cw / 2.0 - 3, top + ph + 6, esc(shorten(p.cols[c], 12)));
  s += fmt::format(
      "<text transform=\"translate({},{:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n", 20,
      top + ph / 2.0, esc(p.ylabel));
  s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                   left + pw / 2.0, H - 8, esc(p.xlabel));
  // Colour bar.
  const int bx = left + pw + 24, bh = std::max(ph, 80);
  for (int i = 0; i < 20; ++i) {
    const double v = p.vmin + (p.vmax - p.vmin) * (i + 0.5) / 20;
    s += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"14\" height=\"{:.1f}\" fill=\"{}\"/>\n",
                     bx, top + bh - (i + 1) * bh / 20.0, bh / 20.0 + 0.5, fill(v));
  }
  s += fmt::format(
      "<text x=\"{0}\" y=\"{1}\" font-size=\"11\">{2}</text><text x=\"{0}\" y=\"{3}\" "
      "font-size=\"11\">{4}</text><text x=\"{5}\" y=\"{6}\" font-size=\"11\">{7}</text>\n</g>\n",
      bx + 18, top + bh, esc(num(p.vmin, 3)), top + 10, esc(num(p.vmax, 3)), bx, top - 6,
      esc(p.value_label));
  return s + "</svg>\n";
}

std::string forest_svg(const ForestPlot& p) {
  std::vector<double> xs;
  std::vector<const ForestSeries*> drawn;
  for (const ForestSeries& f : p.series) {
    bool any = false;
    for (size_t i = 0; i < p.rows.size() && i < f.est.size(); ++i)
      if (std::isfinite(f.est[i])) {
        any = true;
        for (double v :
             {f.est[i], i < f.lo.size() ? f.lo[i] : NAN, i < f.hi.size() ? f.hi[i] : NAN})
          if (std::isfinite(v)) xs.push_back(v);
      }
    if (any) drawn.push_back(&f);
  }
  const int ns = std::max<int>(1, int(drawn.size()));
  const int left = 200, top = 34, pw = 460, row = 12 + 12 * ns, legend_w = 220;
  const int ph = row * int(p.rows.size());
  const int W = left + pw + 20 + legend_w, H = top + ph + 56;
  Axis x = make_axis(xs, false), y{0, 1, false, double(top + ph), double(top)};
  x.integer = false;
  x.p0 = left, x.p1 = left + pw;
  std::string s = svg_open(p.name, "forest", drawn.size(), W, H, p.title);
  s += frame(x, y, p.xlabel, "", true, false);
  for (size_t i = 0; i < p.rows.size(); ++i)
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 8,
                     top + double(i) * row + row / 2.0 + 4, esc(shorten(p.rows[i], 28)));
  std::vector<std::pair<std::string, int>> leg;
  for (size_t k = 0; k < drawn.size(); ++k) {
    const ForestSeries& f = *drawn[k];
    size_t n = 0;
    for (size_t i = 0; i < p.rows.size() && i < f.est.size(); ++i) n += std::isfinite(f.est[i]);
    s += fmt::format("<g class=\"series\" data-series=\"{}\" data-marks=\"{}\">\n", esc(f.name), n);
    for (size_t i = 0; i < p.rows.size() && i < f.est.size(); ++i) {
      if (!std::isfinite(f.est[i])) continue;
      const double cy = top + double(i) * row + 10 + 12.0 * double(k);
      const double lo = i < f.lo.size() ? f.lo[i] : NAN, hi = i < f.hi.size() ? f.hi[i] : NAN;
      if (std::isfinite(lo) && std::isfinite(hi))
        s += fmt::format(
            "<line class=\"interval\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" "
            "stroke=\"{}\" stroke-width=\"3\" stroke-opacity=\"0.6\"/>\n",
            x.map(lo), x.map(hi), cy, cy, colour(int(k)));
      s += fmt::format(
          "<circle class=\"mark\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4.5\" fill=\"{}\"><title>{}, "
          "{}: {} [{}, {}]</title></circle>\n",
          x.map(f.est[i]), cy, colour(int(k)), esc(p.rows[i]), esc(f.name), esc(num(f.est[i], 6)),
          esc(num(lo, 6)), esc(num(hi, 6)));
    }
    s += "</g>\n";
    leg.emplace_back(f.name, int(k));
  }
  s += legend(leg, {}, left + pw + 24, top + 6);
  return s + "</svg>\n";
}

}  // namespace erank::report
