// Multimodal eRank (`erank mm`, Diff-eRank paper section 5) of a LLaVA model over image-text
// pairs. Per pair (our choices; the authors published no code):
//   eRank1  the vision tower's patch tokens at vision_feature_layer (CLS dropped by default)
//   eRank2  the projector's outputs
//   eRank3  the LM's last hidden state at the image-token positions for "<image>" alone
//           (BOS where the tokenizer adds it, then the image tokens)
//   eRank4  the LM's last hidden state over tokenizer(text) (placeholders removed from the text)
//   eRank5  the LM's last hidden state over all tokens of the template (default
//           "USER: <image>\n{text} ASSISTANT:")
//   image_reduction_ratio = (eRank1 - eRank2) / eRank1
//   image_text_alignment  = mean(eRank3, 4, 5) / max(eRank3, 4, 5)
// Dataset figures: the mean over pairs of each figure (with its stderr), and the two ratios of
// the mean eRanks, which is how the paper's table relates them. Per-pair records go to a JSONL
// file as they finish, and --resume continues a killed run.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace erank {

struct MMSettings {
  std::string model;  // LlavaForConditionalGeneration folder
  std::string backend = "cpu";
  int threads = 0;
  std::string data;  // JSONL (or CSV) of pairs; image paths relative to its folder
  std::string image_field = "image", text_field = "text";
  std::string prompt_template = "USER: <image>\n{text} ASSISTANT:";
  int rotate = 0;               // clockwise degrees applied to every image: 0, 90, 180, 270
  bool rotation_study = false;  // upright and rotated (rotate, default 90) side by side
  int64_t limit = -1;
  std::string per_pair;  // JSONL path ("" = none)
  bool resume = false;
  bool quiet = false;
};

// The figures of one pair at one rotation (NaN where an eRank is undefined; see `skipped`).
struct MMPair {
  int64_t index = 0;
  int rotation = 0;
  double erank[5] = {0, 0, 0, 0, 0};
  int64_t tokens[5] = {0, 0, 0, 0, 0};  // rows behind each eRank
  double reduction = 0, alignment = 0;
  std::string skipped;  // why a figure is missing ("" when all are defined)
};

// The dataset figures of pairs (skipped ones left out).
nlohmann::json summarize_mm(const std::vector<MMPair>& pairs);

// Runs and returns the results document: {"erank_mm": 1, "settings", "pairs", "mean",
// "stderr", "of_means", "n_pairs", "n_skipped"}, or with rotation_study
// {"erank_mm": 1, "settings", "upright": {...}, "rotated": {...}}.
nlohmann::json run_mm(const MMSettings& s);

// The human table for a results document.
std::string format_mm(const nlohmann::json& results);

}  // namespace erank
