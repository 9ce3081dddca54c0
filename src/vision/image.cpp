#include "vision/image.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"

namespace erank {
namespace {

// PIL's alpha_composite of a pixel onto opaque white (AlphaComposite.c, 7 precision bits), which
// transformers' convert_to_rgb applies to every image with transparency.
uint8_t over_white(uint32_t c, uint32_t a) {
  if (a == 0) return 255;
  constexpr uint32_t kBits = 7;
  const uint32_t coef1 = a << kBits;  // a * 255 * 255 * 2^7 / (255 * 255): exact for white
  const uint32_t coef2 = (255u << kBits) - coef1;
  const uint32_t t = c * coef1 + 255u * coef2 + (0x80u << kBits);
  return static_cast<uint8_t>((((t >> 8) + t) >> 8) >> kBits);
}

struct PngRead {
  const std::vector<uint8_t>* bytes;
  size_t pos = 0;
  std::string error;
  std::vector<png_bytep> rows;  // here, not a local of png_decode: it lives across setjmp
};

void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<PngRead*>(png_get_io_ptr(png));
  if (r->pos + n > r->bytes->size()) png_error(png, "truncated file");
  std::memcpy(out, r->bytes->data() + r->pos, n);
  r->pos += n;
}

void png_on_error(png_structp png, png_const_charp msg) {
  static_cast<PngRead*>(png_get_error_ptr(png))->error = msg;
  png_longjmp(png, 1);
}
void png_on_warning(png_structp, png_const_charp) {}

// Decodes into 8-bit RGB or RGBA rows (`channels`), or returns false with the error in r.error.
// Plain C data only across setjmp.
bool png_decode(PngRead& r, std::vector<uint8_t>& px, png_uint_32& w, png_uint_32& h, int& channels,
                bool& grey16) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, png_on_error, png_on_warning);
  if (!png) {
    r.error = "out of memory";
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    if (r.error.empty()) r.error = "cannot decode";
    return false;
  }
  png_set_read_fn(png, &r, png_read_mem);
  png_read_info(png, info);
  w = png_get_image_width(png, info);
  h = png_get_image_height(png, info);
  const int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
  // PIL opens 16-bit greyscale as a 32-bit integer image whose conversion to RGB clips; not a
  // photograph format we reproduce.
  grey16 = depth == 16 && !(type & PNG_COLOR_MASK_COLOR);
  if (grey16 || uint64_t(w) * h > (uint64_t{1} << 28)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
  }
  // PIL's decoders: palette expanded, low-bit grey scaled to 8 bits, 16-bit samples keep their
  // high byte (PIL's "RGB;16B" unpacking), tRNS becomes alpha; no gamma correction.
  if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  const bool alpha = (type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (depth == 16) png_set_strip_16(png);
  if (!(type & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  channels = png_get_channels(png, info);
  if (channels != (alpha ? 4 : 3)) png_error(png, "unexpected channel count after expansion");
  px.resize(size_t(w) * h * size_t(channels));
  r.rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y) r.rows[y] = px.data() + size_t(y) * w * size_t(channels);
  png_read_image(png, r.rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

Image decode_png(const std::vector<uint8_t>& bytes, const std::string& origin) {
  PngRead r{&bytes};
  std::vector<uint8_t> px;
  png_uint_32 w = 0, h = 0;
  int channels = 0;
  bool grey16 = false;
  if (!png_decode(r, px, w, h, channels, grey16))
    fail("{}: corrupt PNG image ({})", origin, r.error);
  if (grey16) fail("{}: 16-bit greyscale PNG is not supported (convert it to 8-bit)", origin);
  if (px.empty()) fail("{}: PNG image of {} x {} pixels is too large", origin, w, h);
  Image im{w, h, {}};
  im.rgb.resize(size_t(w) * h * 3);
  for (size_t i = 0, n = size_t(w) * h; i < n; ++i)
    for (int c = 0; c < 3; ++c)
      im.rgb[i * 3 + size_t(c)] =
          channels == 4 ? over_white(px[i * 4 + size_t(c)], px[i * 4 + 3]) : px[i * 3 + size_t(c)];
  return im;
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  cinfo->err->format_message(cinfo, e->message);
  std::longjmp(e->jump, 1);
}
void jpeg_on_message(j_common_ptr, int) {}

// 0 on success, 1 on a decoding error (message in err), 2 for an unsupported colour space.
// Plain C data only across setjmp.
int jpeg_decode(const std::vector<uint8_t>& bytes, JpegError& err, uint8_t** out, unsigned& w,
                unsigned& h) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_on_error;
  err.mgr.emit_message = jpeg_on_message;
  *out = nullptr;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::free(*out);
    *out = nullptr;
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space != JCS_YCbCr && cinfo.jpeg_color_space != JCS_GRAYSCALE &&
      cinfo.jpeg_color_space != JCS_RGB) {
    jpeg_destroy_decompress(&cinfo);
    return 2;
  }
  // PIL's JPEG decoder: libjpeg's defaults (islow IDCT, fancy upsampling), RGB out; greyscale
  // is replicated to RGB as PIL's convert("RGB") does.
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  w = cinfo.output_width;
  h = cinfo.output_height;
  if (uint64_t(w) * h > (uint64_t{1} << 28)) {
    jpeg_destroy_decompress(&cinfo);
    return 3;
  }
  *out = static_cast<uint8_t*>(std::malloc(size_t(w) * h * 3));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = *out + size_t(cinfo.output_scanline) * w * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return 0;
}

Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& origin) {
  JpegError err{};
  uint8_t* px = nullptr;
  unsigned w = 0, h = 0;
  const int rc = jpeg_decode(bytes, err, &px, w, h);
  if (rc == 1) fail("{}: corrupt JPEG image ({})", origin, err.message);
  if (rc == 2) fail("{}: JPEG colour space (CMYK/YCCK) is not supported", origin);
  if (rc == 3) fail("{}: JPEG image of {} x {} pixels is too large", origin, w, h);
  Image im{w, h, std::vector<uint8_t>(px, px + size_t(w) * h * 3)};
  std::free(px);
  return im;
}

}  // namespace

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& origin) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0)
    return decode_png(bytes, origin);
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
    return decode_jpeg(bytes, origin);
  fail("{}: unsupported image format (PNG and JPEG are read)", origin);
}

Image read_image(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open image file", path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.empty()) fail("{}: empty image file", path);
  return decode_image(bytes, path);
}

Image rotate_clockwise(const Image& im, int degrees) {
  const int d = ((degrees % 360) + 360) % 360;
  if (d % 90 != 0) fail("rotation {} is not a multiple of 90 degrees", degrees);
  if (d == 0) return im;
  const int64_t W = im.width, H = im.height;
  Image out;
  out.width = d == 180 ? W : H;
  out.height = d == 180 ? H : W;
  out.rgb.resize(im.rgb.size());
  for (int64_t r = 0; r < out.height; ++r)
    for (int64_t c = 0; c < out.width; ++c) {
      // Source pixel of output (r, c): 90 cw takes (H-1-c, r); 180 (H-1-r, W-1-c); 270 (c, W-1-r).
      const int64_t sy = d == 90 ? H - 1 - c : d == 180 ? H - 1 - r : c;
      const int64_t sx = d == 90 ? r : d == 180 ? W - 1 - c : W - 1 - r;
      for (int ch = 0; ch < 3; ++ch)
        out.rgb[size_t((r * out.width + c) * 3 + ch)] = im.at(sy, sx, ch);
    }
  return out;
}

}  // namespace erank
