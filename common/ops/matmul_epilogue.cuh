// The epilogue shared by the tensor-core matmul kernels (matmul.cu, matmul_wgmma.cu): two
// neighbouring accumulators of a row go to C with the bias and the old C added, masked to the matrix.
#pragma once
#include <cstdint>

#include "common/ops/cuda_ops.h"

namespace sog::cuda {

// C[row][col], C[row][col+1] = v0, v1 (+ bias) (+ old C), masked to the matrix.
__device__ __forceinline__ void store_pair(float* C32, bf16* C16, const bf16* bias, int M, int N, int64_t row,
                                           int64_t col, float v0, float v1, bool accumulate, bool pair_ok) {
  if (row >= M || col >= N) return;
  const bool both = col + 1 < N;
  if (bias) {
    v0 += __bfloat162float(bias[col]);
    if (both) v1 += __bfloat162float(bias[col + 1]);
  }
  const int64_t at = row * N + col;
  if (C32) {
    if (both && pair_ok) {
      float2* p = reinterpret_cast<float2*>(C32 + at);
      float2 old = accumulate ? *p : make_float2(0.f, 0.f);
      *p = make_float2(old.x + v0, old.y + v1);
    } else {
      C32[at] = accumulate ? C32[at] + v0 : v0;
      if (both) C32[at + 1] = accumulate ? C32[at + 1] + v1 : v1;
    }
  } else {
    if (both && pair_ok) {
      __nv_bfloat162* p = reinterpret_cast<__nv_bfloat162*>(C16 + at);
      if (accumulate) {
        const float2 old = __bfloat1622float2(*p);
        v0 += old.x, v1 += old.y;
      }
      *p = __floats2bfloat162_rn(v0, v1);
    } else {
      if (accumulate) v0 += __bfloat162float(C16[at]);
      C16[at] = __float2bfloat16_rn(v0);
      if (both) {
        if (accumulate) v1 += __bfloat162float(C16[at + 1]);
        C16[at + 1] = __float2bfloat16_rn(v1);
      }
    }
  }
}

}  // namespace sog::cuda
