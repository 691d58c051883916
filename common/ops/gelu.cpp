#include "common/ops/gelu.h"

#include "common/autograd/tape.h"
#include "common/ops/fast_math.h"
#include "common/ops/op_checks.h"

namespace sog {

static constexpr float kGeluScale = 0.7978845608028654f;  // √(2/π)

void gelu_forward(float* out, const float* inp, int64_t N) {
#pragma omp parallel for simd if (N > (1 << 15))
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
#pragma omp parallel for simd if (N > (1 << 15))
    for (int64_t i = 0; i < N; i++) dinp[i] += gelu_local_grad(inp[i]) * dout[i];
  } else {
#pragma omp parallel for simd if (N > (1 << 15))
    for (int64_t i = 0; i < N; i++) dinp[i] = gelu_local_grad(inp[i]) * dout[i];
  }
}

Tensor gelu(const Tensor& x) {
  require_cpu_f32(x, "gelu", "x");
  Tensor out = Tensor::empty(x.shape());
  gelu_forward(out.f32(), x.f32(), x.numel());
  if (should_record({&x})) {
    record("gelu", out, [x](const Tensor& dout) {
      bool fresh = false;
      float* dx = x.grad_ref(&fresh).f32();
      gelu_backward(dx, x.f32(), dout.f32(), x.numel(), /*accumulate=*/!fresh);
    });
  }
  return out;
}

}  // namespace sog
