// The constraint task, in the spirit of the talk's "write a poem that does not rhyme": a request
// with many right answers and one exact rule, so an answer can be checked but not looked up.
//
//   Write five different words without the letter 'e'.   → chair, truck, salad, bacon, stool
//
// The rule, checked exactly (constraint_violation): the answer is a comma-separated list of
// exactly `count` words, each a word of the world's list (strings.h: common words and palindromes),
// no word twice, and no word containing `letter`. "chair, truck, salad, honey, stool" breaks it
// (honey has an e), so do four words, "Chair" and "chair, chair, …".
//
// The SFT data holds a share of these requests (WorldConfig::sft_constraint), answered with
// training-split words; eval_constraint.jsonl asks every (letter, count) of the world once.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/tensor/random.h"
#include "common/world/task.h"

namespace sog {

struct ConstraintProblem {
  int count = 5;     // how many words
  char letter = 'e';  // the letter none of them may contain
};

// The letters and counts the world asks about.
inline constexpr std::string_view kConstraintLetters = "aeioulnrstdhcmp";
inline constexpr int kConstraintMinWords = 3, kConstraintMaxWords = 5;

ConstraintProblem random_constraint_problem(Rng& rng);
// Every request the world makes: each letter of kConstraintLetters with each count, letter-major.
std::vector<ConstraintProblem> constraint_requests();
// "Write five different words without the letter 'e'." (counts 1 … 9 are written as words)
std::string constraint_prompt(const ConstraintProblem& p);
// The inverse, for the grader (which sees only the prompt): nullopt when it is not such a request.
std::optional<ConstraintProblem> parse_constraint_prompt(std::string_view prompt);
// Why `answer` breaks the rule, or nullopt when it meets it:
//   "4 words, expected 5", "'honey' has the letter 'e'", "'xyz' is not a word of the world's list",
//   "'chair' is written twice"
std::optional<std::string> constraint_violation(std::string_view answer, const ConstraintProblem& p);
// A right answer drawn from `words`; std::runtime_error when fewer than count of them lack the letter.
std::string constraint_answer(const ConstraintProblem& p, std::span<const std::string> words, Rng& rng);
// A wrong answer of the kind a model writes: one word with the letter (half the time), one word
// too few or too many, or a word written twice.
std::string broken_constraint_answer(const ConstraintProblem& p, std::span<const std::string> words, Rng& rng);
// {prompt, a right answer, avoid, direct}
Task constraint_task(const ConstraintProblem& p, std::span<const std::string> words, Rng& rng);
// The probability that `count` different words drawn uniformly from the world's list all lack the
// letter: C(k, count) / C(W, count), k of the W words lacking it.
double constraint_chance(const ConstraintProblem& p);

}  // namespace sog
