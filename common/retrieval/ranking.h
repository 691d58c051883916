// What every retriever returns: ids with scores, best first, and the one rule that orders them.
//
//   top_k_by_score({0.5, 2.0, 0.5, 1.0}, 3)  →  [(1, 2.0), (3, 1.0), (0, 0.5)]
//                                                 ties go to the lower id: 0 before 2
//
// Deterministic tie-breaking matters here: the world's documents are short and many score the
// same, and a table of recall@k must not move with the order a sort happens to leave equal scores in.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace sog {

struct ScoredId {
  int64_t id = 0;      // a chunk's index (or a document's, in an index of documents)
  double score = 0.0;  // higher is better; comparable only within one retriever's list
};

// Higher score first, then lower id.
bool ranks_before(const ScoredId& a, const ScoredId& b);

// The k best of `candidates` by ranks_before (all of them when there are fewer than k), in order.
// Throws std::invalid_argument for k < 1.
std::vector<ScoredId> top_k_by_score(std::vector<ScoredId> candidates, int64_t k);
// The same over scores[i] for id i.
std::vector<ScoredId> top_k_by_score(std::span<const double> scores, int64_t k);

}  // namespace sog
