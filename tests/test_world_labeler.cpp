// The labeler's ranking rules, each in isolation, the deterministic tie-break, and the pairs.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/world/labeler.h"

using namespace sog;

namespace {
const Task kDirect{"How old is Catherine?", "54", TaskKind::age, AnswerFormat::direct};
const Task kWorked{"What is 3 + 4? Think step by step.", "7", TaskKind::add, AnswerFormat::worked};

std::vector<std::string> ranked(const Task& t, const std::vector<std::string>& c) {
  std::vector<std::string> out;
  for (size_t i : rank_completions(t, c)) out.push_back(c[i]);
  return out;
}
}  // namespace

TEST(WorldLabeler, CorrectBeforeWrong) {
  // Both well-formed; the wrong one is shorter, so only rule 1 can put the correct one first.
  std::vector<std::string> c = {"5", "54"};
  EXPECT_EQ(ranked(kDirect, c), (std::vector<std::string>{"54", "5"}));
  // Even a malformed correct answer beats a well-formed wrong one.
  c = {"ones: 3 + 4 = 8, write 8\nAnswer: 8", "7"};
  EXPECT_EQ(ranked(kWorked, c)[0], "7");
}

TEST(WorldLabeler, WellFormedBeforeMalformed) {
  // Both correct; the malformed one is shorter, so only rule 2 can put the well-formed first.
  const std::string good = "ones: 3 + 4 = 7, write 7\nAnswer: 7";
  std::vector<std::string> c = {"Answer: 7", good};
  EXPECT_EQ(ranked(kWorked, c), (std::vector<std::string>{good, "Answer: 7"}));
  c = {"Answer: 54", "54"};  // direct: the bare answer is the format
  EXPECT_EQ(ranked(kDirect, c), (std::vector<std::string>{"54", "Answer: 54"}));
  // Both wrong: format still orders them.
  c = {"Answer: 5", "55"};
  EXPECT_EQ(ranked(kDirect, c), (std::vector<std::string>{"55", "Answer: 5"}));
}

TEST(WorldLabeler, ShorterBeforeLonger) {
  // Both correct and well-formed; only length differs.
  const std::string shorter = "ones: 3 + 4 = 7, write 7\nAnswer: 7";
  const std::string longer = "3 + 4\nones: 3 + 4 = 7, write 7\nAnswer: 7";
  EXPECT_EQ(ranked(kWorked, {longer, shorter}), (std::vector<std::string>{shorter, longer}));
}

TEST(WorldLabeler, LexicographicTieBreak) {
  // Same correctness, format and length: lexicographic order, whatever the input order.
  std::vector<std::string> a = {"56", "55", "53"}, b = {"53", "56", "55"};
  EXPECT_EQ(ranked(kDirect, a), (std::vector<std::string>{"53", "55", "56"}));
  EXPECT_EQ(ranked(kDirect, b), ranked(kDirect, a));
  // and tied completions are never turned into a preference
  EXPECT_TRUE(preference_pairs(kDirect, a).empty());
}

TEST(WorldLabeler, PairsFollowTheRanking) {
  std::vector<std::string> c = {"Answer: 54", "54 or 55", "54", "54"};
  auto pairs = preference_pairs(kDirect, c);
  // Ranking: "54", "54", "Answer: 54" (correct, malformed), "54 or 55" (wrong). The two "54" are
  // not compared with each other; each is compared with the two below it.
  for (const auto& p : pairs) {
    EXPECT_EQ(p.prompt, kDirect.prompt);
    EXPECT_NE(p.chosen, p.rejected);
    auto pos = [&](const std::string& s) {
      auto r = ranked(kDirect, c);
      return std::find(r.begin(), r.end(), s) - r.begin();
    };
    EXPECT_LT(pos(p.chosen), pos(p.rejected));
  }
  // 2 × 2 pairs for the two "54", plus "Answer: 54" over "54 or 55".
  EXPECT_EQ(pairs.size(), 5u);
  // The widest gap comes first, and the cap keeps the first ones.
  EXPECT_EQ(pairs[0].chosen, "54");
  EXPECT_EQ(pairs[0].rejected, "54 or 55");
  EXPECT_EQ(preference_pairs(kDirect, c, 2).size(), 2u);
}

TEST(WorldLabeler, EmptyAndSingleInputs) {
  EXPECT_TRUE(rank_completions(kDirect, {}).empty());
  EXPECT_EQ(rank_completions(kDirect, {"x"}), (std::vector<size_t>{0}));
  EXPECT_TRUE(preference_pairs(kDirect, {"54"}).empty());
}
