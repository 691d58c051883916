// The constraint task (common/world/constraint.h), the grader's rule for it, and the self-check
// conversations the world adds to the SFT data (task.h's self_check_prompt).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/eval/evaluator.h"
#include "common/world/arithmetic.h"
#include "common/world/constraint.h"
#include "common/world/grader.h"
#include "common/world/strings.h"
#include "common/world/world.h"

using namespace sog;

namespace {

std::vector<std::string> all_words() {
  std::vector<std::string> out;
  for (auto list : {common_words(), palindrome_words()})
    for (std::string_view w : list) out.emplace_back(w);
  return out;
}

}  // namespace

TEST(WorldConstraint, PromptAndItsInverse) {
  EXPECT_EQ(constraint_prompt({5, 'e'}), "Write five different words without the letter 'e'.");
  EXPECT_EQ(constraint_prompt({3, 'a'}), "Write three different words without the letter 'a'.");
  for (const ConstraintProblem& p : constraint_requests()) {
    const auto back = parse_constraint_prompt(constraint_prompt(p));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->count, p.count);
    EXPECT_EQ(back->letter, p.letter);
  }
  EXPECT_EQ(constraint_requests().size(), kConstraintLetters.size() * 3);
  EXPECT_FALSE(parse_constraint_prompt("Write five words without the letter 'e'."));
  EXPECT_FALSE(parse_constraint_prompt("What is 2 + 3?"));
  EXPECT_THROW(constraint_prompt({0, 'e'}), std::invalid_argument);
  EXPECT_THROW(constraint_prompt({5, 'E'}), std::invalid_argument);
}

TEST(WorldConstraint, TheRuleIsCheckedExactly) {
  const ConstraintProblem five_e{5, 'e'};
  EXPECT_EQ(constraint_violation("chair, truck, salad, bacon, pizza", five_e), std::nullopt);
  EXPECT_EQ(constraint_violation("chair,truck , salad,bacon,  pizza", five_e), std::nullopt) << "spaces around commas";
  EXPECT_EQ(constraint_violation("chair, truck, salad, honey, pizza", five_e), "'honey' has the letter 'e'");
  EXPECT_EQ(constraint_violation("chair, truck, salad, bacon", five_e), "4 words, expected 5");
  EXPECT_EQ(constraint_violation("chair", five_e), "1 word, expected 5");
  EXPECT_EQ(constraint_violation("chair, truck, salad, bacon, xylo", five_e), "'xylo' is not a word of the world's list");
  EXPECT_EQ(constraint_violation("Chair, truck, salad, bacon, pizza", five_e), "'Chair' is not a word of the world's list");
  EXPECT_EQ(constraint_violation("chair, truck, salad, chair, pizza", five_e), "'chair' is written twice");
  EXPECT_EQ(constraint_violation("chair truck salad bacon pizza", five_e), "1 word, expected 5") << "commas separate";

  // The grader applies the rule to the extracted answer; the gold answer is only an example.
  const Task t{constraint_prompt(five_e), "chair, truck, salad, bacon, pizza", TaskKind::avoid, AnswerFormat::direct};
  EXPECT_TRUE(grade(t, " mango, truck, salad, bacon, pizza.<|end|>").correct);
  EXPECT_FALSE(grade(t, " mango, truck, salad, honey, pizza<|end|>").correct);
  EXPECT_FALSE(grade(t, "").correct);
  EXPECT_TRUE(answer_matches(t, "pizza, bacon, salad, truck, chair"));
  // A question row of task "avoid" is graded by the rule; any other task name exactly.
  EXPECT_TRUE(answer_right({t.prompt, t.answer, "avoid"}, std::string("pizza, bacon, salad, truck, chair")));
  EXPECT_FALSE(answer_right({t.prompt, t.answer, "my_task"}, std::string("pizza, bacon, salad, truck, chair")));
  EXPECT_TRUE(answer_right({"Q?", "x y", "my_task"}, std::string("x y")));
  EXPECT_FALSE(answer_right({t.prompt, t.answer, "avoid"}, std::nullopt));
}

TEST(WorldConstraint, RightAndBrokenAnswers) {
  const std::vector<std::string> words = all_words();
  Rng rng(5);
  std::map<std::string, int> kinds;  // the first word of each violation: the mix of mistakes
  for (int i = 0; i < 2000; i++) {
    const ConstraintProblem p = random_constraint_problem(rng);
    EXPECT_GE(p.count, kConstraintMinWords);
    EXPECT_LE(p.count, kConstraintMaxWords);
    const std::string right = constraint_answer(p, words, rng);
    EXPECT_EQ(constraint_violation(right, p), std::nullopt) << right;
    const std::string broken = broken_constraint_answer(p, words, rng);
    const auto why = constraint_violation(broken, p);
    ASSERT_TRUE(why) << broken;
    kinds[why->find("has the letter") != std::string::npos ? "letter"
          : why->find("twice") != std::string::npos      ? "twice"
                                                          : "count"]++;
  }
  EXPECT_GT(kinds["letter"], 800);  // half of the broken answers
  EXPECT_GT(kinds["twice"], 200);
  EXPECT_GT(kinds["count"], 400);
  EXPECT_THROW(constraint_answer({5, 'e'}, std::vector<std::string>{"apple", "chair"}, rng), std::runtime_error);
}

TEST(WorldConstraint, ChanceIsTheShareOfListsThatAvoidTheLetter) {
  // C(k, n) / C(W, n): with n = 1 it is the share of words without the letter.
  const std::vector<std::string> words = all_words();
  int lacking = 0;
  for (const auto& w : words) lacking += w.find('e') == std::string::npos;
  EXPECT_NEAR(constraint_chance({1, 'e'}), double(lacking) / words.size(), 1e-12);
  EXPECT_NEAR(constraint_chance({2, 'e'}), double(lacking) * (lacking - 1) / (words.size() * (words.size() - 1.0)), 1e-12);
  EXPECT_LT(constraint_chance({5, 'e'}), constraint_chance({3, 'e'}));
  const double W = words.size(), k = W - 3;  // quilt, quiet and quick are the list's words with a q
  EXPECT_NEAR(constraint_chance({3, 'q'}), k * (k - 1) * (k - 2) / (W * (W - 1) * (W - 2)), 1e-12);
}

// Every self-check verdict of the SFT data is the grader's verdict on the proposed answer (the
// constraint by its rule, arithmetic by computing it), and yes and no come at even odds.
TEST(WorldConstraint, SelfCheckVerdictsAreTheGradersAndBalanced) {
  const World w = generate_world(WorldConfig{});
  int checks = 0, yes = 0, constraint_checks = 0, arithmetic_checks = 0, constraint_requests_seen = 0;
  for (const Conversation& c : w.sft_train) {
    if (c.kind == TaskKind::avoid && !c.self_check) {
      constraint_requests_seen++;
      EXPECT_EQ(constraint_violation(c.assistant, *parse_constraint_prompt(c.user)), std::nullopt) << c.assistant;
    }
    if (!c.self_check) continue;
    checks++;
    ASSERT_TRUE(c.assistant == kCheckYes || c.assistant == kCheckNo) << c.assistant;
    yes += c.assistant == kCheckYes;
    const std::string head = "Question: ", mid = "\nProposed answer: ", tail = "\nIs the proposed answer correct?";
    ASSERT_TRUE(c.user.starts_with(head) && c.user.ends_with(tail)) << c.user;
    const size_t m = c.user.find(mid);
    ASSERT_NE(m, std::string::npos);
    const std::string question = c.user.substr(head.size(), m - head.size());
    const std::string proposed = c.user.substr(m + mid.size(), c.user.size() - tail.size() - m - mid.size());
    EXPECT_EQ(self_check_prompt(question, proposed), c.user);
    if (c.kind == TaskKind::avoid) {
      constraint_checks++;
      const Task t{question, "", TaskKind::avoid, AnswerFormat::direct};
      EXPECT_EQ(answer_matches(t, proposed), c.assistant == kCheckYes) << c.user;
    } else if (is_arithmetic_task(c.kind)) {
      arithmetic_checks++;
      long long a = 0, b = 0;
      char op = 0;
      ASSERT_EQ(std::sscanf(question.c_str(), "What is %lld %c %lld?", &a, &op, &b), 3) << question;
      const long long gold = op == '+' ? a + b : op == '-' ? a - b : a * b;
      EXPECT_EQ(proposed == std::to_string(gold), c.assistant == kCheckYes) << c.user;
    }
  }
  EXPECT_EQ(checks, WorldConfig{}.sft_self_check);
  EXPECT_EQ(constraint_requests_seen, WorldConfig{}.sft_constraint);
  EXPECT_NEAR(double(yes) / checks, 0.5, 0.07);
  EXPECT_GT(constraint_checks, 60);   // 3 in 10
  EXPECT_GT(arithmetic_checks, 60);   // 3 in 10
  // The held-out constraint requests: every (letter, count) once, each gold answer meets its rule.
  ASSERT_EQ(w.eval_constraint.size(), constraint_requests().size());
  std::set<std::string> prompts;
  for (const EvalQuestion& q : w.eval_constraint) {
    prompts.insert(q.task.prompt);
    EXPECT_TRUE(answer_matches(q.task, q.task.answer)) << q.task.answer;
  }
  EXPECT_EQ(prompts.size(), w.eval_constraint.size());
}
