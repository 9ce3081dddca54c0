// A LlavaForConditionalGeneration folder (LLaVA-1.5 layout): the CLIP vision tower
// (models/clip_vision.cpp), the multi_modal_projector (Linear-GELU-Linear) and a language model of
// a family erank runs, with the folder's tokenizer and image processor. Tensor names are found in
// the layouts of the llava-hf checkpoints (language_model.model.*, language_model.lm_head.weight,
// vision_tower.vision_model.*, multi_modal_projector.*), of transformers 5 (the same with
// vision_tower.* for the tower) and of transformers 4.52-4.57 (model.language_model.*,
// model.vision_tower.vision_model.*, model.multi_modal_projector.*, lm_head.weight).
// Dimension letters: P image tokens, dv vision width, dt text width.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/collect_sink.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"
#include "vision/preprocess.h"

namespace erank {

struct LlavaConfig {
  int64_t image_token_id = -1;
  std::string image_token = "<image>";
  int vision_feature_layer = -2;  // as written (negative counts from the end)
  int feature_index = 0;          // resolved hidden_states index of the vision tower
  bool drop_cls = true;           // vision_feature_select_strategy "default" (else "full")
  Activation projector_act = Activation::gelu_erf;
  bool projector_bias = true;
};

struct ImageFeatures {
  Matrix tower;      // [P, dv] vision tower hidden_states[feature_index] (CLS dropped by default)
  Matrix projected;  // [P, dt] the projector's output, what the language model receives
};

class Llava {
 public:
  // Throws erank::Error naming the file for anything missing or unsupported.
  static std::unique_ptr<Llava> load(const std::string& dir);

  const LlavaConfig& config() const { return cfg_; }
  const Model& vision() const { return *vision_; }
  const Model& language() const { return *lm_; }
  const Tokenizer& tokenizer() const { return *tok_; }
  const ClipPreprocess& image_processor() const { return pre_; }
  int64_t image_tokens() const;  // P: language-model positions per image
  const std::string& dir() const { return dir_; }

  // Pixels [3, S, S] (S = the tower's image_size) -> tower features and projected tokens.
  // `sink`, when given, also receives every tap of the vision tower.
  ImageFeatures encode(Backend& be, const Pixels& px, TapSink* sink = nullptr) const;
  // The language model's last hidden state [N, dt] for ids in which each image token id stands for
  // one projected image row (ids already expanded: P image ids per image, see expand_image_tokens);
  // `images` are used in order. Throws erank::Error when the counts do not match.
  Matrix language_hidden(Backend& be, const std::vector<int32_t>& ids,
                         const std::vector<const Matrix*>& images) const;
  // Each image token id of `ids` repeated P times, as LlavaProcessor expands "<image>".
  std::vector<int32_t> expand_image_tokens(const std::vector<int32_t>& ids) const;

 private:
  std::string dir_;
  LlavaConfig cfg_;
  std::unique_ptr<Model> vision_, lm_;
  Weights projector_;
  std::unique_ptr<Tokenizer> tok_;
  ClipPreprocess pre_;
};

}  // namespace erank
