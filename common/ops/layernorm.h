// LayerNorm over the last dimension (GPT-2's ln_1, ln_2, ln_f), as llm.c's layernorm_forward/backward.
// Each of the N rows (N = B·T) of C channels is normalised, then scaled and shifted per channel:
//   mean = (1/C) Σ_i x_i        var = (1/C) Σ_i (x_i − mean)²        rstd = 1 / √(var + eps)
//   norm_i = (x_i − mean) · rstd
//   out_i  = norm_i · weight_i + bias_i
// x (N,C) [any leading shape], weight (C), bias (C) → out (N,C); mean (N) and rstd (N) are saved.
//
// Backward (dnorm_i = weight_i · dout_i; means over the C channels of the row):
//   dx_i      += rstd · (dnorm_i − mean(dnorm) − norm_i · mean(dnorm · norm))
//   dweight_i += Σ_rows dout_i · norm_i
//   dbias_i   += Σ_rows dout_i
// The dweight/dbias sums run over all N rows. To be parallel and still bitwise reproducible, the
// rows are cut into fixed chunks of kLayerNormRowsPerChunk (not one per thread, so the result does
// not depend on the thread count either); each chunk sums its rows into its own partial row, then
// the partials are added in chunk order.
#pragma once
#include <cstdint>

#include "common/tensor/tensor.h"

namespace sog {

constexpr int64_t kLayerNormRowsPerChunk = 32;

// out (N,C), mean (N), rstd (N) are written; inp (N,C), weight (C), bias (C) are read.
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps);
// Accumulates into dinp (N,C), dweight (C), dbias (C); any of the three may be nullptr (not wanted).
// Without accumulate_dinp, dinp is written, not read (it may be a fresh, unzeroed gradient).
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C,
                        bool accumulate_dinp = true);

// The differentiable op: x (...,C), weight (C), bias (C) → (...,C).
Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);

}  // namespace sog
