// Task files: plain scalars typed as PyYAML types them, variants and groups expanded, and bad
// files refused with the file named.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "tasks/task_config.h"

namespace erank {
namespace {

const char* kTask = R"(task: t
dataset_path: x
test_split: test
doc_to_text: q
doc_to_target: 0
doc_to_choice: [a, b]
)";

// Expected values printed by PyYAML 6 (yaml.safe_load) for the same mapping:
//   python -c "import yaml,json; print(json.dumps(yaml.safe_load(open('m.yaml'))))"
TEST(TaskConfig, PlainScalarsTypedAsPyYAML) {
  TaskRegistry reg;
  reg.add_yaml(std::string(kTask) +
                   "metadata: {a: 1_000, b: .5, c: 1e+3, d: 1e3, e: '1', f: yes, g: ~, h: -0, "
                   "i: +7, j: ., k: -.5e-2, l: 1.5, m: 3., n: 007x, o: Off, p: 1_0.2_5, q: 0x1F, "
                   "r: 012, s: 0b101, t: -1.5E+2, u: 08, v: _1.0, w: 1.5e3, x: '0.5', y: 9_}\n",
               "m.yaml");
  const auto& got = reg.task("t")->metadata;
  const auto want = nlohmann::ordered_json::parse(
      R"({"a": 1000, "b": 0.5, "c": "1e+3", "d": "1e3", "e": "1", "f": true, "g": null,
          "h": 0, "i": 7, "j": ".", "k": "-.5e-2", "l": 1.5, "m": 3.0, "n": "007x", "o": false,
          "p": 10.25, "q": 31, "r": 10, "s": 5, "t": -150.0, "u": "08", "v": "_1.0",
          "w": "1.5e3", "x": "0.5", "y": 9})");
  for (auto& [k, v] : want.items()) {
    ASSERT_TRUE(got.contains(k)) << k;
    if (v.is_number_float()) {
      EXPECT_TRUE(got[k].is_number_float()) << k;
    } else if (v.is_number()) {
      EXPECT_TRUE(got[k].is_number_integer()) << k;
    }
    EXPECT_EQ(got[k], v) << k;
  }
}

TEST(TaskConfig, VariantsAndGroups) {
  TaskRegistry reg;
  reg.add_yaml(std::string(kTask) +
                   "tag: fam\nvariants:\n  - {task: t_a, dataset_name: a}\n"
                   "  - {task: t_b, dataset_name: b, num_fewshot: 3}\n---\n"
                   "group: g\ntask: [fam]\naggregate_metric_list:\n  - metric: acc\n"
                   "    weight_by_size: false\n",
               "v.yaml");
  EXPECT_EQ(reg.task_names(), (std::vector<std::string>{"t_a", "t_b"}));
  EXPECT_EQ(reg.task("t_b")->dataset_name, "b");
  EXPECT_EQ(reg.task("t_b")->num_fewshot, 3);
  EXPECT_FALSE(reg.task("t_a")->num_fewshot.has_value());
  EXPECT_EQ(reg.tagged("fam"), (std::vector<std::string>{"t_a", "t_b"}));
  auto roots = resolve_tasks(reg, {"g"});
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_TRUE(roots[0].is_group);
  EXPECT_EQ(leaf_tasks(roots), (std::vector<std::string>{"t_a", "t_b"}));
  EXPECT_FALSE(reg.group("g")->aggregate.at(0).weight_by_size);
  EXPECT_EQ(leaf_tasks(resolve_tasks(reg, {"t_*"})), (std::vector<std::string>{"t_a", "t_b"}));
}

TEST(TaskConfig, ShippedTaskFilesLoad) {
  auto reg = TaskRegistry::load({"tasks"});
  // MMLU's 57 subjects, CMMLU's 67 and C-Eval's 52 (their papers' counts).
  EXPECT_EQ(leaf_tasks(resolve_tasks(reg, {"mmlu"})).size(), 57u);
  EXPECT_EQ(leaf_tasks(resolve_tasks(reg, {"cmmlu"})).size(), 67u);
  EXPECT_EQ(leaf_tasks(resolve_tasks(reg, {"ceval-valid"})).size(), 52u);
}

TEST(TaskConfig, BadFilesNameTheFile) {
  auto message = [](const std::string& text) {
    TaskRegistry reg;
    try {
      reg.add_yaml(text, "bad.yaml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("task: [unclosed\n").find("bad.yaml"), std::string::npos);
  EXPECT_NE(message("task: t\ndataset_path: x\n").find("bad.yaml"), std::string::npos);
  EXPECT_NE(message(std::string(kTask) + "variants: 3\n").find("variants"), std::string::npos);
  EXPECT_NE(message(std::string(kTask) + "---\n" + kTask).find("already defined"),
            std::string::npos);
  TaskRegistry reg;
  reg.add_yaml(kTask, "ok.yaml");
  try {
    resolve_tasks(reg, {"s"});
    ADD_FAILURE() << "an unknown task was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("s"), std::string::npos);
  }
}

}  // namespace
}  // namespace erank
