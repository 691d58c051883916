#include "common/world/labeler.h"

#include <algorithm>
#include <tuple>

#include "common/world/grader.h"

namespace sog {

PreferenceKey preference_key(const Task& task, std::string_view completion) {
  Grade g = grade(task, completion);
  return PreferenceKey{g.correct ? 0 : 1, g.well_formed ? 0 : 1, completion.size()};
}

std::vector<size_t> rank_completions(const Task& task, const std::vector<std::string>& completions) {
  std::vector<PreferenceKey> keys;
  for (const auto& c : completions) keys.push_back(preference_key(task, c));
  std::vector<size_t> order(completions.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) {
    return std::tie(keys[i].wrong, keys[i].malformed, keys[i].length, completions[i]) <
           std::tie(keys[j].wrong, keys[j].malformed, keys[j].length, completions[j]);
  });
  return order;
}

std::vector<PreferencePair> preference_pairs(const Task& task, const std::vector<std::string>& completions,
                                             size_t max_pairs) {
  const auto order = rank_completions(task, completions);
  std::vector<PreferenceKey> keys;
  for (size_t i : order) keys.push_back(preference_key(task, completions[i]));
  // Candidate pairs (i better than j in rank positions), ordered by how far apart they rank, the
  // widest gap first, so a cap keeps the clearest comparisons.
  std::vector<std::pair<size_t, size_t>> candidates;
  for (size_t i = 0; i < order.size(); i++)
    for (size_t j = i + 1; j < order.size(); j++)
      if (keys[i] != keys[j] && completions[order[i]] != completions[order[j]]) candidates.emplace_back(i, j);
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](auto x, auto y) { return (x.second - x.first) > (y.second - y.first); });
  std::vector<PreferencePair> pairs;
  for (auto [i, j] : candidates) {
    if (pairs.size() >= max_pairs) break;
    pairs.push_back(PreferencePair{task.prompt, completions[order[i]], completions[order[j]]});
  }
  return pairs;
}

}  // namespace sog
