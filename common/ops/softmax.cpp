#include "common/ops/softmax.h"

#include "common/autograd/tape.h"
#include "common/cpu/kernels.h"
#include "common/ops/op_checks.h"

namespace sog {

// The kernels on raw rows are softmax_simd.cpp's, one copy per instruction set (cpu/kernels.h).
float row_max(const float* x, int64_t n) { return cpu_kernels().row_max(x, n); }
float row_sum_exp(float* y, const float* x, int64_t n, float shift) { return cpu_kernels().row_sum_exp(y, x, n, shift); }
void softmax_forward(float* out, const float* inp, int64_t N, int64_t C) { cpu_kernels().softmax_forward(out, inp, N, C); }
void softmax_backward(float* dinp, const float* out, const float* dout, int64_t N, int64_t C) {
  cpu_kernels().softmax_backward(dinp, out, dout, N, C);
}
void log_softmax_forward(float* out, const float* inp, int64_t N, int64_t C) {
  cpu_kernels().log_softmax_forward(out, inp, N, C);
}
void log_softmax_backward(float* dinp, const float* out, const float* dout, int64_t N, int64_t C) {
  cpu_kernels().log_softmax_backward(dinp, out, dout, N, C);
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
