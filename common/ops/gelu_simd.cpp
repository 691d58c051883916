// Compiled once per instruction set (cpu/kernels.h): GELU's forward and backward loops (gelu.h has
// the maths), written once with `omp simd` over tanh_poly; each instruction set's flags make them
// 16-, 8- or 4-lane code.
#include <cstdint>

#include "common/cpu/isa_kernels.h"
#include "common/ops/fast_math.h"

namespace sog::SOG_ISA {

static constexpr float kGeluScale = 0.7978845608028654f;  // √(2/π)

void gelu_forward(float* out, const float* inp, int64_t N) {
#pragma omp parallel for simd if (parallel: N > (1 << 15))
  for (int64_t i = 0; i < N; i++) {
    float x = inp[i];
    float u = kGeluScale * (x + 0.044715f * x * x * x);
    out[i] = 0.5f * x * (1.0f + tanh_poly(u));
  }
}

static inline float gelu_local_grad(float x) {
  float u = kGeluScale * (x + 0.044715f * x * x * x);
  float th = tanh_poly(u);
  float sech2 = 1.0f - th * th;
  return 0.5f * (1.0f + th) + 0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * 0.044715f * x * x);
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t N, bool accumulate) {
  if (accumulate) {
#pragma omp parallel for simd if (parallel: N > (1 << 15))
    for (int64_t i = 0; i < N; i++) dinp[i] += gelu_local_grad(inp[i]) * dout[i];
  } else {
#pragma omp parallel for simd if (parallel: N > (1 << 15))
    for (int64_t i = 0; i < N; i++) dinp[i] = gelu_local_grad(inp[i]) * dout[i];
  }
}

}  // namespace sog::SOG_ISA
