// CLIPImageProcessor (transformers' PIL backend) step for step: optional LLaVA pad-to-square with
// the mean colour, shortest-side resize with PIL's bicubic resampling on 8-bit pixels, centre
// crop, rescale, normalise. The pixels equal transformers' within float rounding (tests/vision).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "vision/image.h"

namespace erank {

struct ClipPreprocess {
  bool do_resize = true;
  int64_t shortest_edge = 224;         // size {"shortest_edge": n}; 0 when height/width are given
  int64_t resize_h = 0, resize_w = 0;  // size {"height", "width"}
  bool do_center_crop = true;
  int64_t crop_h = 224, crop_w = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  double mean[3] = {0.48145466, 0.4578275, 0.40821073};  // OPENAI_CLIP_MEAN
  double std[3] = {0.26862954, 0.26130258, 0.27577711};  // OPENAI_CLIP_STD
  bool do_pad = false;  // LLaVA's expand2square before everything else
};

// From an image processor config (preprocessor_config.json, or processor_config.json's
// "image_processor"); `origin` names the file in errors. Unsupported settings (another resample
// filter, longest_edge) are errors.
ClipPreprocess preprocess_from_json(const nlohmann::json& j, const std::string& origin);
// The image processor of an HF folder: preprocessor_config.json, else processor_config.json.
ClipPreprocess read_preprocess_config(const std::string& dir);

// PIL's Image.resize(..., BICUBIC) of an 8-bit RGB image (ImagingResample: separable, support 2,
// a = -0.5, fixed-point coefficients, horizontal pass then vertical, 8-bit between passes).
Image resize_bicubic(const Image& im, int64_t width, int64_t height);
// LLaVA's expand2square: the image centred on a square of `fill`.
Image pad_to_square(const Image& im, const uint8_t fill[3]);
// transformers' center_crop (zero padding where the crop is larger than the image).
Image center_crop(const Image& im, int64_t height, int64_t width);

// The pixel tensor [3, H, W] (channel-major) as pixel_values[0].
struct Pixels {
  int64_t height = 0, width = 0;
  std::vector<float> v;
};
Pixels preprocess(const Image& im, const ClipPreprocess& p);

}  // namespace erank
