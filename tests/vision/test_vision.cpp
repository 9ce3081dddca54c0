// Multimodal parity against transformers (tools/make_llava_fixtures.py): pixels as
// CLIPImageProcessorPil makes them, the CLIP tower's hidden states, the projector's output, the
// language model's last hidden states, eRank1..5 upright and rotated; and bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "eval/mm_run.h"
#include "io/safetensors.h"
#include "metrics/erank.h"
#include "vision/image.h"
#include "vision/llava.h"
#include "vision/preprocess.h"

namespace fs = std::filesystem;
using namespace erank;

namespace {

const std::string kDir = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/llava";

std::vector<float> f32(const SafetensorsFile& f, const std::string& name,
                       std::vector<int64_t>* shape = nullptr) {
  const TensorView& v = f.tensors().at(name);
  std::vector<float> out(size_t(v.numel()));
  to_f32(v, out.data());
  if (shape) *shape = v.shape;
  return out;
}

std::vector<int32_t> i32(const SafetensorsFile& f, const std::string& name) {
  const TensorView& v = f.tensors().at(name);
  std::vector<int32_t> out(size_t(v.numel()));
  std::memcpy(out.data(), v.data.data(), v.data.size());
  return out;
}

std::vector<double> f64(const SafetensorsFile& f, const std::string& name) {
  const TensorView& v = f.tensors().at(name);
  std::vector<double> out(size_t(v.numel()));
  std::memcpy(out.data(), v.data.data(), v.data.size());
  return out;
}

// max |a - b| / max |b|
double rel_err(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0, m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    d = std::max(d, std::fabs(double(a[i]) - b[i]));
    m = std::max(m, std::fabs(double(b[i])));
  }
  return d / m;
}

ClipPreprocess variant(const std::string& v) {
  ClipPreprocess p;
  p.shortest_edge = 56;
  p.crop_h = p.crop_w = 56;
  if (v == "crop") {
    p.shortest_edge = 64;
    p.crop_h = 48;
  }
  p.do_pad = v == "pad";
  return p;
}

TEST(Vision, PixelsEqualCLIPImageProcessor) {
  SafetensorsFile ref(kDir + "/pixels.safetensors");
  const ClipPreprocess from_folder = read_preprocess_config(kDir + "/model");
  EXPECT_EQ(from_folder.shortest_edge, 56);
  EXPECT_EQ(from_folder.crop_w, 56);
  double worst = 0;
  int checked = 0;
  for (const auto& [name, _] : ref.tensors()) {
    const std::string vname = name.substr(0, name.find('.'));
    const std::string file = name.substr(name.find('.') + 1);
    const std::string base = vname.substr(0, vname.find_first_of("0123456789"));
    const int rot = base.size() < vname.size() ? std::stoi(vname.substr(base.size())) : 0;
    const Image im = rotate_clockwise(read_image(kDir + "/images/" + file), rot);
    const Pixels px = preprocess(im, variant(base));
    std::vector<int64_t> shape;
    const std::vector<float> want = f32(ref, name, &shape);
    ASSERT_EQ(shape, (std::vector<int64_t>{3, px.height, px.width})) << name;
    double d = 0;
    for (size_t i = 0; i < want.size(); ++i) d = std::max(d, std::fabs(double(px.v[i]) - want[i]));
    EXPECT_LE(d, 1e-6) << name;
    worst = std::max(worst, d);
    ++checked;
  }
  EXPECT_EQ(checked, 6 * 3 + 3 + 3);
  std::printf("pixels: %d tensors, max abs err %.3g\n", checked, worst);
}

TEST(Vision, RotationIsExact) {
  Image im{3, 2, {}};
  for (int i = 0; i < 18; ++i) im.rgb.push_back(uint8_t(i));
  const Image r90 = rotate_clockwise(im, 90);
  ASSERT_EQ(r90.width, 2);
  ASSERT_EQ(r90.height, 3);
  // Clockwise: the bottom-left pixel (0, 1) becomes the top-left one.
  EXPECT_EQ(r90.at(0, 0, 0), im.at(1, 0, 0));
  EXPECT_EQ(r90.at(0, 1, 0), im.at(0, 0, 0));
  const Image back = rotate_clockwise(rotate_clockwise(r90, 180), 90);
  EXPECT_EQ(back.rgb, im.rgb);
  EXPECT_EQ(rotate_clockwise(rotate_clockwise(im, 180), 180).rgb, im.rgb);
  EXPECT_THROW(rotate_clockwise(im, 45), Error);
}

class LlavaParity : public ::testing::TestWithParam<std::string> {};

TEST_P(LlavaParity, HiddenStatesAndERanks) {
  const auto m = Llava::load(kDir + "/" + GetParam());
  SafetensorsFile ref(kDir + "/ref.safetensors");
  auto be = make_backend("cpu", 0);
  const Tokenizer& tok = m->tokenizer();
  const std::string texts[3] = {
      "Describe the person in this picture and what they are wearing. The astronaut wears a white "
      "suit and holds a helmet in front of a flag.",
      "What animal is this? It is a cat with striped fur, looking straight at the camera.",
      "What is on the table? A cup of coffee on a saucer, with a spoon beside it."};
  const char* files[3] = {"astronaut.png", "chelsea.jpg", "coffee.png"};
  double worst[5] = {0, 0, 0, 0, 0}, worst_erank = 0;
  for (int rot : {0, 90}) {
    const std::vector<double> er = f64(ref, "erank." + std::to_string(rot));
    for (int i = 0; i < 3; ++i) {
      const std::string key = std::to_string(rot) + "." + std::to_string(i);
      const Image im = rotate_clockwise(read_image(kDir + "/images/" + files[i]), rot);
      // Every vision hidden state, through a sink on the tower's taps.
      CollectSink all;
      const ImageFeatures f = m->encode(*be, preprocess(im, m->image_processor()), &all);
      std::vector<int64_t> shape;
      const std::vector<float> vis = f32(ref, "vision." + key, &shape);
      ASSERT_EQ(int64_t(all.hidden.size()), shape[0]);
      for (int l = 0; l < shape[0]; ++l) {
        const Matrix& h = all.hidden.at(l).at(0);
        const size_t n = size_t(shape[1] * shape[2]);
        const double e = rel_err(h.v, std::span(vis).subspan(size_t(l) * n, n));
        EXPECT_LE(e, 1e-4) << "vision layer " << l << " " << key;
        worst[0] = std::max(worst[0], e);
      }
      const double ep = rel_err(f.projected.v, f32(ref, "proj." + key));
      EXPECT_LE(ep, 1e-4) << "projector " << key;
      worst[1] = std::max(worst[1], ep);

      const std::vector<int32_t> ids_img = m->expand_image_tokens(tok.encode("<image>"));
      const std::string prompt = "USER: <image>\n" + texts[i] + " ASSISTANT:";
      const std::vector<int32_t> ids_both = m->expand_image_tokens(tok.encode(prompt));
      const std::vector<int32_t> ids_text = tok.encode(texts[i]);
      if (rot == 0) {
        EXPECT_EQ(ids_img, i32(ref, "ids_image." + std::to_string(i)));
        EXPECT_EQ(ids_both, i32(ref, "ids_both." + std::to_string(i)));
        EXPECT_EQ(ids_text, i32(ref, "ids_text." + std::to_string(i)));
      }
      const Matrix h_img = m->language_hidden(*be, ids_img, {&f.projected});
      const Matrix h_both = m->language_hidden(*be, ids_both, {&f.projected});
      const Matrix h_text = m->language_hidden(*be, ids_text, {});
      const double e3 = rel_err(h_img.v, f32(ref, "lm_image." + key));
      const double e5 = rel_err(h_both.v, f32(ref, "lm_both." + key));
      const double e4 = rel_err(h_text.v, f32(ref, "lm_text." + std::to_string(i)));
      EXPECT_LE(e3, 1e-4) << key;
      EXPECT_LE(e4, 1e-4) << key;
      EXPECT_LE(e5, 1e-4) << key;
      worst[2] = std::max(worst[2], e3);
      worst[3] = std::max(worst[3], e4);
      worst[4] = std::max(worst[4], e5);
    }
    // eRank1..5 through the command's own code path.
    MMSettings s;
    s.model = kDir + "/" + GetParam();
    s.data = kDir + "/pairs.jsonl";
    s.rotate = rot;
    s.quiet = true;
    const nlohmann::json r = run_mm(s);
    ASSERT_EQ(r["pairs"].size(), 3u);
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) {
        const double got = r["pairs"][size_t(i)]["erank" + std::to_string(k + 1)].get<double>();
        const double want = er[size_t(i * 5 + k)];
        const double e = std::fabs(got - want) / want;
        EXPECT_LE(e, 1e-3) << "rotation " << rot << " pair " << i << " eRank" << k + 1;
        worst_erank = std::max(worst_erank, e);
      }
  }
  std::printf(
      "%s: max rel err vision %.3g, projector %.3g, LM image %.3g, text %.3g, both %.3g; eRank "
      "%.3g\n",
      GetParam().c_str(), worst[0], worst[1], worst[2], worst[3], worst[4], worst_erank);
}

INSTANTIATE_TEST_SUITE_P(Layouts, LlavaParity, ::testing::Values("model", "model-prefixed"));

// The double-precision reference backend runs the tower's bidirectional attention and quick_gelu
// through its own loops: the same features as transformers.
TEST(Vision, ReferenceBackendTower) {
  const auto m = Llava::load(kDir + "/model");
  SafetensorsFile ref(kDir + "/ref.safetensors");
  auto be = make_backend("reference", 1);
  const Image im = read_image(kDir + "/images/chelsea.jpg");
  const ImageFeatures f = m->encode(*be, preprocess(im, m->image_processor()));
  EXPECT_LE(rel_err(f.projected.v, f32(ref, "proj.0.1")), 1e-5);
  const Matrix h = m->language_hidden(*be, m->expand_image_tokens(m->tokenizer().encode("<image>")),
                                      {&f.projected});
  EXPECT_LE(rel_err(h.v, f32(ref, "lm_image.0.1")), 1e-5);
}

TEST(Vision, BadImages) {
  auto msg = [](const std::string& path) {
    try {
      read_image(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg(kDir + "/images/missing.png").find("cannot open"), std::string::npos);
  const std::string corrupt = msg(kDir + "/images/corrupt.png");
  EXPECT_NE(corrupt.find("corrupt PNG"), std::string::npos) << corrupt;
  EXPECT_NE(corrupt.find("corrupt.png"), std::string::npos) << corrupt;
  EXPECT_NE(msg(kDir + "/images/unsupported.bmp").find("unsupported image format"),
            std::string::npos);
  // A truncated JPEG.
  std::ifstream f(kDir + "/images/chelsea.jpg", std::ios::binary);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  b.resize(200);
  try {
    decode_image(b, "cut.jpg");
    ADD_FAILURE() << "no error for a truncated JPEG";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.jpg"), std::string::npos) << e.what();
  }
}

struct TempDir {
  fs::path p;
  TempDir() {
    p = fs::temp_directory_path() / ("erank_vision_" + std::to_string(::getpid()) + "_" +
                                     std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(p);
  }
  ~TempDir() { fs::remove_all(p); }
};

std::string run_cli(const std::string& args, int* rc) {
  const std::string cmd = std::string(ERANK_BINARY) + " mm " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  *rc = pclose(p);
  return out;
}

TEST(Vision, CommandErrorsAndResume) {
  TempDir t;
  const std::string model = kDir + "/model";
  auto write = [&](const std::string& name, const std::string& body) {
    std::ofstream(t.p / name) << body;
    return (t.p / name).string();
  };
  fs::copy(kDir + "/images", t.p / "images");
  int rc = 0;
  // Missing image, corrupt image, unsupported format: the file is named, exit non-zero.
  for (const auto& [img, what] : std::vector<std::pair<std::string, std::string>>{
           {"images/nope.png", "cannot open"},
           {"images/corrupt.png", "corrupt PNG"},
           {"images/unsupported.bmp", "unsupported image format"}}) {
    const std::string data = write("bad.jsonl", "{\"image\": \"" + img + "\", \"text\": \"hi\"}\n");
    const std::string out = run_cli("--quiet --model " + model + " --data " + data, &rc);
    EXPECT_NE(rc, 0) << out;
    EXPECT_NE(out.find(what), std::string::npos) << out;
    EXPECT_NE(out.find(img.substr(7)), std::string::npos) << out;
  }
  // No placeholder where one is needed.
  const std::string data =
      write("ok.jsonl", "{\"image\": \"images/coffee.png\", \"text\": \"a cup\"}\n");
  std::string out = run_cli(
      "--quiet --model " + model + " --data " + data + " --template 'USER: {text} ASSISTANT:'",
      &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("no image placeholder"), std::string::npos) << out;
  // An unsupported vision config.
  fs::copy(model, t.p / "siglip");
  {
    std::ifstream in(t.p / "siglip" / "config.json");
    nlohmann::json j = nlohmann::json::parse(in);
    j["vision_config"]["model_type"] = "siglip_vision_model";
    std::ofstream(t.p / "siglip" / "config.json") << j.dump();
  }
  out = run_cli("--quiet --model " + (t.p / "siglip").string() + " --data " + data, &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("siglip_vision_model"), std::string::npos) << out;
  EXPECT_NE(out.find("not supported"), std::string::npos) << out;
  // A run, then a resume that computes nothing new and gives the same results.
  const std::string per = (t.p / "per.jsonl").string(), res = (t.p / "mm.json").string();
  out = run_cli("--quiet --model " + model + " --data " + data + " --rotation-study --per-pair " +
                    per + " --out " + res,
                &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("image-text alignment"), std::string::npos) << out;
  nlohmann::json first = nlohmann::json::parse(std::ifstream(res));
  EXPECT_EQ(first["upright"]["n_pairs"], 1);
  EXPECT_EQ(first["rotated"]["rotation"], 90);
  out = run_cli("--quiet --model " + model + " --data " + data + " --rotation-study --per-pair " +
                    per + " --out " + res,
                &rc);
  EXPECT_NE(rc, 0);  // exists without --resume
  {
    std::ofstream app(per, std::ios::app);
    app << "{\"index\": 0, \"rot";  // a torn last line
  }
  out = run_cli("--quiet --model " + model + " --data " + data + " --rotation-study --per-pair " +
                    per + " --resume --out " + res,
                &rc);
  ASSERT_EQ(rc, 0) << out;
  nlohmann::json second = nlohmann::json::parse(std::ifstream(res));
  EXPECT_EQ(first["upright"]["mean"], second["upright"]["mean"]);
  EXPECT_EQ(first["rotated"]["mean"], second["rotated"]["mean"]);
}

}  // namespace
