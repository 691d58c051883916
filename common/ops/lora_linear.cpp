#include "common/ops/lora_linear.h"

#include <stdexcept>
#include <string>

#include "common/autograd/tape.h"
#include "common/ops/matmul.h"
#include "common/ops/op_checks.h"

namespace sog {

Tensor lora_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& x_adapter, const Tensor& A,
                   const Tensor& B, float scale) {
  const char* op = "lora_linear";
  require_cpu_f32(x, op, "x");
  require_linear_weight(weight, op, "weight");
  require_cpu_f32(x_adapter, op, "x_adapter");
  require_cpu_f32(A, op, "A");
  require_cpu_f32(B, op, "B");
  const bool has_bias = bias.defined();
  if (has_bias) require_cpu_f32(bias, op, "bias");
  const std::string shapes = "x " + x.shape().str() + ", weight " + weight.shape().str() +
                             (has_bias ? ", bias " + bias.shape().str() : std::string()) + ", x_adapter " +
                             x_adapter.shape().str() + ", A " + A.shape().str() + ", B " + B.shape().str();
  auto fail = [&](const std::string& why) { throw std::invalid_argument(std::string(op) + ": " + shapes + ": " + why); };
  if (x.ndim() < 1 || weight.ndim() != 2 || weight.size(1) != x.size(-1)) fail("expected weight (OC, C) for x (..., C)");
  const int64_t C = x.size(-1), OC = weight.size(0), M = x.shape().rows();
  if (has_bias && (bias.ndim() != 1 || bias.size(0) != OC)) fail("expected bias (" + std::to_string(OC) + ")");
  if (x_adapter.shape() != x.shape()) fail("expected x_adapter of the shape of x");
  if (A.ndim() != 2 || A.size(1) != C) fail("expected A (r, " + std::to_string(C) + ")");
  const int64_t r = A.size(0);
  if (B.ndim() != 2 || B.size(0) != OC || B.size(1) != r)
    fail("expected B (" + std::to_string(OC) + ", " + std::to_string(r) + ")");

  Shape out_shape = x.shape();
  out_shape.dims[out_shape.ndim - 1] = OC;
  Tensor out = Tensor::empty(out_shape);  // (..., OC)
  const float* b = has_bias ? bias.f32() : nullptr;
  const bool bf16_weight = weight.dtype() == DType::bf16;
  if (bf16_weight)
    matmul_forward_bf16b(out.f32(), x.f32(), weight.bf16(), b, M, C, OC, false, true, false);  // y = x Wᵀ + b
  else
    matmul_forward(out.f32(), x.f32(), weight.f32(), b, M, C, OC, false, true, false);
  Tensor u = Tensor::empty({M, r});                                                      // (M, r)
  matmul_forward(u.f32(), x_adapter.f32(), A.f32(), nullptr, M, C, r, false, true, false);  // xa Aᵀ
  float* up = u.f32();
  for (int64_t i = 0; i < M * r; i++) up[i] *= scale;                                  // u = s · xa Aᵀ
  matmul_forward(out.f32(), u.f32(), B.f32(), nullptr, M, r, OC, false, true, true);   // y += u Bᵀ

  if (should_record({&x, &weight, &bias, &x_adapter, &A, &B})) {
    record(op, out, [x, weight, bias, x_adapter, A, B, u, scale, has_bias, bf16_weight, M, C, OC, r](const Tensor& dy) {
      // The base Linear: dx += dy W, dW += dyᵀ x, db += Σ_rows dy.
      float* dx = x.requires_grad() ? x.grad_ref().f32() : nullptr;
      if (bf16_weight) {
        if (dx) matmul_backward_bf16b(dx, dy.f32(), weight.bf16(), M, C, OC, true);
      } else {
        matmul_backward(dx, weight.requires_grad() ? weight.grad_ref().f32() : nullptr, dy.f32(), x.f32(),
                        weight.f32(), M, C, OC, false, true);
      }
      if (has_bias && bias.requires_grad()) bias_backward(bias.grad_ref().f32(), dy.f32(), M, OC);
      // The adapter: y += u Bᵀ gives dB += dyᵀ u and du = dy B; u = s · xa Aᵀ gives dA, dxa.
      const bool need_du = A.requires_grad() || x_adapter.requires_grad();
      Tensor du = need_du ? Tensor::zeros({M, r}) : Tensor();  // (M, r)
      matmul_backward(need_du ? du.f32() : nullptr, B.requires_grad() ? B.grad_ref().f32() : nullptr, dy.f32(),
                      u.f32(), B.f32(), M, r, OC, false, true);
      if (!need_du) return;
      float* dup = du.f32();
      for (int64_t i = 0; i < M * r; i++) dup[i] *= scale;
      matmul_backward(x_adapter.requires_grad() ? x_adapter.grad_ref().f32() : nullptr,
                      A.requires_grad() ? A.grad_ref().f32() : nullptr, du.f32(), x_adapter.f32(), A.f32(), M, C, r,
                      false, true);
    });
  }
  return out;
}

}  // namespace sog
