// Images as PIL gives them to transformers' image processors: decoded PNG (libpng) and JPEG
// (libjpeg), converted to 8-bit RGB the way transformers' convert_to_rgb does (transparency
// composited onto white with PIL's integer alpha_composite), and exact rotations.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace erank {

struct Image {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3], row-major
  uint8_t at(int64_t y, int64_t x, int c) const {
    return rgb[static_cast<size_t>((y * width + x) * 3 + c)];
  }
};

// PNG (any bit depth but 16-bit greyscale; palette, grey, alpha, tRNS) or baseline/progressive
// JPEG (YCbCr or greyscale), chosen by the file's signature. Throws erank::Error naming the file
// for a missing, unreadable, corrupt or unsupported file.
Image read_image(const std::string& path);
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& origin);

// Rotation clockwise by 0, 90, 180 or 270 degrees (PIL's rotate(-deg, expand=True)).
Image rotate_clockwise(const Image& im, int degrees);

}  // namespace erank
