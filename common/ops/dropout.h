// Inverted dropout (any shape): during training each element is dropped with probability p and
// the kept ones are scaled by 1/(1 − p), so the expected value of every element is unchanged and
// evaluation needs no rescaling.
//   keep_i ~ Bernoulli(1 − p)          (drawn from the caller's Rng: a run is reproducible)
//   out_i  = keep_i · x_i / (1 − p)
//   dx_i  += keep_i · dout_i / (1 − p)  (the same saved mask)
// When !training or p = 0 the op is the identity and returns x itself (no mask, no copy, nothing
// recorded: the gradient reaches x directly). p must be in [0, 1).
//
// The mask is one byte per element, drawn serially (one Rng draw per element, dropped when
// uniform() < p, in row-major order) so that the same seed gives the same mask on any thread count.
#pragma once
#include <cstdint>

#include "common/tensor/random.h"
#include "common/tensor/tensor.h"

namespace sog {

// keep[i] = 1 with probability 1 − p, else 0; N draws from rng.
void dropout_mask(uint8_t* keep, float p, Rng& rng, int64_t N);
// out = keep · inp · scale with scale = 1/(1 − p); the backward accumulates keep · dout · scale.
void dropout_forward(float* out, const float* inp, const uint8_t* keep, float scale, int64_t N);
void dropout_backward(float* dinp, const float* dout, const uint8_t* keep, float scale, int64_t N);

// The differentiable op.
Tensor dropout(const Tensor& x, float p, Rng& rng, bool training);

}  // namespace sog
