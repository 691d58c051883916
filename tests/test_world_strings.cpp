// String tasks: answers, prompts, worked solutions, and the built-in word lists.
#include <gtest/gtest.h>

#include <set>

#include "common/world/grader.h"
#include "common/world/strings.h"

using namespace sog;

TEST(WorldStrings, Answers) {
  EXPECT_EQ(string_answer({TaskKind::reverse, "apple", 0}), "elppa");
  EXPECT_EQ(string_answer({TaskKind::count, "apple", 'p'}), "2");
  EXPECT_EQ(string_answer({TaskKind::count, "apple", 'z'}), "0");
  EXPECT_EQ(string_answer({TaskKind::sort, "apple", 0}), "aelpp");
  EXPECT_EQ(string_answer({TaskKind::palindrome, "level", 0}), "yes");
  EXPECT_EQ(string_answer({TaskKind::palindrome, "apple", 0}), "no");
  EXPECT_EQ(string_answer({TaskKind::first, "apple", 0}), "a");
  EXPECT_EQ(string_answer({TaskKind::last, "apple", 0}), "e");
  EXPECT_THROW(string_answer({TaskKind::add, "apple", 0}), std::invalid_argument);
  EXPECT_THROW(string_answer({TaskKind::reverse, "", 0}), std::invalid_argument);
  EXPECT_THROW(string_answer({TaskKind::count, "apple", 'P'}), std::invalid_argument);
}

TEST(WorldStrings, Prompts) {
  EXPECT_EQ(string_task({TaskKind::reverse, "apple", 0}).prompt, "Reverse the word 'apple'.");
  EXPECT_EQ(string_task({TaskKind::count, "apple", 'p'}).prompt, "How many times does the letter 'p' appear in 'apple'?");
  EXPECT_EQ(string_task({TaskKind::palindrome, "level", 0}).prompt, "Is 'level' a palindrome?");
  EXPECT_EQ(string_task({TaskKind::last, "apple", 0}, AnswerFormat::worked).prompt,
            "What is the last letter of 'apple'? Think step by step.");
}

TEST(WorldStrings, WorkedSolutions) {
  EXPECT_EQ(string_worked_solution({TaskKind::reverse, "apple", 0}), "Letters: a p p l e\nReversed: e l p p a\nAnswer: elppa");
  EXPECT_EQ(string_worked_solution({TaskKind::count, "apple", 'p'}), "Letters: a p p l e\np is at positions 2, 3\nAnswer: 2");
  EXPECT_EQ(string_worked_solution({TaskKind::count, "apple", 'a'}), "Letters: a p p l e\na is at position 1\nAnswer: 1");
  EXPECT_EQ(string_worked_solution({TaskKind::palindrome, "level", 0}),
            "Letters: l e v e l\nReversed: l e v e l\nSame: yes\nAnswer: yes");
  // every task on every word: the worked solution is graded correct and well-formed
  Rng rng(2);
  for (auto list : {common_words(), palindrome_words()})
    for (std::string_view w : list)
      for (TaskKind k : {TaskKind::reverse, TaskKind::count, TaskKind::sort, TaskKind::palindrome, TaskKind::first, TaskKind::last}) {
        StringProblem p{k, std::string(w), k == TaskKind::count ? random_count_letter(w, rng) : char(0)};
        std::string s = string_worked_solution(p);
        ASSERT_TRUE(is_correct(s, string_answer(p))) << s;
        ASSERT_TRUE(is_well_formed(s, AnswerFormat::worked)) << s;
      }
}

TEST(WorldStrings, WordLists) {
  std::set<std::string_view> seen;
  EXPECT_GE(common_words().size(), 300u);
  EXPECT_GE(palindrome_words().size(), 40u);
  for (auto list : {common_words(), palindrome_words()})
    for (std::string_view w : list) {
      EXPECT_TRUE(seen.insert(w).second) << "duplicate " << w;
      EXPECT_GE(w.size(), 3u) << w;
      EXPECT_LE(w.size(), 7u) << w;
      for (char c : w) EXPECT_TRUE(c >= 'a' && c <= 'z') << w;
    }
  for (std::string_view w : common_words()) EXPECT_FALSE(is_palindrome(w)) << w;
  for (std::string_view w : palindrome_words()) EXPECT_TRUE(is_palindrome(w)) << w;
}

TEST(WorldStrings, CountLetterIsMostlyFromTheWord) {
  Rng rng(9);
  int inside = 0;
  for (int i = 0; i < 4000; i++) {
    char c = random_count_letter("apple", rng);
    ASSERT_TRUE(c >= 'a' && c <= 'z');
    inside += std::string_view("apple").find(c) != std::string_view::npos;
  }
  EXPECT_GT(inside, 3000);  // 3/4 from the word + some lucky draws of the rest
  EXPECT_LT(inside, 3600);
}
