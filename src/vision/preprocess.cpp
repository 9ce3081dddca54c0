#include "vision/preprocess.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace erank {
namespace {

double bicubic(double x) {  // Keys' cubic convolution, a = -0.5 (PIL's BICUBIC)
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

constexpr int kPrecisionBits = 32 - 8 - 2;  // PIL's fixed-point coefficients

// One axis of PIL's resampling: for each output index its first input index, count and integer
// coefficients (precompute_coeffs + normalize_coeffs_8bpc, over the whole input).
struct Coeffs {
  int64_t ksize = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> k;  // [out, ksize]
};

Coeffs coeffs(int64_t in_size, int64_t out_size) {
  // The box is (0, in_size) in float, as Image.resize passes it.
  const double scale = double(float(in_size) - 0.0f) / double(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterscale;
  Coeffs c;
  c.ksize = int64_t(std::ceil(support)) * 2 + 1;
  c.first.resize(size_t(out_size));
  c.count.resize(size_t(out_size));
  c.k.assign(size_t(out_size * c.ksize), 0);
  std::vector<double> w(size_t(c.ksize));
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (double(xx) + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int64_t xmin = int64_t(int(center - support + 0.5));  // C's (int): truncation
    if (xmin < 0) xmin = 0;
    int64_t xmax = int64_t(int(center + support + 0.5));
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      w[size_t(x)] = bicubic((double(x + xmin) - center + 0.5) * ss);
      ww += w[size_t(x)];
    }
    for (int64_t x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[size_t(x)] / ww : w[size_t(x)];
      c.k[size_t(xx * c.ksize + x)] = v < 0 ? int32_t(-0.5 + v * (1 << kPrecisionBits))
                                            : int32_t(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[size_t(xx)] = xmin;
    c.count[size_t(xx)] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t v) {
  const int32_t s = v >> kPrecisionBits;  // arithmetic shift, as PIL's lookup index
  return static_cast<uint8_t>(s < 0 ? 0 : s > 255 ? 255 : s);
}

}  // namespace

Image resize_bicubic(const Image& im, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0) fail("resize to {} x {} pixels", width, height);
  if (width == im.width && height == im.height) return im;
  Image cur = im;
  if (width != im.width) {  // horizontal pass first, as ImagingResampleInner
    const Coeffs c = coeffs(im.width, width);
    Image out{width, im.height, std::vector<uint8_t>(size_t(width * im.height * 3))};
    for (int64_t y = 0; y < im.height; ++y)
      for (int64_t xx = 0; xx < width; ++xx) {
        const int32_t* k = &c.k[size_t(xx * c.ksize)];
        for (int ch = 0; ch < 3; ++ch) {
          int32_t s = 1 << (kPrecisionBits - 1);
          for (int64_t x = 0; x < c.count[size_t(xx)]; ++x)
            s += int32_t(im.at(y, c.first[size_t(xx)] + x, ch)) * k[x];
          out.rgb[size_t((y * width + xx) * 3 + ch)] = clip8(s);
        }
      }
    cur = std::move(out);
  }
  if (height != im.height) {
    const Coeffs c = coeffs(im.height, height);
    Image out{cur.width, height, std::vector<uint8_t>(size_t(cur.width * height * 3))};
    for (int64_t yy = 0; yy < height; ++yy) {
      const int32_t* k = &c.k[size_t(yy * c.ksize)];
      for (int64_t x = 0; x < cur.width; ++x)
        for (int ch = 0; ch < 3; ++ch) {
          int32_t s = 1 << (kPrecisionBits - 1);
          for (int64_t y = 0; y < c.count[size_t(yy)]; ++y)
            s += int32_t(cur.at(c.first[size_t(yy)] + y, x, ch)) * k[y];
          out.rgb[size_t((yy * cur.width + x) * 3 + ch)] = clip8(s);
        }
    }
    cur = std::move(out);
  }
  return cur;
}

Image pad_to_square(const Image& im, const uint8_t fill[3]) {
  if (im.width == im.height) return im;
  const int64_t n = std::max(im.width, im.height);
  Image out{n, n, std::vector<uint8_t>(size_t(n * n * 3))};
  for (int64_t i = 0; i < n * n; ++i)
    for (int c = 0; c < 3; ++c) out.rgb[size_t(i * 3 + c)] = fill[c];
  const int64_t x0 = im.width < n ? (n - im.width) / 2 : 0;
  const int64_t y0 = im.height < n ? (n - im.height) / 2 : 0;
  for (int64_t y = 0; y < im.height; ++y)
    std::copy_n(im.rgb.begin() + y * im.width * 3, im.width * 3,
                out.rgb.begin() + ((y + y0) * n + x0) * 3);
  return out;
}

Image center_crop(const Image& im, int64_t height, int64_t width) {
  const int64_t H = im.height, W = im.width;
  // Python's floor division on possibly negative differences.
  auto floordiv2 = [](int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
  int64_t top = floordiv2(H - height), left = floordiv2(W - width);
  // Where the crop is larger, transformers pads with zeros (centred, ceil on the leading side).
  const int64_t nh = std::max(height, H), nw = std::max(width, W);
  const int64_t top_pad = (nh - H + 1) / 2, left_pad = (nw - W + 1) / 2;
  const bool inside = top >= 0 && top + height <= H && left >= 0 && left + width <= W;
  if (!inside) {
    top += top_pad;
    left += left_pad;
  }
  const int64_t r0 = std::max<int64_t>(0, top), r1 = std::min(inside ? H : nh, top + height);
  const int64_t c0 = std::max<int64_t>(0, left), c1 = std::min(inside ? W : nw, left + width);
  Image out{c1 - c0, r1 - r0, std::vector<uint8_t>(size_t((c1 - c0) * (r1 - r0) * 3), 0)};
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t sy = inside ? r : r - top_pad, sx = inside ? c : c - left_pad;
      if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
      for (int ch = 0; ch < 3; ++ch)
        out.rgb[size_t(((r - r0) * out.width + (c - c0)) * 3 + ch)] = im.at(sy, sx, ch);
    }
  return out;
}

Pixels preprocess(const Image& input, const ClipPreprocess& p) {
  Image im = input;
  if (p.do_pad) {  // LLaVA: the mean colour as int(x * 255)
    const uint8_t fill[3] = {uint8_t(int(p.mean[0] * 255)), uint8_t(int(p.mean[1] * 255)),
                             uint8_t(int(p.mean[2] * 255))};
    im = pad_to_square(im, fill);
  }
  if (p.do_resize) {
    int64_t h = p.resize_h, w = p.resize_w;
    if (p.shortest_edge > 0) {  // get_resize_output_image_size(default_to_square=False)
      const int64_t s = std::min(im.width, im.height), l = std::max(im.width, im.height);
      const int64_t ns = p.shortest_edge;
      const int64_t nl = int64_t(double(ns * l) / double(s));
      h = im.width <= im.height ? nl : ns;
      w = im.width <= im.height ? ns : nl;
    }
    im = resize_bicubic(im, w, h);
  }
  if (p.do_center_crop) im = center_crop(im, p.crop_h, p.crop_w);
  Pixels out{im.height, im.width, std::vector<float>(size_t(3 * im.height * im.width))};
  for (int c = 0; c < 3; ++c) {
    const float mean = float(p.mean[c]), sd = float(p.std[c]);
    for (int64_t y = 0; y < im.height; ++y)
      for (int64_t x = 0; x < im.width; ++x) {
        // rescale in double then float32, normalise in float32, as transformers' numpy steps.
        float v =
            p.do_rescale ? float(double(im.at(y, x, c)) * p.rescale_factor) : float(im.at(y, x, c));
        if (p.do_normalize) v = (v - mean) / sd;
        out.v[size_t((c * im.height + y) * im.width + x)] = v;
      }
  }
  return out;
}

ClipPreprocess preprocess_from_json(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object()) fail("{}: the image processor config is not a JSON object", origin);
  ClipPreprocess p;
  try {
    auto flag = [&](const char* k, bool& v) {
      if (j.contains(k) && !j[k].is_null()) v = j[k].get<bool>();
    };
    flag("do_resize", p.do_resize);
    flag("do_center_crop", p.do_center_crop);
    flag("do_rescale", p.do_rescale);
    flag("do_normalize", p.do_normalize);
    flag("do_pad", p.do_pad);
    if (j.contains("do_convert_rgb") && j["do_convert_rgb"].is_boolean() && !j["do_convert_rgb"])
      fail("{}: do_convert_rgb = false is not supported (images are always read as RGB)", origin);
    if (j.contains("resample") && !j["resample"].is_null() && j["resample"].get<int>() != 3)
      fail("{}: resample = {} is not supported (only 3, bicubic)", origin, j["resample"].dump());
    if (j.contains("size") && j["size"].is_object()) {
      const auto& s = j["size"];
      if (s.contains("longest_edge") || s.contains("max_height"))
        fail("{}: size {} is not supported (shortest_edge or height/width)", origin, s.dump());
      if (s.contains("shortest_edge")) {
        p.shortest_edge = s["shortest_edge"].get<int64_t>();
      } else if (s.contains("height") && s.contains("width")) {
        p.shortest_edge = 0;
        p.resize_h = s["height"].get<int64_t>();
        p.resize_w = s["width"].get<int64_t>();
      } else {
        fail("{}: size {} has neither shortest_edge nor height/width", origin, s.dump());
      }
    } else if (j.contains("size") && j["size"].is_number_integer()) {
      p.shortest_edge = j["size"].get<int64_t>();  // old configs: an int, default_to_square=False
    }
    if (j.contains("crop_size") && j["crop_size"].is_object()) {
      p.crop_h = j["crop_size"].at("height").get<int64_t>();
      p.crop_w = j["crop_size"].at("width").get<int64_t>();
    } else if (j.contains("crop_size") && j["crop_size"].is_number_integer()) {
      p.crop_h = p.crop_w = j["crop_size"].get<int64_t>();
    }
    if (j.contains("rescale_factor")) p.rescale_factor = j["rescale_factor"].get<double>();
    for (const char* k : {"image_mean", "image_std"})
      if (j.contains(k) && !j[k].is_null()) {
        const auto& a = j[k];
        if (!a.is_array() || a.size() != 3) fail("{}: {} must list 3 values", origin, k);
        for (int c = 0; c < 3; ++c)
          (std::string(k) == "image_mean" ? p.mean : p.std)[c] = a[size_t(c)].get<double>();
      }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed image processor config: {}", origin, e.what());
  }
  const int64_t lim = int64_t{1} << 14;
  for (int64_t v : {p.shortest_edge, p.resize_h, p.resize_w, p.crop_h, p.crop_w})
    if (v < 0 || v > lim) fail("{}: image size {} is out of range", origin, v);
  if (p.do_resize && p.shortest_edge == 0 && (p.resize_h == 0 || p.resize_w == 0))
    fail("{}: resize size is zero", origin);
  if (p.do_center_crop && (p.crop_h == 0 || p.crop_w == 0)) fail("{}: crop size is zero", origin);
  return p;
}

ClipPreprocess read_preprocess_config(const std::string& dir) {
  auto read = [](const std::string& path) {
    std::ifstream f(path);
    if (!f) fail("{}: cannot open", path);
    try {
      return nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: malformed JSON: {}", path, e.what());
    }
  };
  const std::string pre = dir + "/preprocessor_config.json", proc = dir + "/processor_config.json";
  if (std::filesystem::exists(pre)) return preprocess_from_json(read(pre), pre);
  if (std::filesystem::exists(proc)) {
    const nlohmann::json j = read(proc);
    if (j.is_object() && j.contains("image_processor"))
      return preprocess_from_json(j["image_processor"], proc + " (image_processor)");
  }
  fail("{}: no image processor config (preprocessor_config.json or processor_config.json)", dir);
}

}  // namespace erank
