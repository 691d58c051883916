// Tree of thoughts (Yao et al. 2023), breadth-first: a worked solution grown line by line, several
// candidate next lines at each step, only the best partial solutions kept.
//
//   frontier = { "" }                                    the solution so far (no line yet)
//   for depth 1 … max_depth:
//     each unfinished partial in the frontier → `breadth` candidate next lines (sampled)
//     a candidate whose new line holds "Answer:" is finished
//     score every candidate; keep the best `width` (finished ones included: they compete)
//     stop when every kept partial is finished
//   the answer: the best-scoring finished solution (or, when none finished, the best partial)
//
// The talk's "System 2": instead of committing to the first line a single sample writes, the model
// writes several, judges them, and keeps going from the ones that look best. The judge here is the
// model's own log-probability of the solution so far (mean per token: long partials are not
// penalised for their length) or chapter 04's reward model.
//
// The search knows no model: it takes a proposer and a scorer (tests drive it with fakes whose
// scores are known; chapter 06 with the model).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sog {

struct ThoughtSearchOptions {
  int breadth = 3;    // candidate next lines per partial
  int width = 2;      // partials kept per depth
  int max_depth = 8;  // lines at most
};

// For each partial solution (the lines so far, each ending in '\n'), `breadth` candidate next lines,
// each ending in '\n' unless generation stopped first. One call per depth.
using ThoughtProposer = std::function<std::vector<std::vector<std::string>>(const std::vector<std::string>& partials, int breadth)>;
// A score per partial solution (higher is better). One call per depth.
using ThoughtScorer = std::function<std::vector<double>(const std::vector<std::string>& partials)>;

struct ThoughtSearchResult {
  std::string solution;    // the chosen solution's lines
  double score = 0;        // its score
  bool finished = false;   // it holds an "Answer:" line
  int depth = 0;           // the depths searched
  int64_t candidates = 0;  // candidate lines proposed in all
};

// True when the newest line of `partial` holds "Answer:", or when that line does not end in '\n'
// (generation stopped there: nothing more will come).
bool thought_finished(const std::string& partial);

// Throws std::invalid_argument for breadth, width or max_depth < 1, and std::runtime_error when the
// proposer or the scorer returns the wrong number of items.
ThoughtSearchResult tree_of_thoughts(const ThoughtProposer& propose, const ThoughtScorer& score,
                                     const ThoughtSearchOptions& options);

}  // namespace sog
