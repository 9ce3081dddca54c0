// Inline SVG plots for the report, drawn by erank (no JavaScript): line/scatter plots with linear
// or log x axes, bar charts, heatmaps and forest plots. Every plot is
//   <svg class="plot" data-plot="NAME" data-type="xy|bars|heatmap|forest" data-series-count="N">
// holding one <g class="series" data-series="SERIES" data-marks="K"> per series whose drawn
// points, bars, cells or estimates carry class "mark", so a browser test can count what is drawn.
// A series without any finite value is left out (never an empty group). All text is escaped.
#pragma once
#include <string>
#include <vector>

namespace erank::report {

struct Series {
  std::string name;
  std::vector<double> x, y;  // pairs with a non-finite coordinate are not drawn
  bool line = true;          // join the points (in x order)
  bool dashed = false;       // e.g. the untrained twin of a model
  int color = -1;            // palette index; -1: the series' position
};

struct XYPlot {
  std::string name, title, xlabel, ylabel;
  bool logx = false;
  std::vector<Series> series;
};
std::string xy_svg(const XYPlot& p);

struct BarPlot {
  std::string name, title, ylabel, series;
  std::vector<std::string> labels;
  std::vector<double> value, err;  // err: half-width of an error bar, NaN or empty for none
};
std::string bars_svg(const BarPlot& p);

struct HeatmapPlot {
  std::string name, title, xlabel, ylabel, series, value_label;
  std::vector<std::string> cols, rows;          // e.g. tokens (x) and layers (y, first at bottom)
  std::vector<std::vector<double>> value;       // [row][col]
  std::vector<std::vector<std::string>> notes;  // optional [row][col] text for the tooltip
  double vmin = 0, vmax = 1;
};
std::string heatmap_svg(const HeatmapPlot& p);

struct ForestSeries {
  std::string name;
  std::vector<double> est, lo, hi;  // per row; NaN: not drawn
};
struct ForestPlot {
  std::string name, title, xlabel;
  std::vector<std::string> rows;
  std::vector<ForestSeries> series;
};
std::string forest_svg(const ForestPlot& p);

// Axis ticks at 1, 2 or 5 times a power of ten (linear) or at powers of ten (log; with 2 and 5
// between them when the range spans little). Exposed for tests.
std::vector<double> linear_ticks(double lo, double hi, int max_ticks = 7);
std::vector<double> log_ticks(double lo, double hi);
std::string tick_label(double v);

}  // namespace erank::report
