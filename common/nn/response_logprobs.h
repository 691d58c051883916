// The log-probability and entropy of every response token of a batch of (prompt, response) pairs,
// in one forward of the model, on the tape: what PPO's loss reads for the policy (and, without
// gradients, for the reference model), and what best-of-N scoring reads.
//
// Each pair becomes one row, right-padded to the longest: the sequence s = prompt + response is fed
// without its last token, and position t predicts s[t+1]. For a prompt p0 p1 p2 and a response
// r0 r1 (5 tokens, T = 4 positions; a longer pair of the batch pads this row further):
//
//   position t      0     1     2     3     4 …
//   ids[t]          p0    p1    p2    r0    pad         the model's input
//   targets[t]      p1    p2    r0    r1    pad         the token position t predicts
//   mask[t]         0     0     1     1     0           1: targets[t] is a response token
//
//   logprobs[t] = log p(targets[t] | ids[0..t])         (B,T)  log_softmax over V (gather_logprobs)
//   entropy[t]  = −Σ_v p(v | ids[0..t]) log p(v | …)    (B,T)  over V (ops/cross_entropy.h)
//
// So response token j of a pair with a P-token prompt sits at position P − 1 + j. The causal
// attention makes a row's numbers independent of its padding and of the other rows: each equals a
// forward of that pair alone (up to float rounding of the batched matmuls). Padded positions
// (mask 0) carry the pad token and numbers that mean nothing; multiply by the mask before summing.
#pragma once
#include <cstdint>
#include <vector>

#include "common/nn/gpt.h"
#include "common/tensor/tensor.h"

namespace sog {

// The (B,T) layout of the pairs, T = the longest prompt + response − 1 (at least 1).
struct ResponseBatch {
  Tensor ids;      // (B,T) i32
  Tensor targets;  // (B,T) i32
  Tensor mask;     // (B,T) f32
};
// Throws std::invalid_argument naming the pair when a prompt is empty, the sizes differ, or a pair
// needs more than max_T positions (its prompt + response − 1).
ResponseBatch pack_responses(const std::vector<std::vector<int32_t>>& prompts,
                             const std::vector<std::vector<int32_t>>& responses, int64_t max_T, int32_t pad_id = 0);

struct ResponseLogprobs {
  Tensor logprobs;  // (B,T) on the tape when grad mode is on and the model trains
  Tensor entropy;   // (B,T) likewise
  Tensor mask;      // (B,T) f32, a constant
};
// Response token j of a pair whose prompt has P tokens is predicted at position P − 1 + j.
inline int64_t response_position(int64_t prompt_tokens, int64_t j) { return prompt_tokens - 1 + j; }
// Row b of a (B,T) tensor of the layout (logprobs, entropy, values) at its n response positions.
// Throws std::out_of_range when they fall outside the row.
std::vector<float> response_values(const Tensor& x, int64_t b, int64_t prompt_tokens, int64_t response_tokens);

// One forward of `model` on pack_responses(prompts, responses) (no dropout).
ResponseLogprobs response_logprobs(GPT& model, const std::vector<std::vector<int32_t>>& prompts,
                                   const std::vector<std::vector<int32_t>>& responses);

}  // namespace sog
