// Reductions: the sum or the mean of all elements, or over the last dimension.
//   sum(x)      = Σ_i x_i               x (any shape) → (1)
//   mean(x)     = (1/n) Σ_i x_i         x (any shape, n ≥ 1 elements) → (1)
//   sum(x, -1)  : out_r = Σ_c x_{r,c}   x (...,C) → (...)   e.g. (B,T) → (B); (C) → (1)
//   mean(x, -1) : out_r = (1/C) Σ_c x_{r,c}
// Backward: every input element receives the gradient of the value it was summed into,
//   dx_i += dout (sum),  dx_i += dout / n (mean),  dx_{r,c} += dout_r (or dout_r / C).
//
// Shapes. A full reduction returns shape (1), not the 0-dimensional (), so that it prints, indexes
// and reshapes like any other tensor, and `loss.backward()` accepts it. Reducing the last dimension
// of a 1-D (C) also gives (1), for the same reason.
//
// Accuracy. Every sum accumulates in double. A full sum cuts the input into fixed blocks of
// kReduceBlock floats, sums each block into a double (in parallel), then adds the block sums in
// order: the result is accurate (relative error ~1e-16 · n before the final rounding to float, so
// a 2²⁴ + 1000 element sum of ones is exact, where a float accumulator stalls at 2²⁴) and does not
// depend on the number of threads. A row sum accumulates its row in one double.
#pragma once
#include <cstdint>

#include "common/tensor/tensor.h"

namespace sog {

constexpr int64_t kReduceBlock = 1 << 14;

// Full reductions: out[0] = Σ inp (or the mean) over N floats; the backward adds dout[0] (/N) to
// every dinp[i].
void sum_forward(float* out, const float* inp, int64_t N);
void sum_backward(float* dinp, const float* dout, int64_t N);
void mean_forward(float* out, const float* inp, int64_t N);
void mean_backward(float* dinp, const float* dout, int64_t N);

// Last-dimension reductions on N rows of C floats: out (N), inp (N,C); the backward accumulates
// dout (N) into dinp (N,C).
void sum_last_dim_forward(float* out, const float* inp, int64_t N, int64_t C);
void sum_last_dim_backward(float* dinp, const float* dout, int64_t N, int64_t C);
void mean_last_dim_forward(float* out, const float* inp, int64_t N, int64_t C);
void mean_last_dim_backward(float* dinp, const float* dout, int64_t N, int64_t C);

// The differentiable ops. `dim` must be −1 or x.ndim() − 1 (the last dimension).
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);
Tensor sum(const Tensor& x, int dim);
Tensor mean(const Tensor& x, int dim);

}  // namespace sog
