// Arithmetic: answers, the exact text of worked solutions, experts always right, students wrong
// at about the set rate, and the operand-pair scanner the splits rely on.
#include <gtest/gtest.h>

#include "common/world/arithmetic.h"
#include "common/world/grader.h"

using namespace sog;

TEST(WorldArithmetic, AnswersAndPrompts) {
  EXPECT_EQ(arith_answer({TaskKind::add, 478, 56}), 534);
  EXPECT_EQ(arith_answer({TaskKind::sub, 503, 76}), 427);
  EXPECT_EQ(arith_answer({TaskKind::mul, 478, 56}), 26768);
  Task t = arith_task({TaskKind::mul, 12, 3});
  EXPECT_EQ(t.prompt, "What is 12 * 3?");
  EXPECT_EQ(t.answer, "36");
  EXPECT_EQ(arith_task({TaskKind::add, 1, 2}, AnswerFormat::worked).prompt, "What is 1 + 2? Think step by step.");
  EXPECT_THROW(arith_answer({TaskKind::age, 1, 2}), std::invalid_argument);
}

TEST(WorldArithmetic, ExpertAdditionText) {
  Rng rng(1);
  WorkedSolution s = worked_solution({TaskKind::add, 478, 56}, Solver::expert, 0.0, rng);
  EXPECT_EQ(s.text,
            "Expert solution:\n478 + 56\n"
            "ones: 8 + 6 = 14, write 4, carry 1\n"
            "tens: 7 + 5 + 1 = 13, write 3, carry 1\n"
            "hundreds: 4 + 1 = 5, write 5\n"
            "Answer: 534");
  EXPECT_EQ(s.final_answer, 534);
  EXPECT_FALSE(s.slipped);
  EXPECT_EQ(solution_body(s).substr(0, 9), "478 + 56\n");
}

TEST(WorldArithmetic, ExpertSubtractionAndMultiplicationText) {
  Rng rng(1);
  EXPECT_EQ(worked_solution({TaskKind::sub, 503, 76}, Solver::expert, 0.0, rng).text,
            "Expert solution:\n503 - 76\n"
            "ones: 3 - 6 needs a borrow, 13 - 6 = 7, write 7, borrow 1\n"
            "tens: 0 - 7 - 1 needs a borrow, 10 - 7 - 1 = 2, write 2, borrow 1\n"
            "hundreds: 5 - 1 = 4, write 4\n"
            "Answer: 427");
  EXPECT_EQ(worked_solution({TaskKind::mul, 478, 56}, Solver::expert, 0.0, rng).text,
            "Expert solution:\n478 * 56\n"
            "478 * 6 = 2868\n"
            "478 * 50 = 23900\n"
            "sum: 2868 + 23900 = 26768\n"
            "Answer: 26768");
  // a final carry gets its own column
  EXPECT_NE(worked_solution({TaskKind::add, 95, 7}, Solver::expert, 0.0, rng).text.find("hundreds: 1, write 1\nAnswer: 102"),
            std::string::npos);
}

TEST(WorldArithmetic, ExpertsAreAlwaysRight) {
  Rng rng(7);
  for (int i = 0; i < 3000; i++) {
    ArithProblem p = random_arith_problem(3, rng);
    WorkedSolution s = worked_solution(p, Solver::expert, 0.9, rng);  // the rate is for students
    Task t = arith_task(p, AnswerFormat::worked);
    EXPECT_TRUE(is_correct(s.text, t.answer)) << s.text;
    EXPECT_TRUE(is_well_formed(solution_body(s), AnswerFormat::worked)) << s.text;
    ASSERT_FALSE(s.slipped);
  }
}

TEST(WorldArithmetic, StudentsSlipAtTheSetRate) {
  for (double rate : {0.0, 0.3, 1.0}) {
    Rng rng(11);
    int wrong = 0;
    const int n = 4000;
    for (int i = 0; i < n; i++) {
      ArithProblem p = random_arith_problem(3, rng);
      WorkedSolution s = worked_solution(p, Solver::student, rate, rng);
      bool correct = is_correct(s.text, std::to_string(arith_answer(p)));
      EXPECT_EQ(correct, !s.slipped) << s.text;  // a slip always shows in the final answer
      EXPECT_TRUE(s.text.starts_with("Student solution:\n"));
      EXPECT_TRUE(is_well_formed(solution_body(s), AnswerFormat::worked)) << s.text;
      wrong += !correct;
    }
    if (rate == 0.0 || rate == 1.0) {
      EXPECT_EQ(wrong, rate == 0.0 ? 0 : n) << "rate " << rate << ": never or always, exactly";
    } else {
      EXPECT_NEAR(static_cast<double>(wrong) / n, rate, 0.03) << "rate " << rate;  // ±4 standard deviations
    }
  }
}

TEST(WorldArithmetic, StudentSlipsAreOfBothKinds) {
  // Over many slipped additions some drop a carry ("= 14, write 4" with no carry) and some write
  // a wrong digit ("= 13, write 5").
  Rng rng(3);
  int dropped = 0, wrong_digit = 0;
  for (int i = 0; i < 500; i++) {
    WorkedSolution s = worked_solution({TaskKind::add, 478, 56}, Solver::student, 1.0, rng);
    ASSERT_TRUE(s.slipped);
    if (s.text.find("= 14, write 4\n") != std::string::npos || s.text.find("= 13, write 3\n") != std::string::npos) dropped++;
    else wrong_digit++;
  }
  EXPECT_GT(dropped, 50);
  EXPECT_GT(wrong_digit, 50);
}

TEST(WorldArithmetic, DroppedBorrowAsInTheReadme) {
  // The README's student example: 503 - 76 with the tens borrow dropped ends "Answer: 527".
  Rng rng(4);
  bool found = false;
  for (int i = 0; i < 500 && !found; i++) {
    WorkedSolution s = worked_solution({TaskKind::sub, 503, 76}, Solver::student, 1.0, rng);
    found = s.text ==
            "Student solution:\n503 - 76\n"
            "ones: 3 - 6 needs a borrow, 13 - 6 = 7, write 7, borrow 1\n"
            "tens: 0 - 7 - 1 needs a borrow, 10 - 7 - 1 = 2, write 2\n"
            "hundreds: 5, write 5\n"
            "Answer: 527";
  }
  EXPECT_TRUE(found);
}

TEST(WorldArithmetic, RandomOperands) {
  Rng rng(5);
  bool one_digit = false, three_digits = false;
  for (int i = 0; i < 2000; i++) {
    int64_t x = random_operand(3, rng);
    ASSERT_GE(x, 0);
    ASSERT_LE(x, 999);
    one_digit |= x < 10;
    three_digits |= x >= 100;
    ArithProblem p = random_arith_problem(TaskKind::sub, 3, rng);
    ASSERT_GE(p.a, p.b);
  }
  EXPECT_TRUE(one_digit && three_digits);
  EXPECT_THROW(random_operand(0, rng), std::invalid_argument);
}

TEST(WorldArithmetic, OperandPairsInText) {
  using Pairs = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(operand_pairs_in_text("tens: 7 + 5 + 1 = 13"), (Pairs{{5, 7}, {1, 5}}));
  EXPECT_EQ(operand_pairs_in_text("What is 478 * 56?"), (Pairs{{56, 478}}));
  EXPECT_EQ(operand_pairs_in_text("calc(478*56)"), (Pairs{{56, 478}}));
  EXPECT_EQ(operand_pairs_in_text("13 - 6 = 7"), (Pairs{{6, 13}}));
  EXPECT_TRUE(operand_pairs_in_text("a 54-year-old baker").empty());
  EXPECT_TRUE(operand_pairs_in_text("Answer: 534").empty());
  EXPECT_TRUE(operand_pairs_in_text("").empty());
}
