// The lens heatmap, as the DoLa paper's figure: layers up, input tokens across, each cell coloured
// by JSD(final, layer) and labelled with that layer's top-1 next token. SVG (text as text) and
// PNG (libpng; text drawn with erank's 5x7 bitmap font, ASCII only, other characters as '?').
#pragma once
#include <string>
#include <vector>

namespace erank::interp {

struct Heatmap {
  std::string title;
  std::vector<std::string> tokens;             // x axis: the input tokens (decoded)
  std::vector<int> layers;                     // y axis, bottom to top
  std::vector<std::vector<double>> value;      // [layer row][token]: JSD in nats
  std::vector<std::vector<std::string>> text;  // [layer row][token]: top-1 next token
  double vmax = 0.6931471805599453;            // colour scale [0, vmax] (JSD <= ln 2)
};

std::string heatmap_svg(const Heatmap& h);
// Writes the PNG atomically; throws erank::Error when it cannot.
void write_heatmap_png(const Heatmap& h, const std::string& path);

}  // namespace erank::interp
