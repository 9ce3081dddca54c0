// The report's reading and drawing without the binary: bad files get one error naming the file
// (not JSON, truncated, unknown kind, unknown schema_version, missing keys, no files, a file
// twice), text from the files is escaped on the page, results on the same texts form one comparison
// and results on other texts their own, plots leave out series without values, axis ticks fall on
// 1-2-5 steps and powers of ten.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/error.h"
#include "report/page.h"
#include "report/sections.h"

using namespace erank;
using namespace erank::report;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const fs::path kFix = fs::path(ERANK_SOURCE_DIR) / "tests/fixtures/report";

// The shape of an erank diff results document (docs/results-schema.md), values irrelevant here.
json results_doc(const std::string& model, double n_params, const std::string& sha) {
  json per_layer = json::array();
  for (int l = 0; l <= 2; ++l)
    per_layer.push_back({{"layer", l},
                         {"trained", {{"erank_a", 10.0 + l}}},
                         {"erank_a_untrained", 12.0},
                         {"diff_a", 2.0 - l},
                         {"diff_b", nullptr}});
  return {{"schema_version", 1},
          {"erank_version", "0.1.0"},
          {"command", "diff"},
          {"model", {{"name", model}, {"n_params", n_params}, {"architecture", "GPT2LMHeadModel"}}},
          {"dataset", {{"name", "texts.jsonl"}, {"sha256", sha}, {"n_texts", 4}}},
          {"twin", {{"seeds", {0}}, {"mode", "eval"}}},
          {"per_layer", per_layer},
          {"loss", {{"reduced_per_token", 1.5}, {"reduced_per_text", nullptr}}}};
}

std::string error_of(const std::string& path, const std::string& text) {
  try {
    parse_input(path, text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_error(const std::string& path, const std::string& text, const std::string& needle) {
  const std::string e = error_of(path, text);
  EXPECT_NE(e.find(path + ": "), std::string::npos) << "no file name in: " << e;
  EXPECT_NE(e.find(needle), std::string::npos) << "missing '" << needle << "' in: " << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << "more than one line: " << e;
}

// The plots (data-plot) of the page and each one's series count.
std::map<std::string, int> plots_of(const std::string& html) {
  std::map<std::string, int> out;
  const std::regex re("data-plot=\"([^\"]*)\" data-type=\"[a-z]*\" data-series-count=\"([0-9]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator();
       ++it)
    out[(*it)[1]] += std::stoi((*it)[2]);
  return out;
}

TEST(ReportInput, NotJsonOrTruncated) {
  const std::string full = results_doc("m", 1e6, "abc").dump();
  expect_error("cut.json", full.substr(0, full.size() / 2), "not valid JSON (truncated?)");
  expect_error("garbage.json", "this is not json", "not valid JSON");
  expect_error("empty.json", "", "the file is empty");
  expect_error("list.json", "[1, 2]", "a JSON array, not a results object");
}

TEST(ReportInput, UnknownKindAndSchemaVersion) {
  json d = results_doc("m", 1e6, "abc");
  d["schema_version"] = 2;
  expect_error("v2.json", d.dump(), "schema_version 2 of erank diff/rank/loss results");
  d.erase("schema_version");
  expect_error("nov.json", d.dump(), "no integer schema_version");
  json s = json::parse(std::ifstream(kFix / "sweep_sample.json"));
  s["schema_version"] = 7;
  expect_error("sweep7.json", s.dump(), "schema_version 7 of erank sweep");
  expect_error("k.json", R"({"kind": "flux", "schema_version": 1})", "unknown kind \"flux\"");
  expect_error("c.json", R"({"command": "generate"})", "command \"generate\"");
  expect_error("x.json", R"({"hello": 1})", "unknown kind of results");
}

TEST(ReportInput, MissingKeysNamed) {
  json d = results_doc("m", 1e6, "abc");
  d["per_layer"][1].erase("trained");
  expect_error("a.json", d.dump(), "per_layer[1] has no 'trained'");
  d = results_doc("m", 1e6, "abc");
  d["model"]["n_params"] = "big";
  expect_error("b.json", d.dump(), "model.n_params is string, expected number");
  d["per_layer"] = json::array();
  d["model"]["n_params"] = 5;
  expect_error("c.json", d.dump(), "per_layer is empty");
  json s = json::parse(std::ifstream(kFix / "sweep_sample.json"));
  s["sets"][0]["models"][0]["status"] = "maybe";
  expect_error("s.json", s.dump(), "sets[0].models[0].status is 'maybe'");
}

TEST(ReportInput, NoFilesOrTwiceOrMissing) {
  try {
    load_inputs({});
    FAIL() << "no error for an empty list";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no results files given"), std::string::npos);
  }
  const std::string p = (kFix / "sweep_sample.json").string();
  EXPECT_THROW(load_inputs({p, p}), Error);
  try {
    load_inputs({"/no/such/file.json"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/file.json: cannot open"), std::string::npos);
  }
}

TEST(ReportInput, KindsDetected) {
  EXPECT_EQ(parse_input("r", results_doc("m", 1, "a").dump()).kind, Kind::results);
  EXPECT_EQ(load_input((kFix / "sweep_sample.json").string()).kind, Kind::sweep);
}

TEST(ReportPage, EscapesTextFromFiles) {
  const std::string evil = "<script>alert('x')</script> & \"co\"";
  Input in = parse_input("evil<i>.json", results_doc(evil, 1e6, "abc").dump());
  const std::string html = render_page({in}, {"0.1.0", "erank report <b>"});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;co&quot;"),
            std::string::npos);
  EXPECT_NE(html.find("evil&lt;i&gt;.json"), std::string::npos);
  // Self-contained: nothing fetched from anywhere.
  // (The only URL is the SVG namespace, which names and fetches nothing.)
  for (const char* s : {"<script", "<img", "<link", "src=", "href=\"http", "@import", "url("})
    EXPECT_EQ(html.find(s), std::string::npos) << s;
}

TEST(ReportPage, SameTextsOneComparisonOtherTextsTheirOwn) {
  std::vector<Input> in{parse_input("a.json", results_doc("a", 1e6, "s1").dump()),
                        parse_input("b.json", results_doc("b", 1e7, "s1").dump()),
                        parse_input("c.json", results_doc("c", 1e8, "s2").dump()),
                        load_input((kFix / "sweep_sample.json").string())};
  const std::string html = render_page(in, {"0.1.0", ""});
  EXPECT_NE(html.find("data-files=\"[&quot;a.json&quot;,&quot;b.json&quot;]\""), std::string::npos);
  EXPECT_NE(html.find("data-files=\"[&quot;c.json&quot;]\""), std::string::npos);
  const auto p = plots_of(html);
  // Two comparisons: eRank per layer has a trained and an untrained series per model (2 + 1
  // models); Diff-eRank (b) is null everywhere, so only (a) is drawn; reduced loss per text is
  // null, so only per token.
  EXPECT_EQ(p.at("erank-per-layer"), 4 + 2);
  EXPECT_EQ(p.at("diff-vs-params"), 1 + 1);
  EXPECT_EQ(p.at("loss-vs-params"), 1 + 1);
  EXPECT_EQ(p.at("set0/layer-ablation"), 3);   // first, middle, last
  EXPECT_EQ(p.at("set0/erank-per-layer"), 6);  // three models that ran, the failed one left out
  EXPECT_EQ(p.count("set0/accuracy-vs-params"), 0u);       // no accuracy in the sample
  EXPECT_NE(html.find("cannot open"), std::string::npos);  // the failed model's error
  // The sweep sample's model names carry markup; it stays text.
  EXPECT_NE(html.find("tiny &lt;a&gt;"), std::string::npos);
  EXPECT_EQ(html.find("tiny <a>"), std::string::npos);
}

TEST(ReportPage, RankResultsWithoutTwinHaveNoDiffPlot) {
  json d = results_doc("m", 1e6, "abc");
  d["command"] = "rank";
  d.erase("loss");
  for (auto& L : d["per_layer"]) L["diff_a"] = L["diff_b"] = L["erank_a_untrained"] = nullptr;
  const auto p = plots_of(render_page({parse_input("rank.json", d.dump())}, {"0.1.0", ""}));
  EXPECT_EQ(p, (std::map<std::string, int>{{"erank-per-layer", 1}}));
}

TEST(ReportSvg, TicksAndSeries) {
  EXPECT_EQ(linear_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(linear_ticks(-3, 12), (std::vector<double>{0, 5, 10}));  // step 2 would make 8
  EXPECT_EQ(linear_ticks(0.31, 0.52), (std::vector<double>{0.35, 0.4, 0.45, 0.5}));
  EXPECT_EQ(log_ticks(50, 2e5), (std::vector<double>{100, 1000, 10000, 100000}));
  EXPECT_EQ(log_ticks(1.5e5, 9e5), (std::vector<double>{2e5, 5e5}));
  EXPECT_EQ(tick_label(2.5e6), "2.5M");
  EXPECT_EQ(tick_label(0.25), "0.25");
  XYPlot p{"p", "t", "x", "y", true, {}};
  p.series.push_back({"none", {1, 2}, {NAN, NAN}});
  p.series.push_back({"neg x on log", {-1, 0}, {1, 2}});
  p.series.push_back({"ok", {1, 10, 100}, {1, NAN, 3}});
  const std::string s = xy_svg(p);
  EXPECT_NE(s.find("data-series-count=\"1\""), std::string::npos);
  EXPECT_NE(s.find("data-series=\"ok\" data-marks=\"2\""), std::string::npos);
  EXPECT_EQ(s.find("data-series=\"none\""), std::string::npos);
}

TEST(ReportHtml, EscapeAndNumbers) {
  EXPECT_EQ(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#x27;");
  EXPECT_EQ(num(1.23456), "1.235");
  EXPECT_EQ(num(std::nullopt), "n/a");
  EXPECT_EQ(num(NAN), "n/a");
  EXPECT_EQ(num(120.0), "120");
  EXPECT_EQ(count(1234567), "1,234,567");
}

}  // namespace
