// Argument checks shared by every op: each failure names the op, the argument, what was expected
// and what was found.
#pragma once
#include <string>

#include "common/tensor/tensor.h"

namespace sog {

// A CPU f32 tensor (the CPU kernels' input).
void require_cpu_f32(const Tensor& t, const char* op, const char* arg);
// A CPU i32 tensor (token ids, targets).
void require_cpu_i32(const Tensor& t, const char* op, const char* arg);
// Two tensors of the same shape.
void require_same_shape(const Tensor& a, const Tensor& b, const char* op);
// A tensor with exactly `ndim` dimensions.
void require_ndim(const Tensor& t, int ndim, const char* op, const char* arg);

// Accumulate `src` into the gradient of `t` if `t` requires grad: grad(t) += src (same numel).
void accumulate_grad(const Tensor& t, const float* src);

}  // namespace sog
