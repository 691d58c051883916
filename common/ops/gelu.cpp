#include "common/ops/gelu.h"

#include "common/autograd/tape.h"
#include "common/cpu/kernels.h"
#include "common/ops/op_checks.h"

namespace sog {

// The loops are gelu_simd.cpp's, one copy per instruction set (cpu/kernels.h).
void gelu_forward(float* out, const float* inp, int64_t N) { cpu_kernels().gelu_forward(out, inp, N); }
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t N, bool accumulate) {
  cpu_kernels().gelu_backward(dinp, inp, dout, N, accumulate);
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
