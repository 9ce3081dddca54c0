#include "vision/llava.h"

#include <fstream>

#include "core/error.h"
#include "models/blocks.h"

namespace erank {

extern const Architecture kClipVision;

namespace {

nlohmann::json read_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("{}: cannot open", path);
  try {
    nlohmann::json j = nlohmann::json::parse(f);
    if (!j.is_object()) fail("{}: not a JSON object", path);
    return j;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed JSON: {}", path, e.what());
  }
}

// Sub-configs as written may rely on their class defaults (llava-hf's LLaVA-1.5 text_config
// lists only what differs from LlamaConfig); the defaults are made explicit here.
nlohmann::json with_defaults(nlohmann::json j, const nlohmann::json& defaults) {
  for (auto& [k, v] : defaults.items())
    if (!j.contains(k) || j[k].is_null()) j[k] = v;
  return j;
}

// A tap sink that keeps one hidden state and passes every tap on to an optional second sink.
class FeatureSink : public TapSink {
 public:
  FeatureSink(int index, TapSink* also) : keep_({index}), also_(also) {}
  bool wants(Tap t) const override { return t == Tap::hidden || (also_ && also_->wants(t)); }
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) override {
    keep_.on_tap(t, index, x, seqs);
    if (also_ && also_->wants(t)) also_->on_tap(t, index, x, seqs);
  }
  CollectSink keep_;

 private:
  TapSink* also_;
};

Act act_of(Backend& be, const Matrix& m) {
  Act a = be.alloc_uninit(m.rows, m.cols);
  for (size_t i = 0; i < m.v.size(); ++i) {
    if (a.prec == Precision::f32)
      a.f[i] = m.v[i];
    else
      a.d[i] = m.v[i];
  }
  return a;
}

}  // namespace

std::unique_ptr<Llava> Llava::load(const std::string& dir) {
  const std::string path = dir + "/config.json";
  const nlohmann::json j = read_config(path);
  const std::string type = j.value("model_type", "");
  if (type != "llava")
    fail(
        "{}: model_type '{}' is not 'llava' (erank mm reads LlavaForConditionalGeneration folders)",
        path, type);
  auto out = std::make_unique<Llava>();
  out->dir_ = dir;
  LlavaConfig& c = out->cfg_;
  JsonConfig jc{j, path};
  try {
    // Vision tower: CLIP only; LlavaConfig's default tower is CLIP ViT-L/14 at 336 pixels.
    const nlohmann::json vdef = {{"model_type", "clip_vision_model"},
                                 {"hidden_size", 1024},
                                 {"intermediate_size", 4096},
                                 {"num_hidden_layers", 24},
                                 {"num_attention_heads", 16},
                                 {"image_size", 336},
                                 {"patch_size", 14}};
    const nlohmann::json vj = with_defaults(
        jc.has("vision_config") ? j["vision_config"] : nlohmann::json::object(), vdef);
    const std::string vorigin = path + " (vision_config)";
    if (vj["model_type"] != "clip_vision_model")
      fail("{}: vision tower '{}' is not supported (CLIP vision towers only)", vorigin,
           vj["model_type"].dump());
    ModelConfig vcfg = kClipVision.config_from_hf(JsonConfig{vj, vorigin});
    vcfg.raw = vj;
    // Language model: LlamaConfig's defaults for a text_config that omits them.
    const nlohmann::json tdef = {
        {"model_type", "llama"},           {"vocab_size", 32000},     {"hidden_size", 4096},
        {"intermediate_size", 11008},      {"num_hidden_layers", 32}, {"num_attention_heads", 32},
        {"max_position_embeddings", 2048}, {"rms_norm_eps", 1e-6}};
    const nlohmann::json tj =
        with_defaults(jc.has("text_config") ? j["text_config"] : nlohmann::json::object(), tdef);
    const std::string torigin = path + " (text_config)";
    const Architecture& tarch = architecture_for_hf(tj["model_type"].get<std::string>(), torigin);
    if (!tarch.input_rows || !tarch.embed_table)
      fail("{}: language model '{}' cannot take image features (Llama, Mistral, Qwen2 can)",
           torigin, tj["model_type"].get<std::string>());
    ModelConfig tcfg = tarch.config_from_hf(JsonConfig{tj, torigin});
    tcfg.raw = tj;

    if (jc.has("vision_feature_layer") && !j["vision_feature_layer"].is_number_integer())
      fail("{}: vision_feature_layer {} is not supported (one layer index)", path,
           j["vision_feature_layer"].dump());
    c.vision_feature_layer = int(jc.int_or("vision_feature_layer", -2));
    const int L = int(vcfg.n_layers);
    c.feature_index =
        c.vision_feature_layer < 0 ? L + 1 + c.vision_feature_layer : c.vision_feature_layer;
    if (c.feature_index < 0 || c.feature_index > L)
      fail("{}: vision_feature_layer {} is outside the tower's hidden states 0..{}", path,
           c.vision_feature_layer, L);
    const std::string strategy = jc.str_or("vision_feature_select_strategy", "default");
    if (strategy != "default" && strategy != "full")
      fail("{}: vision_feature_select_strategy '{}' is not supported (default or full)", path,
           strategy);
    c.drop_cls = strategy == "default";
    c.image_token_id = jc.has("image_token_index") ? jc.int_("image_token_index")
                                                   : jc.int_or("image_token_id", 32000);
    c.projector_act = parse_activation(jc.str_or("projector_hidden_act", "gelu"), path);
    c.projector_bias = jc.bool_or("multimodal_projector_bias", true);

    const int64_t dv = vcfg.hidden, dt = tcfg.hidden;
    std::vector<TensorSpec> proj = {{.name = "linear_1.weight", .shape = {dt, dv}},
                                    {.name = "linear_2.weight", .shape = {dt, dt}}};
    if (c.projector_bias) {
      proj.push_back({.name = "linear_1.bias", .shape = {dt}});
      proj.push_back({.name = "linear_2.bias", .shape = {dt}});
    }
    out->projector_ =
        load_hf_tensors(dir, proj, {"multi_modal_projector.", "model.multi_modal_projector."});
    out->vision_ = load_hf_part(dir, vcfg, kClipVision,
                                {"vision_tower.vision_model.", "model.vision_tower.vision_model.",
                                 "vision_tower.", "model.vision_tower."},
                                {});
    out->lm_ = load_hf_part(dir, tcfg, tarch, {"language_model.model.", "model.language_model."},
                            {"language_model.", ""});
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed config: {}", path, e.what());
  }
  if (c.image_token_id < 0 || c.image_token_id >= out->lm_->config().vocab_size)
    fail("{}: image_token_index {} is outside the vocabulary (size {})", path, c.image_token_id,
         out->lm_->config().vocab_size);
  out->tok_ = Tokenizer::from_hf_folder(dir);
  const auto tid = out->tok_->token_to_id(c.image_token);
  if (!tid || *tid != c.image_token_id)
    fail("{}: the tokenizer's '{}' is {}, the config's image_token_index {}", dir, c.image_token,
         tid ? std::to_string(*tid) : "missing", c.image_token_id);
  out->pre_ = read_preprocess_config(dir);
  const int64_t S = out->vision_->config().image_size;
  const ClipPreprocess& p = out->pre_;
  if (!p.do_center_crop || p.crop_h != S || p.crop_w != S)
    fail("{}: the image processor makes {} x {} pixels, the vision tower takes {} x {}", dir,
         p.do_center_crop ? p.crop_h : p.resize_h, p.do_center_crop ? p.crop_w : p.resize_w, S, S);
  return out;
}

int64_t Llava::image_tokens() const {
  return vision_->config().max_positions - (cfg_.drop_cls ? 1 : 0);
}

ImageFeatures Llava::encode(Backend& be, const Pixels& px, TapSink* sink) const {
  const ModelConfig& vc = vision_->config();
  const int64_t S = vc.image_size, p = vc.patch_size, side = S / p, P0 = side * side;
  if (px.height != S || px.width != S)
    fail("image of {} x {} pixels for a tower of {} x {}", px.height, px.width, S, S);
  // Patch rows [P0, 3 p p]: patch (py, px) row-major, values channel-major (c, y, x).
  Act x = be.alloc_uninit(P0, 3 * p * p);
  for (int64_t py = 0; py < side; ++py)
    for (int64_t qx = 0; qx < side; ++qx)
      for (int64_t ch = 0; ch < 3; ++ch)
        for (int64_t ky = 0; ky < p; ++ky)
          for (int64_t kx = 0; kx < p; ++kx) {
            const float v = px.v[size_t((ch * S + py * p + ky) * S + qx * p + kx)];
            const size_t at = size_t((py * side + qx) * 3 * p * p + (ch * p + ky) * p + kx);
            if (x.prec == Precision::f32)
              x.f[at] = v;
            else
              x.d[at] = v;
          }
  FeatureSink fs(cfg_.feature_index, sink);
  vision_->forward_rows(be, x, {P0}, fs);
  const Matrix& all = fs.keep_.hidden.at(cfg_.feature_index).at(0);  // [1 + P0, dv]
  ImageFeatures f;
  const int64_t skip = cfg_.drop_cls ? 1 : 0;
  f.tower.rows = all.rows - skip;
  f.tower.cols = all.cols;
  f.tower.v.assign(all.v.begin() + skip * all.cols, all.v.end());
  auto lin = [&](const char* n) {
    const std::string b = std::string(n) + ".bias";
    return linear_of(projector_, std::string(n) + ".weight", cfg_.projector_bias ? b : "");
  };
  Act y = plain_mlp(be, act_of(be, f.tower), lin("linear_1"), lin("linear_2"), cfg_.projector_act);
  f.projected = rows_of(y, 0, y.rows);
  return f;
}

std::vector<int32_t> Llava::expand_image_tokens(const std::vector<int32_t>& ids) const {
  std::vector<int32_t> out;
  for (int32_t id : ids) {
    if (id == cfg_.image_token_id)
      out.insert(out.end(), size_t(image_tokens()), id);
    else
      out.push_back(id);
  }
  return out;
}

Matrix Llava::language_hidden(Backend& be, const std::vector<int32_t>& ids,
                              const std::vector<const Matrix*>& images) const {
  if (ids.empty()) fail("no tokens to run the language model on");
  Act x = lm_->embed(be, ids);
  // Image rows replace the image-token rows in order (transformers' masked_scatter).
  size_t img = 0;
  int64_t row = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != cfg_.image_token_id) continue;
    if (img == images.size())
      fail("{} image tokens in the input, {} image(s) of {} tokens given", i + 1, images.size(),
           image_tokens());
    const Matrix& m = *images[img];
    if (m.cols != x.cols)
      fail("image features of width {} for a model of width {}", m.cols, x.cols);
    for (int64_t c = 0; c < x.cols; ++c) {
      const size_t at = i * size_t(x.cols) + size_t(c);
      if (x.prec == Precision::f32)
        x.f[at] = m.at(row, c);
      else
        x.d[at] = m.at(row, c);
    }
    if (++row == m.rows) {
      row = 0;
      ++img;
    }
  }
  if (img != images.size() || row != 0)
    fail("image tokens in the input do not match the {} image(s) of {} tokens each", images.size(),
         image_tokens());
  const int last = int(lm_->config().n_layers);
  CollectSink sink({last});
  lm_->forward_rows(be, x, {int64_t(ids.size())}, sink);
  return std::move(sink.hidden.at(last).at(0));
}

}  // namespace erank
