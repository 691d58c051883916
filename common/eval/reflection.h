// Reflection (the talk: models "don't know when they're wrong" unless asked; "you can get them to
// check"): after an answer, the assistant is shown the question and its own answer and asked
// whether it is right (the world's self_check_prompt, common/world/task.h):
//
//   <|user|> Question: What is 47 + 38?\nProposed answer: 75\nIs the proposed answer correct?<|end|>
//   <|assistant|>  → " yes" or " no"
//
// Its belief is P(yes) = p(" yes") / (p(" yes") + p(" no")), the two replies the SFT data taught.
// A "no" (P(yes) < 0.5) sends it back for another attempt — a fresh sample of the same question —
// up to R tries. The kept answer is the first one it accepts; if it accepts none, the one it
// believes most.
//
// Two measures: (a) how well its verdicts agree with the grader (agreement, and the AUC of P(yes)
// for telling right answers from wrong ones); (b) accuracy after up to R tries, against the same
// attempts kept by a perfect checker (the grader itself: right when any of the first R is right),
// which is what retrying could give at best.
//
// Everything here works on attempts already graded and checked, so the tests drive it with
// hand-made numbers; chapter 06 samples the attempts and scores the verdicts with the model.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sog {

struct Attempt {
  bool correct = false;  // the grader's verdict on this attempt
  double p_yes = 0.5;    // the model's belief that it is right
  int64_t tokens = 0;    // tokens generated for the attempt (its verdict not included)
};

struct QuestionAttempts {
  std::string task;
  std::vector<Attempt> tries;  // in the order they were made, at least one
};

inline constexpr double kAcceptAbove = 0.5;  // P(yes) ≥ this: the model says yes

// The attempt kept after at most `tries` attempts, and how many were made (each checked).
struct Kept {
  size_t index = 0;
  int made = 1;
};
// Throws std::invalid_argument when tries < 1 or the question has fewer attempts than tries.
Kept kept_attempt(const std::vector<Attempt>& attempts, int tries);

// P(yes) from the log-probabilities of the two replies.
double yes_probability(double logp_yes, double logp_no);

// The area under the ROC curve of `scores` for telling positives from negatives: the probability
// that a random positive scores above a random negative, ties counting one half (Mann–Whitney).
// NaN when either class is empty.
double roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive);

// (a) over every attempt: {"n", "agreement", "auc", "yes_rate", "right_rate", "accepted_right" (the
// share of right answers among those it accepts), "rejected_wrong" (the share of wrong answers it
// rejects), "per_task": {task: {"n", "agreement", "auc"}}}
nlohmann::json check_quality(const std::vector<QuestionAttempts>& questions);

// (b) for R = 1 … max_tries: [{"tries", "accuracy", "accuracy_interval", "n", "per_task",
// "tokens_per_question" (attempts made + one token per verdict), "tries_per_question",
// "oracle_accuracy" (the grader as the checker), "oracle_tokens_per_question"}]. R = 1 is one
// attempt, checked but never retried: its accuracy is the first attempt's.
nlohmann::json retry_curve(const std::vector<QuestionAttempts>& questions, int max_tries);

}  // namespace sog
