#include "common/ops/softmax.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <cmath>
#include <limits>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

// Rows run in parallel once the block is bigger than this many floats (below it, threads cost more
// than they save).
static constexpr int64_t kParallelFloats = 1 << 15;

// ---- row kernels ---------------------------------------------------------------------------------
// Portable versions: `omp simd` loops. GCC keeps the reduction's vector accumulator in memory
// (a store and a reload per 16 floats, one dependency chain), which makes them compute-bound.

float row_max_portable(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

float row_sum_exp_portable(float* y, const float* x, int64_t n, float shift) {
  float sum = 0.0f;
  if (y) {
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; i++) {
      y[i] = exp_poly(x[i] - shift);
      sum += y[i];
    }
  } else {
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; i++) sum += exp_poly(x[i] - shift);
  }
  return sum;
}

#ifdef __AVX512F__
// AVX-512 versions: four independent accumulators in registers, a masked tail, and exp_poly's
// polynomial with _mm512_scalef_ps doing the 2^n scaling (it handles overflow to +inf and the
// denormal range in one instruction). Measured 1.4x (CPU time) to 1.8x (wall time) faster than
// the portable loops on a (256, 50304) block (bench/bench_ops.cpp, BM_row_logsumexp).

static inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);  // the constant first: a NaN x passes through
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
  __m512 fn = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(fn, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  __m512 er = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(er, fn);
}

static inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1); }

float row_max(const float* x, int64_t n) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
    m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
    m2 = _mm512_max_ps(m2, _mm512_loadu_ps(x + i + 32));
    m3 = _mm512_max_ps(m3, _mm512_loadu_ps(x + i + 48));
  }
  for (; i < n; i += 16) m0 = _mm512_max_ps(m0, _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i));
  return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
}

float row_sum_exp(float* y, const float* x, int64_t n, float shift) {
  const __m512 sh = _mm512_set1_ps(shift);
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 e0 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), sh));
    __m512 e1 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), sh));
    __m512 e2 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 32), sh));
    __m512 e3 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 48), sh));
    if (y) {
      _mm512_storeu_ps(y + i, e0);
      _mm512_storeu_ps(y + i + 16, e1);
      _mm512_storeu_ps(y + i + 32, e2);
      _mm512_storeu_ps(y + i + 48, e3);
    }
    s0 = _mm512_add_ps(s0, e0);
    s1 = _mm512_add_ps(s1, e1);
    s2 = _mm512_add_ps(s2, e2);
    s3 = _mm512_add_ps(s3, e3);
  }
  for (; i < n; i += 16) {
    __mmask16 k = tail_mask(n - i);
    __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), sh));
    if (y) _mm512_mask_storeu_ps(y + i, k, e);
    s0 = _mm512_mask_add_ps(s0, k, s0, e);  // lanes past the end add nothing
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}
#else
float row_max(const float* x, int64_t n) { return row_max_portable(x, n); }
float row_sum_exp(float* y, const float* x, int64_t n, float shift) { return row_sum_exp_portable(y, x, n, shift); }
#endif

// ---- softmax and log_softmax ---------------------------------------------------------------------

void softmax_forward(float* out, const float* inp, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > kParallelFloats)
  for (int64_t r = 0; r < N; r++) {
    const float* x = inp + r * C;  // (C)
    float* y = out + r * C;        // (C)
    float m = row_max(x, C);
    float sum = row_sum_exp(y, x, C, m);  // y = exp(x − m)
    float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t i = 0; i < C; i++) y[i] *= inv;
  }
}

void softmax_backward(float* dinp, const float* out, const float* dout, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > kParallelFloats)
  for (int64_t r = 0; r < N; r++) {
    const float* y = out + r * C;
    const float* dy = dout + r * C;
    float* dx = dinp + r * C;
    float dot = 0.0f;  // Σ_j dout_j · y_j
#pragma omp simd reduction(+ : dot)
    for (int64_t i = 0; i < C; i++) dot += dy[i] * y[i];
#pragma omp simd
    for (int64_t i = 0; i < C; i++) dx[i] += y[i] * (dy[i] - dot);
  }
}

void log_softmax_forward(float* out, const float* inp, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > kParallelFloats)
  for (int64_t r = 0; r < N; r++) {
    const float* x = inp + r * C;
    float* y = out + r * C;
    float m = row_max(x, C);
    float log_sum = std::log(row_sum_exp(nullptr, x, C, m));
    // (x − m) − log_sum, not x − (m + log_sum): for |x| ≫ 1 the sum m + log_sum would round away
    // log_sum's low bits, while x − m is exact near the max.
#pragma omp simd
    for (int64_t i = 0; i < C; i++) y[i] = (x[i] - m) - log_sum;
  }
}

void log_softmax_backward(float* dinp, const float* out, const float* dout, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > kParallelFloats)
  for (int64_t r = 0; r < N; r++) {
    const float* y = out + r * C;
    const float* dy = dout + r * C;
    float* dx = dinp + r * C;
    float total = 0.0f;  // Σ_j dout_j
#pragma omp simd reduction(+ : total)
    for (int64_t i = 0; i < C; i++) total += dy[i];
#pragma omp simd
    for (int64_t i = 0; i < C; i++) dx[i] += dy[i] - exp_poly(y[i]) * total;
  }
}

Tensor softmax(const Tensor& x) {
  require_cpu_f32(x, "softmax", "x");
  Tensor out = Tensor::empty(x.shape());
  const int64_t C = x.shape().last(), N = C == 0 ? 0 : x.shape().rows();
  softmax_forward(out.f32(), x.f32(), N, C);
  if (should_record({&x})) {
    // The closure keeps `out` alive through a copy of the handle; the tape's node holds it anyway.
    record("softmax", out, [x, y = out, N, C](const Tensor& dout) {
      softmax_backward(x.grad_ref().f32(), y.f32(), dout.f32(), N, C);
    });
  }
  return out;
}

Tensor log_softmax(const Tensor& x) {
  require_cpu_f32(x, "log_softmax", "x");
  Tensor out = Tensor::empty(x.shape());
  const int64_t C = x.shape().last(), N = C == 0 ? 0 : x.shape().rows();
  log_softmax_forward(out.f32(), x.f32(), N, C);
  if (should_record({&x})) {
    record("log_softmax", out, [x, y = out, N, C](const Tensor& dout) {
      log_softmax_backward(x.grad_ref().f32(), y.f32(), dout.f32(), N, C);
    });
  }
  return out;
}

}  // namespace sog
