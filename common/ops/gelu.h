// GELU, the tanh approximation GPT-2 uses (elementwise, any shape):
//   y  = ½ x (1 + tanh u),   u = √(2/π) (x + 0.044715 x³)
//   dy/dx = ½ (1 + tanh u) + ½ x (1 − tanh² u) · √(2/π) (1 + 3·0.044715 x²)
#pragma once
#include <cstdint>

#include "common/tensor/tensor.h"

namespace sog {

// Kernels on raw buffers of N floats. The backward accumulates: dinp += dy/dx · dout; or, without
// accumulate, writes dinp = dy/dx · dout (dinp is not read: it may be a fresh, unzeroed gradient).
void gelu_forward(float* out, const float* inp, int64_t N);
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t N, bool accumulate = true);

// The differentiable op.
Tensor gelu(const Tensor& x);

}  // namespace sog
