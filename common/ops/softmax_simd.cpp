// Compiled once per instruction set (cpu/kernels.h): softmax's row kernels — max, and Σ exp with
// the exps written out — and softmax / log_softmax over N rows (softmax.h has the maths). The row
// kernels are cross_entropy's too: a 50304-wide vocabulary row per token.
//
// Three versions of the row kernels, picked by the flags this copy is compiled with:
//   AVX-512  four independent 16-lane accumulators, a masked tail, exp with _mm512_scalef_ps doing
//            the 2^n scaling (overflow to +inf and the denormal range in one instruction);
//   AVX2     four 8-lane accumulators, a scalar tail, 2^n built from exponent bits in two factors
//            (as exp_poly does) so that n from −150 to 128 never leaves the normal range;
//   portable `omp simd` loops over exp_poly (NEON, plain C++). GCC keeps such a reduction's vector
//            accumulator in memory (one dependency chain through a store and a reload), which is
//            what the hand-written versions avoid: 1.4× (CPU time) to 1.8× (wall time) on a
//            (256, 50304) block with AVX-512 (bench/bench_ops.cpp, BM_row_logsumexp).
// All three compute exp_poly's polynomial; they differ only in the order of the row sums' terms.
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include <cmath>
#include <cstdint>
#include <limits>

#include "common/cpu/isa_kernels.h"
#include "common/ops/fast_math.h"

namespace sog::SOG_ISA {

// Rows run in parallel once the block is bigger than this many floats (below it, threads cost more
// than they save).
static constexpr int64_t kParallelFloats = 1 << 15;

#if defined(__AVX512F__)
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

#elif defined(__AVX2__)
static inline __m256 exp256(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);  // the constant first: a NaN x passes through
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);
  const __m256 fn = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fmadd_ps(fn, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 er = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
  // 2^n = 2^n1 · 2^n2 with n1 = ⌊n/2⌋, n2 = n − n1, each factor a normal float built from its bits.
  const __m256i n = _mm256_cvtps_epi32(fn);
  const __m256i n1 = _mm256_srai_epi32(n, 1), n2 = _mm256_sub_epi32(n, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(er, s1), s2);
}

float row_max(const float* x, int64_t n) {
  const float ninf = -std::numeric_limits<float>::infinity();
  __m256 m0 = _mm256_set1_ps(ninf), m1 = m0, m2 = m0, m3 = m0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
    m2 = _mm256_max_ps(m2, _mm256_loadu_ps(x + i + 16));
    m3 = _mm256_max_ps(m3, _mm256_loadu_ps(x + i + 24));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
  float m = ninf;
  for (float v : lanes) m = v > m ? v : m;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

float row_sum_exp(float* y, const float* x, int64_t n, float shift) {
  const __m256 sh = _mm256_set1_ps(shift);
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 e0 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
    const __m256 e1 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), sh));
    const __m256 e2 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 16), sh));
    const __m256 e3 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 24), sh));
    if (y) {
      _mm256_storeu_ps(y + i, e0);
      _mm256_storeu_ps(y + i + 8, e1);
      _mm256_storeu_ps(y + i + 16, e2);
      _mm256_storeu_ps(y + i + 24, e3);
    }
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
    s2 = _mm256_add_ps(s2, e2);
    s3 = _mm256_add_ps(s3, e3);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  for (; i < n; i++) {
    const float e = exp_poly(x[i] - shift);
    if (y) y[i] = e;
    sum += e;
  }
  return sum;
}

#else
float row_max(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

float row_sum_exp(float* y, const float* x, int64_t n, float shift) {
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

}  // namespace sog::SOG_ISA
