// The elementwise CUDA launchers of cuda_ops.h: precision conversions and the residual gradient's
// in-place add. All three are memory-bound, so each thread moves 16 bytes per access (8 bf16 or
// 4 fp32) in a grid-stride loop, and the few elements past the last whole vector (or all of them,
// when a pointer is not 16-byte aligned) go through a scalar loop.
//
//   float_to_bf16  out (n) bf16 = round-to-nearest-even(inp (n) fp32)     reads 4n B, writes 2n B
//   bf16_to_float  out (n) fp32 = inp (n) bf16 (exact)                     reads 2n B, writes 4n B
//   add_inplace    a (n) bf16 = bf16(float(a) + float(b))                   reads 4n B, writes 2n B
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

// Enough blocks to fill the device a few times over; the grid-stride loop covers the rest.
int grid_for(int64_t work_items) {
  const int64_t blocks = (work_items + kThreads - 1) / kThreads;
  return int(std::max<int64_t>(1, std::min<int64_t>(blocks, 132 * 16)));
}

// 8 bf16 in 16 bytes.
// Vectors [0, n_vec) in 16-byte accesses; elements [tail_start, n) one by one.
__global__ void float_to_bf16_kernel(bf16* out, const float* inp, int64_t n_vec8, int64_t tail_start, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t v = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; v < n_vec8; v += stride) {
    const float4 lo = reinterpret_cast<const float4*>(inp)[2 * v];
    const float4 hi = reinterpret_cast<const float4*>(inp)[2 * v + 1];
    Bf16x8 r;
    r.h[0] = __floats2bfloat162_rn(lo.x, lo.y);
    r.h[1] = __floats2bfloat162_rn(lo.z, lo.w);
    r.h[2] = __floats2bfloat162_rn(hi.x, hi.y);
    r.h[3] = __floats2bfloat162_rn(hi.z, hi.w);
    reinterpret_cast<Bf16x8*>(out)[v] = r;
  }
  for (int64_t i = tail_start + int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = __float2bfloat16_rn(inp[i]);
  }
}

__global__ void bf16_to_float_kernel(float* out, const bf16* inp, int64_t n_vec8, int64_t tail_start, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t v = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; v < n_vec8; v += stride) {
    const Bf16x8 x = reinterpret_cast<const Bf16x8*>(inp)[v];
    const float2 a = __bfloat1622float2(x.h[0]), b = __bfloat1622float2(x.h[1]);
    const float2 c = __bfloat1622float2(x.h[2]), d = __bfloat1622float2(x.h[3]);
    reinterpret_cast<float4*>(out)[2 * v] = make_float4(a.x, a.y, b.x, b.y);
    reinterpret_cast<float4*>(out)[2 * v + 1] = make_float4(c.x, c.y, d.x, d.y);
  }
  for (int64_t i = tail_start + int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = __bfloat162float(inp[i]);
  }
}

__global__ void add_inplace_kernel(bf16* a, const bf16* b, int64_t n_vec8, int64_t tail_start, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t v = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; v < n_vec8; v += stride) {
    Bf16x8 x = reinterpret_cast<const Bf16x8*>(a)[v];
    const Bf16x8 y = reinterpret_cast<const Bf16x8*>(b)[v];
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const float2 p = __bfloat1622float2(x.h[j]), q = __bfloat1622float2(y.h[j]);
      x.h[j] = __floats2bfloat162_rn(p.x + q.x, p.y + q.y);
    }
    reinterpret_cast<Bf16x8*>(a)[v] = x;
  }
  for (int64_t i = tail_start + int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    a[i] = __float2bfloat16_rn(__bfloat162float(a[i]) + __bfloat162float(b[i]));
  }
}

}  // namespace

void float_to_bf16(bf16* out, const float* inp, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  const int64_t n_vec8 = (aligned16(out) && aligned16(inp)) ? n / 8 : 0;
  float_to_bf16_kernel<<<grid_for(std::max<int64_t>(n_vec8, n - 8 * n_vec8)), kThreads, 0, stream>>>(
      out, inp, n_vec8, 8 * n_vec8, n);
  cudaCheck(cudaGetLastError());
}

void bf16_to_float(float* out, const bf16* inp, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  const int64_t n_vec8 = (aligned16(out) && aligned16(inp)) ? n / 8 : 0;
  bf16_to_float_kernel<<<grid_for(std::max<int64_t>(n_vec8, n - 8 * n_vec8)), kThreads, 0, stream>>>(
      out, inp, n_vec8, 8 * n_vec8, n);
  cudaCheck(cudaGetLastError());
}

void add_inplace(bf16* a, const bf16* b, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  const int64_t n_vec8 = (aligned16(a) && aligned16(b)) ? n / 8 : 0;
  add_inplace_kernel<<<grid_for(std::max<int64_t>(n_vec8, n - 8 * n_vec8)), kThreads, 0, stream>>>(
      a, b, n_vec8, 8 * n_vec8, n);
  cudaCheck(cudaGetLastError());
}

}  // namespace sog::cuda
