// The evaluator's table, as JSON and as Markdown, and the two statistics it needs.
//
// Wilson score interval (95%, z = 1.96) for c correct of n, p = c/n:
//
//   centre = (p + z²/2n) / (1 + z²/n)      half-width = z/(1 + z²/n) · √(p(1−p)/n + z²/4n²)
//
// Unlike p ± z√(p(1−p)/n) it stays inside [0, 1] and is not of width 0 at 0/n or n/n: 0 of 20
// right gives [0, 0.161], not [0, 0]. n = 0 gives [0, 1].
//
// Majority vote (self-consistency): the extracted answer given most often among the N samples;
// samples without an answer do not vote; a tie goes to the answer sampled first.
//
// JSON (nlohmann's, keys sorted), one object:
//   "mode", "shots", "seed", "max_new_tokens", "max_per_task", "samples", "temperature", "top_k",
//   "top_p", "system", "chain_of_thought", "tools"              the settings
//   "total", "correct", "well_formed", "accuracy", "well_formed_rate", "accuracy_interval": [lo, hi],
//   "chance" (when every task has one)                           all questions, first sample
//   "vote_correct", "vote_accuracy", "vote_interval"            N > 1 only: the majority vote
//   "tasks": [{"task", the same counts and rates, "chance" (when known)}]   sorted by task
//   "examples", "failures": the first examples_kept right / wrong questions (first sample), each
//       {"task", "prompt", "answer", "completion", "well_formed", "page"}
//   "questions": [{"task", "prompt", "answer", "completions": [N], "answers": [N extracted, null
//       when none], "correct": [N], "well_formed": [N], and with N > 1 "vote", "vote_correct"}]
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/eval/evaluator.h"

namespace sog {

struct Interval {
  double low = 0, high = 1;
};
Interval wilson_interval(int correct, int total, double z = 1.96);

std::optional<std::string> majority_vote(const std::vector<std::optional<std::string>>& answers);

nlohmann::json report_json(const EvalReport& report);

// A line naming the settings ("mode qa-fewshot, 3-shot, greedy, at most 16 new tokens"), then the
// table: task | questions | chance | accuracy | 95% interval | well-formed [| majority of N | 95%
// interval], percentages; the chance column only when chance levels were given.
std::string report_markdown(const EvalReport& report);

}  // namespace sog
