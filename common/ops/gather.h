// gather_rows: one position of each sequence, e.g. the last real token of every row of a
// right-padded batch (where a reward model reads its score).
//
//   out[b, :] = x[b, index[b], :]            x (B,T,C) f32, index (B) i32 in [0, T) → out (B,C)
//   dx[b, t, :] += dout[b, :]  if t = index[b], else nothing       (index is not differentiable)
//
// Each row b reads and writes only its own slice x[b], so the backward is a plain parallel loop
// over b with no two rows adding into the same place (bitwise the same on any number of threads).
#pragma once
#include <cstdint>

#include "common/tensor/tensor.h"

namespace sog {

// ---- kernels on raw buffers; index must already be in [0, T) (the Tensor op checks) ----
void gather_rows_forward(float* out, const float* x, const int32_t* index, int64_t B, int64_t T, int64_t C);
void gather_rows_backward(float* dx, const float* dout, const int32_t* index, int64_t B, int64_t T, int64_t C);

// The differentiable op. An index outside [0, T) is an error naming its row and value.
Tensor gather_rows(const Tensor& x, const Tensor& index);

}  // namespace sog
