#include "common/retrieval/ranking.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace sog {

bool ranks_before(const ScoredId& a, const ScoredId& b) {
  return a.score != b.score ? a.score > b.score : a.id < b.id;
}

std::vector<ScoredId> top_k_by_score(std::vector<ScoredId> candidates, int64_t k) {
  if (k < 1) throw std::invalid_argument("top_k: k: expected ≥ 1, found " + std::to_string(k));
  const auto keep = static_cast<std::ptrdiff_t>(std::min<int64_t>(k, static_cast<int64_t>(candidates.size())));
  std::partial_sort(candidates.begin(), candidates.begin() + keep, candidates.end(), ranks_before);
  candidates.resize(keep);
  return candidates;
}

std::vector<ScoredId> top_k_by_score(std::span<const double> scores, int64_t k) {
  std::vector<ScoredId> all(scores.size());
  for (size_t i = 0; i < scores.size(); i++) all[i] = {static_cast<int64_t>(i), scores[i]};
  return top_k_by_score(std::move(all), k);
}

}  // namespace sog
