// The pre-tokenizer against the real regex engine (tests/fixtures/pretokenize_cases.json, made by
// tests/make_gpt2_fixture.py with Python's `regex` module) for both patterns, the identity
// "chunks concatenate to the text" on random bytes, our rule for bytes that are not UTF-8, and the
// claim behind encode_parallel: cutting at a safe split point never changes the chunks.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/tokenizer/pretokenize.h"

namespace sog {
namespace {

std::string join(const std::vector<std::string_view>& chunks) {
  std::string s;
  for (auto c : chunks) s += c;
  return s;
}

std::vector<std::string> as_strings(const std::vector<std::string_view>& chunks) { return {chunks.begin(), chunks.end()}; }

nlohmann::json load_cases() {
  const std::string path = std::string(SOG_SOURCE_DIR) + "/tests/fixtures/pretokenize_cases.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": missing (run tests/make_gpt2_fixture.py)");
  return nlohmann::json::parse(in);
}

TEST(Pretokenize, MatchesTheRegexEngineForBothPatterns) {
  const nlohmann::json fixture = load_cases();
  ASSERT_GE(fixture["cases"].size(), 40u);
  EXPECT_EQ(fixture["patterns"]["gpt2"].get<std::string>(), split_pattern_regex(SplitPattern::gpt2));
  EXPECT_EQ(fixture["patterns"]["gpt4"].get<std::string>(), split_pattern_regex(SplitPattern::gpt4));
  for (const auto& c : fixture["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(as_strings(pretokenize(text, SplitPattern::gpt2)), c["gpt2"].get<std::vector<std::string>>())
        << "gpt2 pattern on " << nlohmann::json(text).dump();
    EXPECT_EQ(as_strings(pretokenize(text, SplitPattern::gpt4)), c["gpt4"].get<std::vector<std::string>>())
        << "gpt4 pattern on " << nlohmann::json(text).dump();
  }
}

TEST(Pretokenize, HandCases) {
  using V = std::vector<std::string>;
  // The last space of a run joins the word; at the end of the text the run stays whole.
  EXPECT_EQ(as_strings(pretokenize("a   b  ", SplitPattern::gpt2)), (V{"a", "  ", " b", "  "}));
  // GPT-2 contractions are case-sensitive, cl100k's are not.
  EXPECT_EQ(as_strings(pretokenize("HE'S", SplitPattern::gpt2)), (V{"HE", "'", "S"}));
  EXPECT_EQ(as_strings(pretokenize("HE'S", SplitPattern::gpt4)), (V{"HE", "'S"}));
  // cl100k: digits in groups of at most three; newlines stay with the punctuation before them.
  EXPECT_EQ(as_strings(pretokenize("12345", SplitPattern::gpt4)), (V{"123", "45"}));
  EXPECT_EQ(as_strings(pretokenize("end.\n\nNext", SplitPattern::gpt4)), (V{"end", ".\n\n", "Next"}));
  EXPECT_EQ(as_strings(pretokenize("", SplitPattern::gpt2)), V{});
  // The callback form gives the same chunks.
  std::vector<std::string> seen;
  pretokenize("Hello world's", SplitPattern::gpt2, [&](std::string_view c) { seen.emplace_back(c); });
  EXPECT_EQ(seen, (V{"Hello", " world", "'s"}));
}

TEST(Pretokenize, InvalidUtf8BytesArePunctuation) {
  using V = std::vector<std::string>;
  // Each invalid byte is one character outside \p{L} \p{N} \s: it joins a punctuation run.
  EXPECT_EQ(as_strings(pretokenize("ab\xff\xfe!cd", SplitPattern::gpt2)), (V{"ab", "\xff\xfe!", "cd"}));
  EXPECT_EQ(as_strings(pretokenize("ab \xff" "cd", SplitPattern::gpt2)), (V{"ab", " \xff", "cd"}));
  // cl100k: one non-letter may lead a word, so the byte glues onto "cd".
  EXPECT_EQ(as_strings(pretokenize("ab\xff" "cd", SplitPattern::gpt4)), (V{"ab", "\xff" "cd"}));
  // A truncated sequence: "\xe4\xbd" (the start of 你) is two invalid bytes; "好" after it is a letter.
  EXPECT_EQ(as_strings(pretokenize("\xe4\xbd\xe5\xa5\xbd", SplitPattern::gpt2)), (V{"\xe4\xbd", "\xe5\xa5\xbd"}));
  // Overlong and surrogate encodings are invalid too (each byte on its own).
  EXPECT_EQ(as_strings(pretokenize("\xc0\xa0x\xed\xa0\x80", SplitPattern::gpt2)), (V{"\xc0\xa0", "x", "\xed\xa0\x80"}));
}

TEST(Pretokenize, ChunksConcatenateToRandomBytes) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text(rng() % 64, '\0');
    for (char& ch : text) ch = static_cast<char>(rng());
    for (SplitPattern p : {SplitPattern::gpt2, SplitPattern::gpt4}) {
      const auto chunks = pretokenize(text, p);
      ASSERT_EQ(join(chunks), text);
      for (auto c : chunks) ASSERT_FALSE(c.empty());
    }
  }
}

TEST(Pretokenize, PatternNames) {
  EXPECT_EQ(parse_split_pattern("gpt2"), SplitPattern::gpt2);
  EXPECT_EQ(parse_split_pattern("gpt4"), SplitPattern::gpt4);
  EXPECT_EQ(split_pattern_name(SplitPattern::gpt4), "gpt4");
  try {
    parse_split_pattern("cl100k");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cl100k"), std::string::npos) << e.what();
  }
}

// Bytes as a C string literal would show them, for failure messages.
std::string escaped(std::string_view s) {
  std::ostringstream out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') out << c;
    else out << "\\x" << std::hex << (c >> 4) << (c & 15) << std::dec;
  }
  return out.str();
}

// Random text from pieces that stress whitespace, newlines, letters, digits and bytes.
std::string random_text(std::mt19937& rng, size_t pieces) {
  static const std::vector<std::string> kPieces = {
      "a", "Z", "word", "1", "42", " ", " ", "  ", "\n", "\n", "\r\n", "\t", "'", "'s", "'LL", ".", ",", "!",
      "\xc3\xa9", "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\xa8", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xff",
      "\xcc\x81", "\xe2\x80\x83", "\xc2\x85"};
  std::string s;
  for (size_t i = 0; i < pieces; ++i) s += kPieces[rng() % kPieces.size()];
  return s;
}

TEST(Pretokenize, SafeSplitPointsNeverChangeTheChunks) {
  std::mt19937 rng(11);
  size_t checked = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    const std::string text = random_text(rng, 60);
    for (size_t pos = 1; pos < text.size(); ++pos) {
      if (!is_safe_split_point(text, pos)) continue;
      ++checked;
      const std::string_view v(text);
      for (SplitPattern p : {SplitPattern::gpt2, SplitPattern::gpt4}) {
        auto halves = pretokenize(v.substr(0, pos), p);
        const auto rest = pretokenize(v.substr(pos), p);
        halves.insert(halves.end(), rest.begin(), rest.end());
        ASSERT_EQ(as_strings(halves), as_strings(pretokenize(v, p)))
            << "cut at " << pos << " of " << escaped(text);
      }
    }
  }
  EXPECT_GT(checked, 1500u);
}

TEST(Pretokenize, NewlineBeforeNonSpaceIsNotEnoughForGpt2) {
  // Why a safe split point also needs a non-space before the '\n': in GPT-2 "\s+(?!\S)" gives the
  // whole run at the end of a piece, but all but the last character inside the text.
  using V = std::vector<std::string>;
  EXPECT_EQ(as_strings(pretokenize("a\n\nb", SplitPattern::gpt2)), (V{"a", "\n", "\n", "b"}));
  EXPECT_EQ(as_strings(pretokenize("a\n\n", SplitPattern::gpt2)), (V{"a", "\n\n"}));
  EXPECT_FALSE(is_safe_split_point("a\n\nb", 3));
  EXPECT_FALSE(is_safe_split_point("a \nb", 3));
  EXPECT_FALSE(is_safe_split_point("a\xc2\xa0\nb", 4));  // NBSP before the newline
  EXPECT_FALSE(is_safe_split_point("a\n b", 2));         // a space after it
  EXPECT_TRUE(is_safe_split_point("a\nb", 2));
  EXPECT_TRUE(is_safe_split_point("\xe4\xb8\xad\n\xe4\xb8\xad", 4));  // CJK around it
  EXPECT_TRUE(is_safe_split_point("\xff\nb", 2));                     // an invalid byte is not a space
  // cl100k alone would allow the cut after "\n\n" ("\s*[\r\n]" ends at the last newline either way).
  EXPECT_EQ(as_strings(pretokenize("a\n\nb", SplitPattern::gpt4)), (V{"a", "\n\n", "b"}));
}

}  // namespace
}  // namespace sog
