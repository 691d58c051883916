// Matrix multiplication and the Linear layer, differentiable.
//
//   C = op(A) · op(B),  op(A) (M,K) = A or Aᵀ (trans_a),  op(B) (K,N) = B or Bᵀ (trans_b)
//
// Backward (dC (M,N) given), with the same kernels, choosing the flags so nothing is transposed by
// a copy, and accumulating into the gradients (accumulate = true):
//   dop(A) = dC · op(B)ᵀ   →  dA (M,K) += dC · op(B)ᵀ        (trans_a = false)
//                             dA (K,M) += op(B) · dCᵀ        (trans_a = true)
//   dop(B) = op(A)ᵀ · dC   →  dB (K,N) += op(A)ᵀ · dC        (trans_b = false)
//                             dB (N,K) += dCᵀ · op(A)        (trans_b = true)
//
// Shapes accepted by matmul(a, b):
//   a (M,K) / (K,M) with trans_a, b (K,N) / (N,K) with trans_b         → (M,N)
//   a (..., M, K), b 2-D shared by every leading index of a              → (..., M, N)
//       (without trans_a the leading dims are folded into M: one big matmul)
//   a (..., M, K), b (..., K, N) with the same leading (batch) dims      → (..., M, N)
//       e.g. attention: q (B,NH,T,HS) · kᵀ with k (B,NH,T,HS) and trans_b → (B,NH,T,T)
//
// linear(x, weight, bias), as PyTorch's nn.Linear and llm.c's matmul_forward:
//   x (..., C), weight (OC, C), bias (OC) or Tensor()  →  y (..., OC) = x · weightᵀ + bias
//   dx += dy · weight,   dweight += dyᵀ · x,   dbias += Σ_rows dy
//
// A frozen bf16 weight: `weight` of linear, and a 2-D `b` of matmul without trans_a, may be a CPU
// bf16 tensor that does not require grad (a base model kept in bf16 under LoRA). The kernels widen
// it to f32 as they pack it (matmul_kernels.h, the _bf16b variants); compute and outputs stay f32
// and the backward gives dx (da) only: dx += dy · weight with the same bf16 operand.
#pragma once
#include "common/ops/matmul_kernels.h"
#include "common/tensor/tensor.h"

namespace sog {

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// The backward of C = op(A)·op(B) on raw buffers: dA += …, dB += … (either may be null to skip it);
// with overwrite_dA, dA = … (dA may then hold garbage on entry: a fresh gradient, Tensor::grad_ref).
void matmul_backward(float* dA, float* dB, const float* dC, const float* A, const float* B, int64_t M, int64_t K,
                     int64_t N, bool trans_a, bool trans_b, bool overwrite_dA = false);
// dA (M,K) += dC (M,N) · op(B)ᵀ with B in bf16 (no trans_a; B gets no gradient).
void matmul_backward_bf16b(float* dA, const float* dC, const uint16_t* B, int64_t M, int64_t K, int64_t N,
                           bool trans_b);

// A weight operand the Linear kernels accept: CPU f32, or CPU bf16 that requires no gradient.
// Throws std::invalid_argument naming the op and the argument otherwise.
void require_linear_weight(const Tensor& w, const char* op, const char* arg);

}  // namespace sog
