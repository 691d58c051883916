#include "common/eval/tree_of_thoughts.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace sog {

bool thought_finished(const std::string& partial) {
  if (partial.empty()) return false;
  if (partial.back() != '\n') return true;  // the proposer stopped mid-line: the reply is over
  const size_t start = partial.rfind('\n', partial.size() - 2);
  const std::string last = partial.substr(start == std::string::npos ? 0 : start + 1);
  return last.find("Answer:") != std::string::npos;
}

ThoughtSearchResult tree_of_thoughts(const ThoughtProposer& propose, const ThoughtScorer& score,
                                     const ThoughtSearchOptions& o) {
  if (o.breadth < 1 || o.width < 1 || o.max_depth < 1) {
    throw std::invalid_argument("tree_of_thoughts: breadth, width and max_depth must be ≥ 1");
  }
  struct Node {
    std::string text;
    double score;
  };
  std::vector<Node> frontier = {{"", 0.0}};
  ThoughtSearchResult r;
  for (int depth = 1; depth <= o.max_depth; depth++) {
    std::vector<std::string> open;
    std::vector<Node> next;
    for (const Node& n : frontier) {
      if (thought_finished(n.text)) next.push_back(n);  // a finished solution stays and competes
      else open.push_back(n.text);
    }
    if (open.empty()) break;
    const std::vector<std::vector<std::string>> lines = propose(open, o.breadth);
    if (lines.size() != open.size()) {
      throw std::runtime_error("tree_of_thoughts: the proposer answered " + std::to_string(lines.size()) +
                               " partials of " + std::to_string(open.size()));
    }
    std::vector<std::string> candidates;
    for (size_t i = 0; i < open.size(); i++) {
      for (const std::string& line : lines[i]) candidates.push_back(open[i] + line);
      r.candidates += static_cast<int64_t>(lines[i].size());
    }
    const std::vector<double> scores = score(candidates);
    if (scores.size() != candidates.size()) {
      throw std::runtime_error("tree_of_thoughts: the scorer answered " + std::to_string(scores.size()) +
                               " candidates of " + std::to_string(candidates.size()));
    }
    for (size_t i = 0; i < candidates.size(); i++) next.push_back({candidates[i], scores[i]});
    // the best `width`; equal scores keep their order (the earlier partial, the earlier sample)
    std::stable_sort(next.begin(), next.end(), [](const Node& a, const Node& b) { return a.score > b.score; });
    if (static_cast<int>(next.size()) > o.width) next.resize(o.width);
    frontier = std::move(next);
    r.depth = depth;
  }
  // The best finished solution, else the best partial.
  const Node* best = nullptr;
  for (const Node& n : frontier)
    if (thought_finished(n.text) && (!best || n.score > best->score)) best = &n;
  if (!best) best = &frontier.front();
  r.solution = best->text;
  r.score = best->score;
  r.finished = thought_finished(best->text);
  return r;
}

}  // namespace sog
