// A Linear layer with a low-rank adapter beside it (LoRA, Hu et al. 2021), fused into one op.
//
//   y = x Wᵀ + b + s · (xa Aᵀ) Bᵀ          x, xa (..., C)   W (OC, C)   b (OC)   A (r, C)   B (OC, r)
//
// s = alpha / r, and xa is the input of the adapter path: x itself, or dropout(x) while training
// (the dropout op records its own mask). W may be a frozen bf16 weight (matmul.h); A and B are f32.
// With M = the rows of x, the forward keeps u = s · xa Aᵀ (M, r) for the backward:
//   y  = x Wᵀ + b                      (M, OC)   the base Linear
//   u  = s · xa Aᵀ                     (M, r)    down-projection to the rank
//   y += u Bᵀ                          (M, OC)   up-projection, accumulated into y
// Backward (dy (M,OC) given), each term only for an input that requires grad:
//   dx  += dy W          dW += dyᵀ x          db += Σ_rows dy          (the base Linear's)
//   dB  += dyᵀ u         (OC, r)
//   du   = s · dy B      (M, r)
//   dA  += duᵀ xa        (r, C)
//   dxa += du A          (M, C)
// The adapter adds 2·M·r·(C + OC) flops to the base's 2·M·C·OC forward: for r = 8 and C = 768 that
// is ~2% of a qkv projection. With the base frozen (W, b not requiring grad) the backward skips dW,
// the largest product of a Linear's backward, which is where LoRA training saves time.
#pragma once
#include "common/tensor/tensor.h"

namespace sog {

// x (..., C), weight (OC, C) f32 or frozen bf16, bias (OC) or Tensor(), x_adapter (..., C) the same
// shape as x (x itself, or dropout(x)), A (r, C), B (OC, r), scale = alpha/r  →  y (..., OC).
Tensor lora_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& x_adapter, const Tensor& A,
                   const Tensor& B, float scale);

}  // namespace sog
