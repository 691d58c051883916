// reshape: the same numbers under a new shape (any shapes with equal numel, up to 4 dimensions).
//   forward:  out = x viewed as `shape` — no copy, the output shares x's storage
//   backward: dx += dout viewed as x's shape (a reshape moves no number, so its gradient is the
//             upstream gradient, element for element)
// Tensor::reshape is the plain view with no autograd history; this op is the one to use inside a
// model, e.g. (B,T,C) → (B·T,C) before a loss.
#pragma once
#include "common/tensor/tensor.h"

namespace sog {

// The differentiable op. Writing into the output writes into x (they share storage).
Tensor reshape(const Tensor& x, const Shape& shape);

}  // namespace sog
