// Vectorisable float math for the hot elementwise loops. glibc's expf and tanhf are calls the
// compiler cannot vectorise without -ffast-math (which we do not use: README, "Build flags"), so
// the loops that spend their time in exp or tanh use these branch-free versions instead; under
// `omp simd` they become vector code of whatever instruction set the file is compiled for (16
// lanes at a time with AVX-512, 8 with AVX2, 4 with NEON). They are `static`: each file has its own
// copy, so a copy compiled for AVX-512 is never linked into code that runs on another CPU
// (cpu/kernels.h).
#pragma once
#include <bit>
#include <cstdint>

namespace sog {

// cond ? a : b through a bit mask instead of a branch. Written as `x < lo ? lo : x`, the clamps
// below leave GCC 12's vectoriser with control flow in the loop when it targets AVX2 (it handles
// them with AVX-512's masks), and the loops that call exp_poly — GELU, attention's softmax — stayed
// scalar: 17% of a small model's training step instead of 4%.
static inline float select_bits(bool cond, float a, float b) {
  const uint32_t m = 0u - static_cast<uint32_t>(cond);
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & m) | (std::bit_cast<uint32_t>(b) & ~m));
}

// e^x in float, within 2 ulp of std::exp for x in [−87, 88] (e^0 = 1 exactly); +inf above 88.73,
// underflows smoothly through the denormals to 0 below −103.9; NaN in, NaN out.
//   n = round(x · log2 e),  r = x − n · ln 2 (ln 2 split in two for precision),  |r| ≤ ½ ln 2
//   e^r ≈ 1 + r + r² · P(r)  (Cephes' degree-5 minimax P),   e^x = e^r · 2^n
// 2^n is built from exponent bits as 2^⌊n/2⌋ · 2^(n−⌊n/2⌋) so that n from −150 to 128 never
// leaves the normal range of either factor.
static inline float exp_poly(float x) {
  x = select_bits(x < -104.0f, -104.0f, x);  // (a NaN fails both tests and passes through)
  x = select_bits(x > 89.0f, 89.0f, x);
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

// tanh(u) = 1 − 2 / (e^{2u} + 1), through exp_poly: within ~1e-7 absolute of std::tanh; exactly
// ±1 once e^{2u} overflows or underflows. (Relative accuracy is lost only for |u| < 1e-4, where
// the absolute error stays ~1e-7 — what GELU, ½x(1 + tanh u), needs.)
static inline float tanh_poly(float u) { return 1.0f - 2.0f / (exp_poly(2.0f * u) + 1.0f); }

}  // namespace sog
