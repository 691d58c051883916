#include "common/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace sog {

int32_t argmax(const float* logits, int V) {
  int32_t best = 0;
  for (int i = 1; i < V; i++)
    if (logits[i] > logits[best]) best = i;
  return best;
}

int32_t Sampler::sample(const float* logits, int V) {
  if (V <= 0) throw std::invalid_argument("Sampler::sample: empty vocabulary");
  if (config_.temperature < 0) {
    throw std::invalid_argument("Sampler: temperature must be >= 0, found " + std::to_string(config_.temperature));
  }
  if (!(config_.top_p > 0.0f && config_.top_p <= 1.0f)) {
    throw std::invalid_argument("Sampler: top_p must be in (0, 1], found " + std::to_string(config_.top_p));
  }
  if (config_.temperature == 0.0f) return argmax(logits, V);

  // softmax(logits / τ), stable
  float max_logit = logits[argmax(logits, V)];
  scratch_.resize(static_cast<size_t>(V));
  double total = 0;
  for (int i = 0; i < V; i++) {
    float p = std::exp((logits[i] - max_logit) / config_.temperature);
    scratch_[i] = {p, i};
    total += p;
  }
  size_t keep = static_cast<size_t>(V);
  const bool limit_k = config_.top_k > 0 && config_.top_k < V;
  if (limit_k || config_.top_p < 1.0f) {
    // Most likely first (ties: lower id first, so the order is deterministic).
    auto by_prob = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    if (limit_k) {
      keep = static_cast<size_t>(config_.top_k);
      std::partial_sort(scratch_.begin(), scratch_.begin() + keep, scratch_.end(), by_prob);
    } else {
      std::sort(scratch_.begin(), scratch_.end(), by_prob);
    }
    double kept_mass = 0;
    for (size_t i = 0; i < keep; i++) kept_mass += scratch_[i].first;
    if (config_.top_p < 1.0f) {
      // The smallest prefix whose share of the kept mass reaches top_p.
      double cumulative = 0;
      for (size_t i = 0; i < keep; i++) {
        cumulative += scratch_[i].first;
        if (cumulative >= config_.top_p * kept_mass) {
          keep = i + 1;
          break;
        }
      }
      kept_mass = 0;
      for (size_t i = 0; i < keep; i++) kept_mass += scratch_[i].first;
    }
    total = kept_mass;
  }
  double u = static_cast<double>(rng_.uniform()) * total;
  double cumulative = 0;
  for (size_t i = 0; i < keep; i++) {
    cumulative += scratch_[i].first;
    if (u < cumulative) return scratch_[i].second;
  }
  return scratch_[keep - 1].second;
}

}  // namespace sog
