// softmax and log_softmax along the last dimension, for x (...,C) viewed as N rows of C (N = rows).
//   m      = max_j x_j                                  (subtracted first: exp never overflows)
//   softmax(x)_i     = exp(x_i − m) / Σ_j exp(x_j − m)
//   log_softmax(x)_i = x_i − m − log Σ_j exp(x_j − m)
// Backward, per row, with y the saved output:
//   softmax:     dx_i += y_i · (dout_i − Σ_j dout_j · y_j)
//   log_softmax: dx_i += dout_i − exp(y_i) · Σ_j dout_j
// A row whose entries are all −∞ has no distribution: its output is NaN (as in PyTorch).
// The row sums are float sums over vector lanes (64 partial sums in the AVX-512 row kernel), exact
// enough for a row of ≤ 10⁵ terms of size ≤ 1; the rows run in parallel.
//
// exp is the hot loop of softmax and of cross_entropy (a 50304-wide vocabulary row per token).
// glibc's expf does not vectorise without -ffast-math, so `exp_poly` below is a branch-free Cephes
// expf that the compiler turns into AVX-512 code under `omp simd`: measured on a (256, 50304) row
// block, softmax_forward runs ~9x faster than with std::exp (bench/bench_ops.cpp,
// BM_softmax_forward, CPU time on one thread).
#pragma once
#include <bit>
#include <cstdint>

#include "common/tensor/tensor.h"

namespace sog {

// e^x in float, within 2 ulp of std::exp for x in [−87, 88] (e^0 = 1 exactly); +inf above 88.73,
// underflows smoothly through the denormals to 0 below −103.9; NaN in, NaN out.
//   n = round(x · log2 e),  r = x − n · ln 2 (ln 2 split in two for precision),  |r| ≤ ½ ln 2
//   e^r ≈ 1 + r + r² · P(r)  (Cephes' degree-5 minimax P),   e^x = e^r · 2^n
// 2^n is built from exponent bits as 2^⌊n/2⌋ · 2^(n−⌊n/2⌋) so that n from −150 to 128 never
// leaves the normal range of either factor.
inline float exp_poly(float x) {
  x = x < -104.0f ? -104.0f : x;
  x = x > 89.0f ? 89.0f : x;
  const float shifter = 12582912.0f;  // 1.5 · 2²³: adding it rounds to an integer in the low bits
  float t = x * 1.44269504088896341f + shifter;
  int32_t n = std::bit_cast<int32_t>(t) - 0x4B400000;
  float fn = t - shifter;
  float r = x - fn * 0.693359375f;  // ln 2 = 0.693359375 − 2.12194440e-4 (hi part exact)
  r = r + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float er = p * r * r + r + 1.0f;
  int32_t n1 = n >> 1, n2 = n - n1;
  float s1 = std::bit_cast<float>((n1 + 127) << 23);
  float s2 = std::bit_cast<float>((n2 + 127) << 23);
  return er * s1 * s2;
}

// Row kernels shared with cross_entropy, on one row of n floats:
//   row_max(x)             = max_i x_i  (−∞ for n = 0)
//   row_sum_exp(y, x, s)   = Σ_i exp(x_i − s), also writing y_i = exp(x_i − s) when y ≠ nullptr
// Two variants: `_portable` (omp simd loops) and the default, AVX-512 intrinsics when the compiler
// targets AVX-512 (-march=native on such a CPU), else the portable one. Tests check both.
float row_max(const float* x, int64_t n);
float row_sum_exp(float* y, const float* x, int64_t n, float shift);
float row_max_portable(const float* x, int64_t n);
float row_sum_exp_portable(float* y, const float* x, int64_t n, float shift);

// Kernels on N rows of C floats. The backward accumulates into dinp.
void softmax_forward(float* out, const float* inp, int64_t N, int64_t C);
void softmax_backward(float* dinp, const float* out, const float* dout, int64_t N, int64_t C);
void log_softmax_forward(float* out, const float* inp, int64_t N, int64_t C);
void log_softmax_backward(float* dinp, const float* out, const float* dout, int64_t N, int64_t C);

// The differentiable ops: x (...,C) → (...,C), along the last dimension.
Tensor softmax(const Tensor& x);
Tensor log_softmax(const Tensor& x);

}  // namespace sog
