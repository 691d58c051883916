// The grader's extraction rule and well-formedness checks on hand-written completions:
// well-formed, malformed, empty, overlong and adversarial ones.
#include <gtest/gtest.h>

#include "common/world/grader.h"

using namespace sog;

TEST(WorldGrader, DirectAnswerIsTheFirstLine) {
  EXPECT_EQ(extract_answer("54"), "54");
  EXPECT_EQ(extract_answer("  54  "), "54");
  EXPECT_EQ(extract_answer("\n\n54\n"), "54");
  EXPECT_EQ(extract_answer("54\nQ: How old is Bob?\nA: 31"), "54");  // a base model running on
  EXPECT_EQ(extract_answer("Paris."), "Paris");                      // one trailing period dropped
  EXPECT_TRUE(is_correct("54", "54"));
  EXPECT_TRUE(is_correct("54<|end|>garbage after the end token", "54"));
  EXPECT_TRUE(is_correct("54<|endoftext|>", "54"));
}

TEST(WorldGrader, AnswerLineWins) {
  EXPECT_EQ(extract_answer("ones: 8 + 6 = 14, write 4, carry 1\nAnswer: 534"), "534");
  EXPECT_EQ(extract_answer("Answer:534"), "534");
  EXPECT_EQ(extract_answer("Answer: 534\nQ: What is 2 + 2?"), "534");  // later lines ignored
  // the same answer twice is fine
  EXPECT_EQ(extract_answer("Answer: 54\nAnswer: 54"), "54");
}

TEST(WorldGrader, AdversarialCompletionsAreWrong) {
  EXPECT_FALSE(is_correct("54 or 55", "54"));
  EXPECT_FALSE(is_correct("54 years", "54"));
  EXPECT_FALSE(is_correct("Catherine is 54 years old.", "54"));
  EXPECT_FALSE(is_correct("Answer: 54 because she told me", "54"));
  EXPECT_FALSE(is_correct("Answer: 54\nAnswer: 55", "54"));  // hedging: disagreeing answers
  EXPECT_FALSE(is_correct("Answer: 54\nAnswer: 55", "55"));
  EXPECT_EQ(extract_answer("Answer: 54\nAnswer: 55"), std::nullopt);
  EXPECT_FALSE(is_correct("540", "54"));
  EXPECT_FALSE(is_correct("paris", "Paris"));  // exact, case-sensitive
  EXPECT_FALSE(is_correct("54..", "54"));      // only one period is forgiven
}

TEST(WorldGrader, EmptyAndOverlong) {
  EXPECT_EQ(extract_answer(""), std::nullopt);
  EXPECT_EQ(extract_answer("   \n\t\n"), std::nullopt);
  EXPECT_EQ(extract_answer("Answer:"), std::nullopt);
  EXPECT_EQ(extract_answer("<|end|>54"), std::nullopt);  // nothing before the end token
  EXPECT_FALSE(is_correct("", "54"));
  std::string overlong(100000, '5');
  EXPECT_FALSE(is_correct(overlong, "54"));
  std::string rambling = "Let me think.\n";
  for (int i = 0; i < 1000; i++) rambling += "Still thinking.\n";
  EXPECT_FALSE(is_correct(rambling + "Answer: 54 or so", "54"));
  EXPECT_TRUE(is_correct(rambling + "Answer: 54", "54"));
  EXPECT_FALSE(is_well_formed(rambling + "Answer: 54\n" + rambling, AnswerFormat::worked));
}

TEST(WorldGrader, DirectFormat) {
  EXPECT_TRUE(is_well_formed("54", AnswerFormat::direct));
  EXPECT_TRUE(is_well_formed("54\n", AnswerFormat::direct));
  EXPECT_TRUE(is_well_formed("54<|end|>", AnswerFormat::direct));
  EXPECT_FALSE(is_well_formed("", AnswerFormat::direct));
  EXPECT_FALSE(is_well_formed("Answer: 54", AnswerFormat::direct));
  EXPECT_FALSE(is_well_formed("54\nI hope that helps.", AnswerFormat::direct));
  EXPECT_FALSE(is_well_formed("<|tool_call|>calc(1+1)<|tool_end|>", AnswerFormat::direct));
}

TEST(WorldGrader, WorkedFormat) {
  EXPECT_TRUE(is_well_formed("ones: 4 + 3 = 7, write 7\nAnswer: 7", AnswerFormat::worked));
  EXPECT_FALSE(is_well_formed("Answer: 7", AnswerFormat::worked));  // no steps
  EXPECT_FALSE(is_well_formed("ones: 4 + 3 = 7\nAnswer: 7\nI hope that helps.", AnswerFormat::worked));
  EXPECT_FALSE(is_well_formed("ones: 4 + 3 = 7\nAnswer: 7\nAnswer: 7", AnswerFormat::worked));
  EXPECT_FALSE(is_well_formed("ones: 4 + 3 = 7\nAnswer:", AnswerFormat::worked));
  EXPECT_FALSE(is_well_formed("ones: 4 + 3 = 7\n7", AnswerFormat::worked));
}

TEST(WorldGrader, ToolFormat) {
  const std::string good =
      "Thought: I will use the calculator.\n<|tool_call|>calc(4+3)<|tool_end|><|tool_result|>7<|tool_end|>\nAnswer: 7";
  EXPECT_TRUE(is_well_formed(good, AnswerFormat::tool));
  EXPECT_TRUE(is_correct(good, "7"));
  EXPECT_FALSE(is_well_formed(good, AnswerFormat::worked));  // tool tokens are not worked steps
  EXPECT_FALSE(is_well_formed("Thought: no tools.\nAnswer: 7", AnswerFormat::tool));
  // a call without its result, a call that does not parse, a stray result
  EXPECT_FALSE(is_well_formed("Thought: x\n<|tool_call|>calc(4+3)<|tool_end|>\nAnswer: 7", AnswerFormat::tool));
  EXPECT_FALSE(is_well_formed("Thought: x\n<|tool_call|>calc 4+3<|tool_end|><|tool_result|>7<|tool_end|>\nAnswer: 7",
                              AnswerFormat::tool));
  EXPECT_FALSE(is_well_formed(good + "\n<|tool_result|>8<|tool_end|>\nAnswer: 7", AnswerFormat::tool));
}

TEST(WorldGrader, GradeCombinesBoth) {
  Task t{"What is 3 + 4? Think step by step.", "7", TaskKind::add, AnswerFormat::worked};
  Grade g = grade(t, "ones: 3 + 4 = 7, write 7\nAnswer: 7");
  EXPECT_TRUE(g.correct);
  EXPECT_TRUE(g.well_formed);
  EXPECT_EQ(g.extracted, "7");
  g = grade(t, "7");
  EXPECT_TRUE(g.correct);
  EXPECT_FALSE(g.well_formed);
  g = grade(t, "ones: 3 + 4 = 8, write 8\nAnswer: 8");
  EXPECT_FALSE(g.correct);
  EXPECT_TRUE(g.well_formed);
}
