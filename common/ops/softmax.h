// softmax and log_softmax along the last dimension, for x (...,C) viewed as N rows of C (N = rows).
//   m      = max_j x_j                                  (subtracted first: exp never overflows)
//   softmax(x)_i     = exp(x_i − m) / Σ_j exp(x_j − m)
//   log_softmax(x)_i = x_i − m − log Σ_j exp(x_j − m)
// Backward, per row, with y the saved output:
//   softmax:     dx_i += y_i · (dout_i − Σ_j dout_j · y_j)
//   log_softmax: dx_i += dout_i − exp(y_i) · Σ_j dout_j
// A row whose entries are all −∞ has no distribution: its output is NaN (as in PyTorch).
// The row sums are float sums over vector lanes (64 partial sums in the AVX-512 row kernel, 32 in
// the AVX2 one), exact enough for a row of ≤ 10⁵ terms of size ≤ 1; the rows run in parallel.
//
// exp is the hot loop of softmax and of cross_entropy (a 50304-wide vocabulary row per token).
// glibc's expf does not vectorise without -ffast-math, so `exp_poly` (fast_math.h) is a branch-free Cephes
// expf that the compiler turns into vector code under `omp simd` (and that the AVX-512 and AVX2 row
// kernels write with intrinsics): measured on a (256, 50304) row block, softmax_forward runs ~9x
// faster than with std::exp (bench/bench_ops.cpp, BM_softmax_forward, CPU time on one thread, AVX-512).
#pragma once
#include <bit>
#include <cstdint>

#include "common/ops/fast_math.h"
#include "common/tensor/tensor.h"

namespace sog {

// Row kernels shared with cross_entropy, on one row of n floats:
//   row_max(x)             = max_i x_i  (−∞ for n = 0)
//   row_sum_exp(y, x, s)   = Σ_i exp(x_i − s), also writing y_i = exp(x_i − s) when y ≠ nullptr
// One version per instruction set (softmax_simd.cpp: AVX-512 and AVX2 intrinsics, `omp simd` loops
// for NEON and plain C++), the active one's called (cpu/kernels.h). Tests check each.
float row_max(const float* x, int64_t n);
float row_sum_exp(float* y, const float* x, int64_t n, float shift);

// Kernels on N rows of C floats. The backward accumulates into dinp.
void softmax_forward(float* out, const float* inp, int64_t N, int64_t C);
void softmax_backward(float* dinp, const float* out, const float* dout, int64_t N, int64_t C);
void log_softmax_forward(float* out, const float* inp, int64_t N, int64_t C);
void log_softmax_backward(float* dinp, const float* out, const float* dout, int64_t N, int64_t C);

// The differentiable ops: x (...,C) → (...,C), along the last dimension.
Tensor softmax(const Tensor& x);
Tensor log_softmax(const Tensor& x);

}  // namespace sog
