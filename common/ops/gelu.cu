// GELU on the GPU (the tanh approximation of gelu.h), bf16 storage with fp32 arithmetic.
//   out  = ½ x (1 + tanh u),   u = √(2/π) (x + 0.044715 x³)
//   dinp = [½ (1 + tanh u) + ½ x (1 − tanh² u) · √(2/π) (1 + 3·0.044715 x²)] · dout
// inp, out, dout, dinp (n) bf16, any shape flattened. dinp is overwritten (not accumulated, unlike
// the CPU kernel: the GPU trainer's MLP writes each gradient once) and may alias dout.
//
// Memory-bound: forward moves 2n + 2n bytes, backward 4n + 2n. Code paths (one kernel, templated):
//   scalar   W = 1: one bf16 per access; used when a pointer is not 16-byte aligned
//   vector   W = 8: 16-byte accesses (8 bf16) in a grid-stride loop, the few tail elements scalar
// The launchers take the vector path whenever the pointers allow.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "common/ops/cuda_bf16_vector.cuh"
#include "common/ops/cuda_ops.h"
#include "common/tensor/cuda_check.h"

namespace sog::cuda {

namespace {

constexpr int kThreads = 256;
constexpr float kGeluScale = 0.7978845608028654f;  // √(2/π)

int grid_for(int64_t work_items) {
  const int64_t blocks = (work_items + kThreads - 1) / kThreads;
  return int(std::max<int64_t>(1, std::min<int64_t>(blocks, 132 * 16)));
}

__device__ __forceinline__ float gelu_value(float x) {
  const float u = kGeluScale * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + tanhf(u));
}

__device__ __forceinline__ float gelu_derivative(float x) {
  const float u = kGeluScale * (x + 0.044715f * x * x * x);
  const float th = tanhf(u);
  const float sech2 = 1.0f - th * th;
  return 0.5f * (1.0f + th) + 0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * 0.044715f * x * x);
}

// Vectors [0, n_vec8) of 8 elements; then elements [8·n_vec8, n) one by one.
__global__ void gelu_forward_kernel(bf16* out, const bf16* inp, int64_t n_vec8, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t v = first; v < n_vec8; v += stride) {
    Bf16x8 x = reinterpret_cast<const Bf16x8*>(inp)[v];
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const float2 f = __bfloat1622float2(x.h[j]);
      x.h[j] = __floats2bfloat162_rn(gelu_value(f.x), gelu_value(f.y));
    }
    reinterpret_cast<Bf16x8*>(out)[v] = x;
  }
  for (int64_t i = 8 * n_vec8 + first; i < n; i += stride) {
    out[i] = __float2bfloat16_rn(gelu_value(__bfloat162float(inp[i])));
  }
}

__global__ void gelu_backward_kernel(bf16* dinp, const bf16* inp, const bf16* dout, int64_t n_vec8, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t v = first; v < n_vec8; v += stride) {
    const Bf16x8 x = reinterpret_cast<const Bf16x8*>(inp)[v];
    const Bf16x8 g = reinterpret_cast<const Bf16x8*>(dout)[v];
    Bf16x8 r;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const float2 xf = __bfloat1622float2(x.h[j]), gf = __bfloat1622float2(g.h[j]);
      r.h[j] = __floats2bfloat162_rn(gelu_derivative(xf.x) * gf.x, gelu_derivative(xf.y) * gf.y);
    }
    reinterpret_cast<Bf16x8*>(dinp)[v] = r;
  }
  for (int64_t i = 8 * n_vec8 + first; i < n; i += stride) {
    dinp[i] = __float2bfloat16_rn(gelu_derivative(__bfloat162float(inp[i])) * __bfloat162float(dout[i]));
  }
}

}  // namespace

void gelu_forward(bf16* out, const bf16* inp, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  const int64_t n_vec8 = (aligned16(out) && aligned16(inp)) ? n / 8 : 0;
  gelu_forward_kernel<<<grid_for(std::max<int64_t>(n_vec8, n - 8 * n_vec8)), kThreads, 0, stream>>>(out, inp,
                                                                                                   n_vec8, n);
  cudaCheck(cudaGetLastError());
}

void gelu_backward(bf16* dinp, const bf16* inp, const bf16* dout, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  const int64_t n_vec8 = (aligned16(dinp) && aligned16(inp) && aligned16(dout)) ? n / 8 : 0;
  gelu_backward_kernel<<<grid_for(std::max<int64_t>(n_vec8, n - 8 * n_vec8)), kThreads, 0, stream>>>(
      dinp, inp, dout, n_vec8, n);
  cudaCheck(cudaGetLastError());
}

}  // namespace sog::cuda
