#include "interp/lens_plot.h"

#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"
#include "core/markup.h"
#include "interp/font5x7.h"
#include "io/atomic_file.h"

namespace erank::interp {
namespace {

// Geometry in PNG pixels before the 2x upscale (SVG units are the same numbers).
constexpr int kChars = 7;                      // label characters per cell
constexpr int kAdvance = kGlyphW + 1;          // one character
constexpr int kCellW = kChars * kAdvance + 4;  // 46
constexpr int kCellH = kGlyphH + 6;            // 13
constexpr int kLeft = 5 * kAdvance + 6;        // room for "L30 "
constexpr int kTop = kGlyphH + 10;             // the title
constexpr int kBottom = 2 * kCellH + 4;        // column labels and the index row
constexpr int kLegendW = 14, kLegendGap = 10, kRight = kLegendGap + kLegendW + 6 * kAdvance + 8;
constexpr int kScale = 2;  // PNG: nearest-neighbour upscale

struct Rgb {
  uint8_t r, g, b;
};

// YlGnBu-like ramp: light for agreement with the final layer, dark blue for divergence.
Rgb colour(double v, double vmax) {
  static constexpr std::array<Rgb, 5> stops = {
      {{255, 255, 217}, {199, 233, 180}, {65, 182, 196}, {34, 94, 168}, {8, 29, 88}}};
  double t = vmax > 0 ? std::clamp(v / vmax, 0.0, 1.0) : 0.0;
  if (!std::isfinite(t)) t = 1.0;
  const double pos = t * double(stops.size() - 1);
  const size_t i = std::min(stops.size() - 2, size_t(pos));
  const double f = pos - double(i);
  auto mix = [&](uint8_t a, uint8_t b) {
    return static_cast<uint8_t>(std::lround(double(a) + f * (double(b) - double(a))));
  };
  return {mix(stops[i].r, stops[i + 1].r), mix(stops[i].g, stops[i + 1].g),
          mix(stops[i].b, stops[i + 1].b)};
}

bool dark(Rgb c) {
  return 0.299 * c.r + 0.587 * c.g + 0.114 * c.b < 128;
}

// Splits UTF-8 into code points (invalid bytes become U+FFFD), for truncation by characters.
std::vector<std::string> code_points(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t j = 1; ok && j < n; ++j) ok = (static_cast<unsigned char>(s[i + j]) >> 6) == 2;
    out.push_back(ok ? s.substr(i, n) : "\xEF\xBF\xBD");
    i += ok ? n : 1;
  }
  return out;
}

// A token as a short visible label: spaces and newlines shown, at most kChars characters. ASCII
// mode (PNG) draws spaces as '_' and anything outside ASCII as '?'.
std::string label(const std::string& tok, bool ascii) {
  std::string out;
  int n = 0;
  for (const std::string& cp : code_points(tok)) {
    if (n == kChars) break;
    if (cp == " ")
      out += ascii ? "_" : "\xE2\x90\xA3";  // U+2423 open box
    else if (cp == "\n")
      out += ascii ? "|" : "\xE2\x8F\x8E";  // U+23CE return symbol
    else if (cp.size() == 1 && (static_cast<unsigned char>(cp[0]) < 0x20 || cp[0] == 0x7f))
      out += "?";
    else if (ascii && cp.size() > 1)
      out += "?";
    else
      out += cp;
    ++n;
  }
  return out;
}

void check(const Heatmap& h) {
  if (h.value.size() != h.layers.size() || h.text.size() != h.layers.size())
    fail("lens heatmap: {} layers, {} value rows, {} text rows", h.layers.size(), h.value.size(),
         h.text.size());
  for (size_t r = 0; r < h.layers.size(); ++r)
    if (h.value[r].size() != h.tokens.size() || h.text[r].size() != h.tokens.size())
      fail("lens heatmap: row {} has {} values and {} labels for {} tokens", r, h.value[r].size(),
           h.text[r].size(), h.tokens.size());
  if (h.tokens.empty() || h.layers.empty()) fail("lens heatmap: nothing to draw");
}

struct Size {
  int w, h, grid_w, grid_h;
};
Size size_of(const Heatmap& h) {
  const int gw = int(h.tokens.size()) * kCellW, gh = int(h.layers.size()) * kCellH;
  const int title_w = int(std::min<size_t>(h.title.size(), 200)) * kAdvance;
  return {kLeft + std::max(gw, title_w) + kRight, kTop + gh + kBottom, gw, gh};
}

// An RGB canvas with the 5x7 font.
class Canvas {
 public:
  Canvas(int w, int h) : w_(w), h_(h), px_(size_t(w) * size_t(h) * 3, 255) {}
  void fill(int x0, int y0, int w, int h, Rgb c) {
    for (int y = std::max(0, y0); y < std::min(h_, y0 + h); ++y)
      for (int x = std::max(0, x0); x < std::min(w_, x0 + w); ++x) set(x, y, c);
  }
  void text(int x, int y, const std::string& s, Rgb c) {  // y: top of the glyphs
    for (char ch : s) {
      const int g = (ch >= 32 && ch <= 126) ? ch - 32 : '?' - 32;
      for (int r = 0; r < kGlyphH; ++r)
        for (int b = 0; b < kGlyphW; ++b)
          if (kFont5x7[size_t(g)][size_t(r)] & (0x10 >> b)) set(x + b, y + r, c);
      x += kAdvance;
    }
  }
  int w() const { return w_; }
  int h() const { return h_; }
  const uint8_t* row(int y) const { return px_.data() + size_t(y) * size_t(w_) * 3; }

 private:
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    uint8_t* p = px_.data() + (size_t(y) * size_t(w_) + size_t(x)) * 3;
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  int w_, h_;
  std::vector<uint8_t> px_;
};

std::string legend_value(double v) {
  return fmt::format("{:.2f}", v);
}

}  // namespace

std::string heatmap_svg(const Heatmap& h) {
  check(h);
  const Size sz = size_of(h);
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"DejaVu Sans Mono, monospace\">\n<rect width=\"100%\" height=\"100%\" "
      "fill=\"white\"/>\n",
      sz.w * kScale, sz.h * kScale, sz.w, sz.h);
  s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"9\">{}</text>\n", kLeft, kGlyphH + 3,
                   xml_escape(h.title));
  const int rows = int(h.layers.size());
  for (int r = 0; r < rows; ++r) {
    const int y = kTop + (rows - 1 - r) * kCellH;  // last layer on top
    s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"8\" text-anchor=\"end\">L{}</text>\n",
                     kLeft - 4, y + kCellH - 3, h.layers[size_t(r)]);
    for (size_t t = 0; t < h.tokens.size(); ++t) {
      const int x = kLeft + int(t) * kCellW;
      const double v = h.value[size_t(r)][t];
      const Rgb c = colour(v, h.vmax);
      const std::string top = h.text[size_t(r)][t];
      s += fmt::format(
          "<g><title>layer {} | token {} {} | top-1 {} | JSD {:.4f}</title><rect x=\"{}\" "
          "y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#{:02x}{:02x}{:02x}\"/><text x=\"{}\" "
          "y=\"{}\" font-size=\"8\" text-anchor=\"middle\" fill=\"{}\" "
          "xml:space=\"preserve\">{}</text></g>\n",
          h.layers[size_t(r)], t, xml_escape(label(h.tokens[t], false)),
          xml_escape(label(top, false)), v, x, y, kCellW, kCellH, c.r, c.g, c.b, x + kCellW / 2,
          y + kCellH - 3, dark(c) ? "white" : "black", xml_escape(label(top, false)));
    }
  }
  const int gy = kTop + sz.grid_h;
  for (size_t t = 0; t < h.tokens.size(); ++t) {
    const int x = kLeft + int(t) * kCellW + kCellW / 2;
    s += fmt::format(
        "<text x=\"{}\" y=\"{}\" font-size=\"8\" text-anchor=\"middle\" "
        "xml:space=\"preserve\">{}</text>\n<text x=\"{}\" y=\"{}\" font-size=\"7\" "
        "text-anchor=\"middle\" fill=\"#777\">{}</text>\n",
        x, gy + kCellH - 3, xml_escape(label(h.tokens[t], false)), x, gy + 2 * kCellH - 3, t);
  }
  // Legend: a vertical ramp from 0 (bottom) to vmax (top).
  const int lx = kLeft + sz.grid_w + kLegendGap, steps = 32;
  for (int i = 0; i < steps; ++i) {
    const Rgb c = colour(h.vmax * (steps - 1 - i) / (steps - 1), h.vmax);
    s += fmt::format(
        "<rect x=\"{}\" y=\"{:.2f}\" width=\"{}\" height=\"{:.2f}\" "
        "fill=\"#{:02x}{:02x}{:02x}\"/>\n",
        lx, kTop + double(sz.grid_h) * i / steps, kLegendW, double(sz.grid_h) / steps + 0.05, c.r,
        c.g, c.b);
  }
  s += fmt::format(
      "<text x=\"{}\" y=\"{}\" font-size=\"8\">{}</text>\n<text x=\"{}\" y=\"{}\" "
      "font-size=\"8\">0</text>\n<text x=\"{}\" y=\"{}\" font-size=\"8\">JSD</text>\n",
      lx + kLegendW + 3, kTop + 7, legend_value(h.vmax), lx + kLegendW + 3, kTop + sz.grid_h,
      lx + kLegendW + 3, kTop + sz.grid_h / 2 + 3);
  s += "</svg>\n";
  return s;
}

void write_heatmap_png(const Heatmap& h, const std::string& path) {
  check(h);
  const Size sz = size_of(h);
  Canvas cv(sz.w, sz.h);
  const Rgb black{0, 0, 0}, white{255, 255, 255}, grey{119, 119, 119};
  cv.text(kLeft, 4, h.title, black);
  const int rows = int(h.layers.size());
  auto centred = [&](int cx, int y, const std::string& s, Rgb c) {
    cv.text(cx - (int(s.size()) * kAdvance - 1) / 2, y, s, c);
  };
  for (int r = 0; r < rows; ++r) {
    const int y = kTop + (rows - 1 - r) * kCellH;
    const std::string name = fmt::format("L{}", h.layers[size_t(r)]);
    cv.text(kLeft - 4 - int(name.size()) * kAdvance, y + 3, name, black);
    for (size_t t = 0; t < h.tokens.size(); ++t) {
      const int x = kLeft + int(t) * kCellW;
      const Rgb c = colour(h.value[size_t(r)][t], h.vmax);
      cv.fill(x, y, kCellW, kCellH, c);
      centred(x + kCellW / 2, y + 3, label(h.text[size_t(r)][t], true), dark(c) ? white : black);
    }
  }
  const int gy = kTop + sz.grid_h;
  for (size_t t = 0; t < h.tokens.size(); ++t) {
    const int cx = kLeft + int(t) * kCellW + kCellW / 2;
    centred(cx, gy + 3, label(h.tokens[t], true), black);
    centred(cx, gy + kCellH + 3, std::to_string(t), grey);
  }
  const int lx = kLeft + sz.grid_w + kLegendGap;
  for (int y = 0; y < sz.grid_h; ++y)
    cv.fill(
        lx, kTop + y, kLegendW, 1,
        colour(h.vmax * double(sz.grid_h - 1 - y) / double(std::max(1, sz.grid_h - 1)), h.vmax));
  cv.text(lx + kLegendW + 3, kTop, legend_value(h.vmax), black);
  cv.text(lx + kLegendW + 3, kTop + sz.grid_h - kGlyphH, "0", black);
  cv.text(lx + kLegendW + 3, kTop + sz.grid_h / 2 - 3, "JSD", black);

  // Encode into memory, then one atomic write.
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (!png) fail("{}: cannot start the PNG encoder", path);
  png_infop info = png_create_info_struct(png);
  std::string bytes;
  std::vector<uint8_t> line(size_t(sz.w) * kScale * 3);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : nullptr);
    fail("{}: PNG encoding failed", path);
  }
  png_set_write_fn(
      png, &bytes,
      [](png_structp p, png_bytep data, png_size_t n) {
        static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<char*>(data), n);
      },
      nullptr);
  png_set_IHDR(png, info, png_uint_32(sz.w * kScale), png_uint_32(sz.h * kScale), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < cv.h(); ++y) {
    const uint8_t* src = cv.row(y);
    for (int x = 0; x < cv.w(); ++x)
      for (int k = 0; k < kScale; ++k)
        std::copy_n(src + x * 3, 3, line.data() + (size_t(x) * kScale + size_t(k)) * 3);
    for (int k = 0; k < kScale; ++k) png_write_row(png, line.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  write_file_atomic(path, bytes);
}

}  // namespace erank::interp
