// GGUF reader on fixtures written by tools/make_gguf_fixtures.py (gguf.GGUFWriter): header,
// alignment, tensor infos and every metadata value type against what the script wrote.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "io/gguf.h"
#include "io/safetensors.h"

namespace erank {
namespace {

const std::string kDir = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/gguf/";

// Compares a parsed value with the JSON record of what gguf-py was asked to write.
void expect_value(const std::string& key, const GGUFValue& v, const nlohmann::json& want) {
  SCOPED_TRACE(key);
  if (want.is_array()) {
    const auto* a = std::get_if<GGUFArray>(&v.v);
    ASSERT_TRUE(a) << "not an array";
    ASSERT_EQ(a->size(), want.size());
    for (size_t i = 0; i < a->size(); ++i) expect_value(key, (*a)[i], want[i]);
  } else if (want.is_boolean()) {
    ASSERT_TRUE(std::holds_alternative<bool>(v.v));
    EXPECT_EQ(std::get<bool>(v.v), want.get<bool>());
  } else if (want.is_string()) {
    ASSERT_TRUE(std::holds_alternative<std::string>(v.v));
    EXPECT_EQ(std::get<std::string>(v.v), want.get<std::string>());
  } else if (want.is_number_float()) {
    ASSERT_TRUE(std::holds_alternative<double>(v.v));
    EXPECT_EQ(std::get<double>(v.v), want.get<double>());
  } else if (want.is_number_unsigned() && std::holds_alternative<uint64_t>(v.v)) {
    EXPECT_EQ(std::get<uint64_t>(v.v), want.get<uint64_t>());
  } else if (want.is_number_integer()) {
    // Non-negative JSON numbers are "unsigned"; a signed GGUF type keeps int64.
    ASSERT_TRUE(std::holds_alternative<int64_t>(v.v)) << "expected a signed integer";
    EXPECT_EQ(std::get<int64_t>(v.v), want.get<int64_t>());
  } else {
    FAIL() << "unexpected JSON " << want.dump();
  }
}

TEST(GGUF, HeaderAndTensorInfos) {
  GGUFFile f(kDir + "all_types.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.get_string("general.architecture"), "erank-test");
  SafetensorsFile ref(kDir + "all_types_ref.safetensors");
  ASSERT_EQ(f.tensors().size(), ref.tensors().size());
  for (const auto& t : f.tensors()) {
    EXPECT_EQ(f.find_tensor(t.name), &t);
    EXPECT_EQ(t.offset % f.alignment(), 0u) << t.name;
    EXPECT_EQ(t.data.size(), ggml_row_bytes(t.type, t.ne[0]) * (t.numel() / t.ne[0])) << t.name;
  }
  const auto* q3 = f.find_tensor("Q8_0.3d");
  ASSERT_TRUE(q3);
  EXPECT_EQ(q3->type, GGMLType::Q8_0);
  EXPECT_EQ(q3->ne, (std::vector<int64_t>{32, 3, 2}));
  EXPECT_EQ(q3->numel(), 192);
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
}

TEST(GGUF, EveryMetadataTypeMatchesWhatWasWritten) {
  GGUFFile f(kDir + "all_types.gguf");
  std::ifstream in(kDir + "all_types_meta.json");
  ASSERT_TRUE(in);
  const auto meta = nlohmann::json::parse(in);
  std::set<uint32_t> types;
  for (const auto& [key, rec] : meta.items()) {
    ASSERT_TRUE(f.has(key)) << key;
    const GGUFValue& v = f.metadata().at(key);
    EXPECT_EQ(v.gguf_type, rec["type"].get<uint32_t>()) << key;
    types.insert(v.gguf_type);
    if (auto* a = std::get_if<GGUFArray>(&v.v))
      for (const auto& e : *a) {
        types.insert(e.gguf_type);
        EXPECT_EQ(e.gguf_type, v.array_type) << key;
      }
    expect_value(key, v, rec["value"]);
  }
  EXPECT_EQ(types.size(), 13u) << "fixture should hold all 13 GGUF value types";
  // The writer adds general.architecture itself.
  EXPECT_EQ(f.metadata().size(), meta.size() + 1);
}

TEST(GGUF, TypedAccessors) {
  GGUFFile f(kDir + "all_types.gguf");
  EXPECT_EQ(f.get_int("test.u8"), 200);
  EXPECT_EQ(f.get_int("test.i8"), -100);
  EXPECT_EQ(f.get_int("test.u32"), 4000000000LL);
  EXPECT_EQ(f.get_int("test.i64"), -(1LL << 62) - 3);
  EXPECT_EQ(f.get_int_or("test.absent", 7), 7);
  EXPECT_EQ(f.get_float("test.f32"), static_cast<double>(0.1f));
  EXPECT_EQ(f.get_float("test.f64"), 0.1);
  EXPECT_EQ(f.get_float("test.u16"), 60000.0);  // integers are accepted as numbers
  EXPECT_EQ(f.get_float_or("test.absent", 2.5), 2.5);
  EXPECT_TRUE(f.get_bool_or("test.bool_true", false));
  EXPECT_FALSE(f.get_bool_or("test.bool_false", true));
  EXPECT_TRUE(f.get_bool_or("test.absent", true));
  EXPECT_EQ(f.get_string("test.string_empty"), "");
  EXPECT_EQ(f.get_string_array("test.arr_string"),
            (std::vector<std::string>{"a", "", "\xc3\xbcnicode"}));
  EXPECT_EQ(f.get_int_array("test.arr_int8"), (std::vector<int64_t>{-128, 127, 0}));
  EXPECT_EQ(f.get_float_array("test.arr_float32"),
            (std::vector<double>{0.5, -1.25, static_cast<double>(3.0e-5f)}));
  EXPECT_EQ(f.get_float_array("test.arr_int32"),
            (std::vector<double>{-2147483648.0, 2147483647.0}));

  auto expect_error = [&](auto fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "no error, expected '" << needle << "'";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("all_types.gguf"), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  };
  expect_error([&] { f.get_int("test.u64_huge"); }, "does not fit in int64");
  expect_error([&] { f.get_int("test.string"); }, "test.string' has type string");
  expect_error([&] { f.get_string("test.missing"); }, "'test.missing' is missing");
  expect_error([&] { f.get_bool_or("test.u8", false); }, "expected bool");
  expect_error([&] { f.get_string_array("test.arr_int32"); }, "not an array of strings");
  expect_error([&] { f.get_int_array("test.arr_uint64"); }, "int64-representable");
  expect_error([&] { f.get_float_array("test.u8"); }, "expected array");
}

TEST(GGUF, CustomAlignmentAndVersion2) {
  for (const char* name : {"align64.gguf", "align64_v2.gguf"}) {
    SCOPED_TRACE(name);
    GGUFFile f(kDir + name);
    EXPECT_EQ(f.version(), std::string(name) == "align64.gguf" ? 3u : 2u);
    EXPECT_EQ(f.alignment(), 64u);
    EXPECT_EQ(f.get_int("general.alignment"), 64);
    ASSERT_EQ(f.tensors().size(), 3u);
    const uint8_t* base = f.tensors()[0].data.data() - f.tensors()[0].offset;
    for (const auto& t : f.tensors()) {
      EXPECT_EQ(t.offset % 64, 0u) << t.name;
      EXPECT_EQ(t.data.data(), base + t.offset);
    }
    EXPECT_EQ(f.tensors()[1].offset, 64u);  // 20 bytes of f32, padded to 64
  }
}

TEST(GGUF, InMemoryImageMatchesFile) {
  std::ifstream in(kDir + "tiny.gguf", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  GGUFFile mem(bytes, "tiny-in-memory");
  GGUFFile file(kDir + "tiny.gguf");
  EXPECT_EQ(mem.path(), "tiny-in-memory");
  ASSERT_EQ(mem.tensors().size(), file.tensors().size());
  for (size_t i = 0; i < mem.tensors().size(); ++i)
    EXPECT_EQ(mem.dequantize(mem.tensors()[i]), file.dequantize(file.tensors()[i]));
  EXPECT_EQ(mem.get_int_array("tiny.ids"), (std::vector<int64_t>{1, 2, 3}));
}

TEST(GGUF, MissingFileNamesPath) {
  try {
    GGUFFile f(kDir + "does_not_exist.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does_not_exist.gguf"), std::string::npos);
  }
}

}  // namespace
}  // namespace erank
