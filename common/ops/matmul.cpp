#include "common/ops/matmul.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

// ---- backward on raw buffers -----------------------------------------------------------------
// The four cases of the header, written once with the flags (see matmul.h for the derivation):
//   dA (M,K) += dC (M,N) · op(B)ᵀ          op(B)ᵀ is B read with the opposite trans_b flag
//   dA (K,M) += op(B) (K,N) · dCᵀ           dC stored (M,N) is dCᵀ with trans_b
//   dB (K,N) += op(A)ᵀ (K,M) · dC (M,N)      op(A)ᵀ is A read with the opposite trans_a flag
//   dB (N,K) += dCᵀ (N,M) · op(A) (M,K)      dC stored (M,N) is dCᵀ with trans_a
static void matmul_backward_with(MatmulFn gemm, float* dA, float* dB, const float* dC, const float* A, const float* B,
                                 int64_t M, int64_t K, int64_t N, bool trans_a, bool trans_b,
                                 bool overwrite_dA = false) {
  if (dA) {
    if (!trans_a)
      gemm(dA, dC, B, nullptr, M, N, K, false, !trans_b, !overwrite_dA);
    else
      gemm(dA, B, dC, nullptr, K, N, M, trans_b, true, !overwrite_dA);
  }
  if (dB) {
    if (!trans_b)
      gemm(dB, A, dC, nullptr, K, M, N, !trans_a, false, true);
    else
      gemm(dB, dC, A, nullptr, N, M, K, true, trans_a, true);
  }
}

void matmul_backward(float* dA, float* dB, const float* dC, const float* A, const float* B, int64_t M, int64_t K,
                     int64_t N, bool trans_a, bool trans_b, bool overwrite_dA) {
  matmul_backward_with(matmul_forward, dA, dB, dC, A, B, M, K, N, trans_a, trans_b, overwrite_dA);
}

void matmul_backward_bf16b(float* dA, const float* dC, const uint16_t* B, int64_t M, int64_t K, int64_t N,
                           bool trans_b) {
  matmul_forward_bf16b(dA, dC, B, nullptr, M, N, K, false, !trans_b, true);  // dA (M,K) += dC · op(B)ᵀ
}

void require_linear_weight(const Tensor& w, const char* op, const char* arg) {
  if (w.defined() && w.dtype() == DType::bf16 && w.device() == Device::cpu) {
    if (w.requires_grad()) {
      throw std::invalid_argument(std::string(op) + ": " + arg + ": a bf16 weight " + w.shape().str() +
                                  " must not require grad (bf16 weights are frozen: only f32 weights train)");
    }
    return;
  }
  require_cpu_f32(w, op, arg);
}

// ---- batches ---------------------------------------------------------------------------------
// Runs body(i, gemm) for i in [0, batch). Many small matrices (attention's per-head products) run
// one per thread with the single-threaded kernel; large ones run in order, each using every thread.
// `independent` = false when the bodies accumulate into the same buffer (a shared weight's
// gradient): then they run in order.
template <typename Body>
static void for_each_matrix(int64_t batch, double flops_per_matrix, bool independent, Body body) {
  const bool across_matrices = independent && batch > 1 && flops_per_matrix < 3e7;
  if (across_matrices) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < batch; i++) body(i, matmul_packed);
  } else {
    for (int64_t i = 0; i < batch; i++) body(i, matmul_forward);
  }
}

// ---- matmul ----------------------------------------------------------------------------------
static std::string describe(const Tensor& t, bool trans) { return t.shape().str() + (trans ? " (transposed)" : ""); }

// matmul(a, b) with a frozen bf16 b: 2-D, shared by every leading index of a, no trans_a — so the
// product always folds into one (batch·M, K) · op(b) call, and the backward is da only.
static Tensor matmul_bf16b(const Tensor& a, const Tensor& b, bool trans_b, int64_t K, int64_t N) {
  std::vector<int64_t> out_dims(a.shape().dims.begin(), a.shape().dims.begin() + a.ndim());
  out_dims.back() = N;
  Tensor out = Tensor::empty(Shape(out_dims));  // (..., M, N)
  const int64_t rows = a.numel() / K;           // batch·M
  matmul_forward_bf16b(out.f32(), a.f32(), b.bf16(), nullptr, rows, K, N, false, trans_b, false);
  if (should_record({&a})) {
    record("matmul", out, [a, b, trans_b, rows, K, N](const Tensor& dout) {
      matmul_backward_bf16b(a.grad_ref().f32(), dout.f32(), b.bf16(), rows, K, N, trans_b);
    });
  }
  return out;
}

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  require_cpu_f32(a, "matmul", "a");
  require_linear_weight(b, "matmul", "b");
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("matmul: a " + describe(a, trans_a) + " and b " + describe(b, trans_b) + ": " + why);
  };
  if (a.ndim() < 2 || b.ndim() < 2) fail("expected both at least 2-D");
  const int64_t M = trans_a ? a.size(-1) : a.size(-2), K = trans_a ? a.size(-2) : a.size(-1);
  const int64_t Kb = trans_b ? b.size(-1) : b.size(-2), N = trans_b ? b.size(-2) : b.size(-1);
  if (K != Kb)
    fail("inner dimensions differ: op(a) has K = " + std::to_string(K) + ", op(b) has K = " + std::to_string(Kb));
  const bool shared_b = b.ndim() == 2;
  if (!shared_b) {
    bool same_batch = b.ndim() == a.ndim();
    for (int d = 0; same_batch && d < a.ndim() - 2; d++) same_batch = a.size(d) == b.size(d);
    if (!same_batch) fail("expected b 2-D or with the same leading (batch) dimensions as a");
  }
  if (b.dtype() == DType::bf16) {
    if (!shared_b || trans_a) fail("a bf16 b must be 2-D and a not transposed (a frozen weight)");
    return matmul_bf16b(a, b, trans_b, K, N);
  }
  std::vector<int64_t> out_dims(a.shape().dims.begin(), a.shape().dims.begin() + a.ndim() - 2);  // (...)
  int64_t batch = 1;
  for (int64_t d : out_dims) batch *= d;
  out_dims.push_back(M);
  out_dims.push_back(N);
  Tensor out = Tensor::empty(Shape(out_dims));

  const int64_t a_stride = M * K, b_stride = shared_b ? 0 : K * N, c_stride = M * N;
  const bool fold = shared_b && !trans_a;  // (..., M, K) · (K, N) is one (batch·M, K) · (K, N)
  const double flops = 2.0 * double(M) * double(K) * double(N);
  if (fold) {
    matmul_forward(out.f32(), a.f32(), b.f32(), nullptr, batch * M, K, N, false, trans_b, false);
  } else {
    for_each_matrix(batch, flops, true, [&](int64_t i, MatmulFn gemm) {
      gemm(out.f32() + i * c_stride, a.f32() + i * a_stride, b.f32() + i * b_stride, nullptr, M, K, N, trans_a, trans_b,
           false);
    });
  }

  if (should_record({&a, &b})) {
    record("matmul", out,
           [a, b, trans_a, trans_b, M, K, N, batch, a_stride, b_stride, c_stride, fold, flops](const Tensor& dout) {
             bool fresh_a = false;  // dA is written whole by the first gemm: no zeroing needed
             float* dA = a.requires_grad() ? a.grad_ref(&fresh_a).f32() : nullptr;
             float* dB = b.requires_grad() ? b.grad_ref().f32() : nullptr;
             if (fold) {
               matmul_backward(dA, dB, dout.f32(), a.f32(), b.f32(), batch * M, K, N, false, trans_b, fresh_a);
               return;
             }
             // Each matrix has its own dA (and its own dB when b is batched): those run side by side.
             // A shared 2-D b sums its gradient over the matrices, so that sum runs in order.
             const bool shared_db = b_stride == 0;
             for_each_matrix(batch, flops, true, [&](int64_t i, MatmulFn gemm) {
               matmul_backward_with(gemm, dA ? dA + i * a_stride : nullptr,
                                    dB && !shared_db ? dB + i * b_stride : nullptr, dout.f32() + i * c_stride,
                                    a.f32() + i * a_stride, b.f32() + i * b_stride, M, K, N, trans_a, trans_b,
                                    fresh_a);
             });
             if (dB && shared_db) {
               for_each_matrix(batch, flops, false, [&](int64_t i, MatmulFn gemm) {
                 matmul_backward_with(gemm, nullptr, dB, dout.f32() + i * c_stride, a.f32() + i * a_stride, b.f32(), M,
                                      K, N, trans_a, trans_b);
               });
             }
           });
  }
  return out;
}

// ---- linear ----------------------------------------------------------------------------------
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  require_cpu_f32(x, "linear", "x");
  require_linear_weight(weight, "linear", "weight");
  const bool has_bias = bias.defined();
  if (has_bias) require_cpu_f32(bias, "linear", "bias");
  const std::string shapes = "x " + x.shape().str() + ", weight " + weight.shape().str() +
                             (has_bias ? ", bias " + bias.shape().str() : std::string());
  if (x.ndim() < 1 || weight.ndim() != 2 || weight.size(1) != x.size(-1))
    throw std::invalid_argument("linear: " + shapes + ": expected weight (OC, " +
                                std::to_string(x.ndim() ? x.size(-1) : 0) + ") for x (..., C)");
  const int64_t C = x.size(-1), OC = weight.size(0), M = x.shape().rows();
  if (has_bias && (bias.ndim() != 1 || bias.size(0) != OC))
    throw std::invalid_argument("linear: " + shapes + ": expected bias (" + std::to_string(OC) + ")");

  Shape out_shape = x.shape();
  out_shape.dims[out_shape.ndim - 1] = OC;
  Tensor out = Tensor::empty(out_shape);
  if (weight.dtype() == DType::bf16) {  // a frozen weight: gradients for x and the bias only
    matmul_forward_bf16b(out.f32(), x.f32(), weight.bf16(), has_bias ? bias.f32() : nullptr, M, C, OC, false, true,
                         false);
    if (should_record({&x, &bias})) {
      record("linear", out, [x, weight, bias, has_bias, M, C, OC](const Tensor& dout) {
        if (x.requires_grad()) matmul_backward_bf16b(x.grad_ref().f32(), dout.f32(), weight.bf16(), M, C, OC, true);
        if (has_bias && bias.requires_grad()) bias_backward(bias.grad_ref().f32(), dout.f32(), M, OC);
      });
    }
    return out;
  }
  matmul_forward(out.f32(), x.f32(), weight.f32(), has_bias ? bias.f32() : nullptr, M, C, OC, false, true, false);

  if (should_record({&x, &weight, &bias})) {
    record("linear", out, [x, weight, bias, has_bias, M, C, OC](const Tensor& dout) {
      // y = x · weightᵀ is C = op(A)·op(B) with A = x (M,C), B = weight (OC,C), trans_b.
      bool fresh_x = false;  // (set before the call: argument order is unspecified)
      float* dx = x.requires_grad() ? x.grad_ref(&fresh_x).f32() : nullptr;
      matmul_backward(dx, weight.requires_grad() ? weight.grad_ref().f32() : nullptr, dout.f32(), x.f32(),
                      weight.f32(), M, C, OC, false, true, fresh_x);
      if (has_bias && bias.requires_grad()) bias_backward(bias.grad_ref().f32(), dout.f32(), M, OC);
    });
  }
  return out;
}

}  // namespace sog
