// Stop strings: lm-eval's `until` cut on random strings (whole and streamed, from
// tools/make_sampling_refs.py), token-boundary and UTF-8 cases by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "generate/stop_strings.h"

namespace erank::gen {
namespace {

constexpr size_t npos = StopMatcher::npos;

// Feeds the pieces cumulatively; returns the text kept when a stop fires, or nullopt. Checks on
// the way that nothing streamed (text minus held_back) is cut afterwards.
std::optional<std::string> stream(const std::vector<std::string>& stops,
                                  const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  std::string text;
  size_t streamed = 0;
  for (const auto& p : pieces) {
    text += p;
    const size_t cut = m.find(text);
    if (cut != npos) {
      EXPECT_GE(cut, streamed) << text;
      return text.substr(0, cut);
    }
    streamed = std::max(streamed, text.size() - m.held_back(text));
  }
  return std::nullopt;
}

TEST(StopStrings, EqualsLmEvalSplitRule) {
  std::ifstream f(ERANK_SOURCE_DIR "/tests/fixtures/generate/sampling_refs.json");
  ASSERT_TRUE(f.good()) << "run tools/make_sampling_refs.py";
  const auto j = nlohmann::json::parse(f);
  int n = 0, fired = 0;
  for (const auto& c : j["stops"]) {
    const auto until = c["until"].get<std::vector<std::string>>();
    const auto text = c["text"].get<std::string>();
    StopMatcher whole(until);
    const size_t cut = whole.find(text);
    EXPECT_EQ(cut == npos ? text : text.substr(0, cut), c["whole"].get<std::string>())
        << text << " " << c["until"].dump();
    const auto got = stream(until, c["pieces"].get<std::vector<std::string>>());
    if (c["streamed"].is_null()) {
      EXPECT_FALSE(got.has_value()) << text;
    } else {
      ++fired;
      EXPECT_EQ(got.value_or("<none>"), c["streamed"].get<std::string>())
          << text << " " << c["until"].dump();
    }
    ++n;
  }
  EXPECT_EQ(n, 400);
  EXPECT_GT(fired, 100);
}

TEST(StopStrings, SpansTokenBoundaries) {
  EXPECT_EQ(stream({"\n\nQuestion:"}, {"The answer", " is 4.\n", "\nQues", "tion:", " next"}),
            "The answer is 4.");
  EXPECT_EQ(stream({"</s>"}, {"a<", "/", "s", ">b"}), "a");
  EXPECT_EQ(stream({"xyz"}, {"xy", "a", "xy"}), std::nullopt);
}

TEST(StopStrings, EarliestOccurrenceWins) {
  // Listed first but occurring later: the earlier one cuts.
  StopMatcher m({"STOP2", "STOP1"});
  const std::string t = "xx STOP1 yy STOP2";
  EXPECT_EQ(m.find(t), 3u);
  EXPECT_EQ(stream({"\n", "."}, {"one. two\n"}), "one");
}

TEST(StopStrings, OverlappingAndPositionZero) {
  EXPECT_EQ(StopMatcher({"abc", "bcd"}).find("xabcd"), 1u);
  EXPECT_EQ(StopMatcher({"aa"}).find("baaa"), 1u);
  EXPECT_EQ(StopMatcher({"Q:"}).find("Q: what"), 0u);
  EXPECT_EQ(stream({"Q:"}, {"Q", ":"}), "");
  // lm-eval cuts term by term: "bc" first leaves "a", where "ab" no longer occurs.
  EXPECT_EQ(StopMatcher({"bc", "ab"}).find("abc"), 1u);
  EXPECT_EQ(StopMatcher({"ab", "bc"}).find("abc"), 0u);
  // Streamed, the stop fires as soon as "ab" is complete, before "bc" exists.
  EXPECT_EQ(stream({"bc", "ab"}, {"a", "b", "c"}), "");
}

TEST(StopStrings, Unicode) {
  EXPECT_EQ(stream({"→"}, {"x ", "→", " y"}), "x ");
  EXPECT_EQ(stream({"é."}, {"caf", "é", ". fin"}), "caf");
  EXPECT_EQ(StopMatcher({"😀"}).find("ok 😀"), 3u);
}

// Decodes bytes as Python's errors="replace" would at a truncated end: a trailing incomplete
// sequence becomes one U+FFFD (enough for this test: the input is valid UTF-8 cut short).
std::string decode_prefix(const std::string& bytes, size_t n) {
  size_t start = n;
  while (start > 0 && (static_cast<unsigned char>(bytes[start - 1]) & 0xC0) == 0x80) --start;
  if (start == 0) return bytes.substr(0, n);
  const auto lead = static_cast<unsigned char>(bytes[start - 1]);
  const size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (start - 1 + len > n) return bytes.substr(0, start - 1) + "\xEF\xBF\xBD";
  return bytes.substr(0, n);
}

TEST(StopStrings, PartialUtf8IsHeldBack) {
  EXPECT_EQ(stable_prefix("abc"), 3u);
  EXPECT_EQ(stable_prefix("abc\xEF\xBF\xBD"), 3u);
  EXPECT_EQ(stable_prefix("a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"),
            1u);  // byte fallback: one per byte
  EXPECT_EQ(stable_prefix("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"), 3u);  // at most 3
  EXPECT_EQ(stable_prefix(""), 0u);
  // Byte-level tokens, one byte each: "→" (3 bytes) only matches once complete, and the text fed
  // to the matcher only ever grows.
  const std::string bytes = "go \xE2\x86\x92 stop";
  StopMatcher m({"\xE2\x86\x92"});
  std::string prev;
  size_t cut = npos;
  for (size_t n = 1; n <= bytes.size() && cut == npos; ++n) {
    const std::string d = decode_prefix(bytes, n);
    const std::string fed = d.substr(0, stable_prefix(d));
    ASSERT_EQ(fed.compare(0, prev.size(), prev), 0) << n;
    prev = fed;
    cut = m.find(fed);
  }
  EXPECT_EQ(cut, 3u);
}

TEST(StopStrings, HeldBack) {
  StopMatcher m({"\n\nQ:", "###"});
  EXPECT_EQ(m.held_back("answer\n"), 1u);
  EXPECT_EQ(m.held_back("answer\n\nQ"), 3u);
  EXPECT_EQ(m.held_back("answer ##"), 2u);
  EXPECT_EQ(m.held_back("answer"), 0u);
  EXPECT_EQ(m.held_back(""), 0u);
}

TEST(StopStrings, EmptyStopRejected) {
  EXPECT_THROW(StopMatcher({"a", ""}), Error);
  StopMatcher none({});
  EXPECT_EQ(none.find("anything"), npos);
  EXPECT_EQ(none.held_back("anything"), 0u);
}

}  // namespace
}  // namespace erank::gen
