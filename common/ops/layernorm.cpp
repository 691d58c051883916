#include "common/ops/layernorm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/cpu/kernels.h"
#include "common/ops/op_checks.h"

namespace sog {

// The loops are layernorm_simd.cpp's, one copy per instruction set (cpu/kernels.h).
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps) {
  cpu_kernels().layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C,
                        bool accumulate_dinp) {
  const int64_t chunks = (N + kLayerNormRowsPerChunk - 1) / kLayerNormRowsPerChunk;
  const bool want_params = dweight != nullptr || dbias != nullptr;
  std::vector<float> partial(want_params ? chunks * 2 * C : 0, 0.0f);  // (chunks, 2, C): dweight, dbias
  cpu_kernels().layernorm_backward(dinp, dweight, dbias, partial.data(), dout, inp, weight, mean, rstd, N, C,
                                   accumulate_dinp);
}

Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  require_cpu_f32(x, "layernorm", "x");
  require_cpu_f32(weight, "layernorm", "weight");
  require_cpu_f32(bias, "layernorm", "bias");
  if (x.ndim() == 0) throw std::invalid_argument("layernorm: x: expected at least 1 dimension, found a scalar");
  const int64_t C = x.shape().last(), N = x.shape().rows();
  check_shape(weight, Shape{C}, "layernorm: weight");
  check_shape(bias, Shape{C}, "layernorm: bias");
  if (!(eps > 0.0f)) throw std::invalid_argument("layernorm: eps: expected > 0, found " + std::to_string(eps));
  Tensor out = Tensor::empty(x.shape());  // (N,C)
  Tensor mean = Tensor::empty({N});       // (N)
  Tensor rstd = Tensor::empty({N});       // (N)
  layernorm_forward(out.f32(), mean.f32(), rstd.f32(), x.f32(), weight.f32(), bias.f32(), N, C, eps);
  if (should_record({&x, &weight, &bias})) {
    record("layernorm", out, [x, weight, bias, mean, rstd, N, C](const Tensor& dout) {
      bool fresh_x = false;
      float* dx = x.requires_grad() ? x.grad_ref(&fresh_x).f32() : nullptr;
      float* dw = weight.requires_grad() ? weight.grad_ref().f32() : nullptr;
      float* db = bias.requires_grad() ? bias.grad_ref().f32() : nullptr;
      layernorm_backward(dx, dw, db, dout.f32(), x.f32(), weight.f32(), mean.f32(), rstd.f32(), N, C, !fresh_x);
    });
  }
  return out;
}

}  // namespace sog
