// The labeler: the "human" of reward modeling. It ranks any number of completions of one prompt
// and turns the ranking into preference pairs in TRL's format.
//
// Ranking rules, each only breaking ties of the ones before it:
//   1. correct before wrong                 (grader.h: extracted answer == gold)
//   2. well-formed before malformed         (grader.h: the format the task asks for)
//   3. shorter before longer                (bytes)
//   4. lexicographically smaller first      (a deterministic tie-break, not a preference)
// Pairs: (better, worse) for every two completions that differ under rules 1–3; completions
// that tie on 1–3 are not compared (rule 4 is not a preference), nor are identical strings.
//
//   {"prompt": "How old is Catherine?", "chosen": "54", "rejected": "54 or 55"}
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/world/task.h"

namespace sog {

// What rules 1–3 look at, smaller is better: two completions with equal keys tie (no pair).
struct PreferenceKey {
  int wrong = 0, malformed = 0;  // 0 or 1
  size_t length = 0;             // bytes
  bool operator==(const PreferenceKey&) const = default;
};
PreferenceKey preference_key(const Task& task, std::string_view completion);

// Indices into completions, best first.
std::vector<size_t> rank_completions(const Task& task, const std::vector<std::string>& completions);

struct PreferencePair {
  std::string prompt, chosen, rejected;
};

// All strict pairs of the ranking (at most max_pairs, best-vs-worst first, in rank order).
std::vector<PreferencePair> preference_pairs(const Task& task, const std::vector<std::string>& completions,
                                             size_t max_pairs = SIZE_MAX);

}  // namespace sog
