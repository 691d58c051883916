// Picking the next token from the model's logits: greedy, temperature, top-k and top-p (nucleus).
//
//   temperature 0      → greedy: the arg-max (ties to the lowest id), deterministic
//   temperature τ > 0  → p = softmax(logits / τ), restricted to the k most likely tokens (top_k > 0)
//                        and then to the smallest set whose probability reaches top_p (top_p < 1),
//                        renormalised, sampled with the given Rng
// Only the first V logits are real tokens: the padded ones (V … Vp−1) are never sampled.
#pragma once
#include <cstdint>
#include <vector>

#include "common/tensor/random.h"

namespace sog {

struct SamplingConfig {
  float temperature = 1.0f;
  int top_k = 0;        // 0 = no limit
  float top_p = 1.0f;   // 1 = no limit
};

class Sampler {
 public:
  explicit Sampler(SamplingConfig config, uint64_t seed = 1337) : config_(config), rng_(seed) {}
  // logits: V real entries (the caller passes the row's first V values).
  int32_t sample(const float* logits, int V);
  const SamplingConfig& config() const { return config_; }
  Rng& rng() { return rng_; }

 private:
  SamplingConfig config_;
  Rng rng_;
  std::vector<std::pair<float, int32_t>> scratch_;  // (probability, id), reused across calls
};

int32_t argmax(const float* logits, int V);

}  // namespace sog
