// AdamW on the GPU (the math of adamw.h), fused into one pass over n parameters, and the squared
// gradient norm for clipping.
//   g = grad_scale · grads_i                          (grad_scale < 1 clips the global norm)
//   m ← β1 m + (1 − β1) g          v ← β2 v + (1 − β2) g²
//   θ ← θ − lr · ( m/(1 − β1^t) / (√(v/(1 − β2^t)) + ε) + λ θ )
//   params_bf16 = bf16(θ)                             the copy the next forward reads
// params, grads, m, v (n) fp32; params_bf16 (n) bf16. Traffic per parameter: reads θ, g, m, v
// (16 B), writes θ, m, v (12 B) and the bf16 copy (2 B): 30 B.
//
// squared_norm: out = Σ g² over n fp32 gradients. Deterministic: a fixed grid of kNormBlocks
// blocks (independent of the device), each thread sums a fixed grid-stride subset in order, the
// block reduces in a fixed tree into a partial, and a second one-block kernel adds the partials in
// a fixed tree. The partials live in a __device__ array of this file: calls on different streams
// must not overlap.
//
// Variants (one path each; both memory-bound):
//   adamw_update   a thread per 4 parameters (float4 accesses) in a grid-stride loop when every
//                  pointer is 16-byte aligned, the remainder (or everything, if not) one by one
//   squared_norm   two-stage fixed-order reduction, float4 loads when aligned
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/ops/cuda_ops.h"
#include "common/tensor/cuda_check.h"

namespace sog::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kNormBlocks = 1024;

__device__ float g_norm_partials[kNormBlocks];

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

int grid_for(int64_t work_items) {
  const int64_t blocks = (work_items + kThreads - 1) / kThreads;
  return int(std::max<int64_t>(1, std::min<int64_t>(blocks, 132 * 16)));
}

struct AdamWArgs {
  float lr, beta1, beta2, eps, weight_decay, grad_scale, inv_bias1, inv_bias2;
};

__device__ __forceinline__ float adamw_one(float& p, float& m, float& v, float g, const AdamWArgs& a) {
  g *= a.grad_scale;
  m = a.beta1 * m + (1.0f - a.beta1) * g;
  v = a.beta2 * v + (1.0f - a.beta2) * g * g;
  const float m_hat = m * a.inv_bias1, v_hat = v * a.inv_bias2;
  p -= a.lr * (m_hat / (sqrtf(v_hat) + a.eps) + a.weight_decay * p);
  return p;
}

__global__ void adamw_kernel(float* params, bf16* params_bf16, const float* grads, float* m, float* v,
                             int64_t n_vec4, int64_t n, AdamWArgs a) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = first; i < n_vec4; i += stride) {
    float4 p = reinterpret_cast<float4*>(params)[i];
    const float4 g = reinterpret_cast<const float4*>(grads)[i];
    float4 mm = reinterpret_cast<float4*>(m)[i];
    float4 vv = reinterpret_cast<float4*>(v)[i];
    adamw_one(p.x, mm.x, vv.x, g.x, a);
    adamw_one(p.y, mm.y, vv.y, g.y, a);
    adamw_one(p.z, mm.z, vv.z, g.z, a);
    adamw_one(p.w, mm.w, vv.w, g.w, a);
    reinterpret_cast<float4*>(params)[i] = p;
    reinterpret_cast<float4*>(m)[i] = mm;
    reinterpret_cast<float4*>(v)[i] = vv;
    if (params_bf16) {
      // 4 bf16 = 8 bytes at element 4i: 8-byte aligned because params_bf16 is 16-byte aligned.
      __nv_bfloat162 lo = __floats2bfloat162_rn(p.x, p.y), hi = __floats2bfloat162_rn(p.z, p.w);
      uint2 packed;
      packed.x = *reinterpret_cast<uint32_t*>(&lo);
      packed.y = *reinterpret_cast<uint32_t*>(&hi);
      reinterpret_cast<uint2*>(params_bf16)[i] = packed;
    }
  }
  for (int64_t i = 4 * n_vec4 + first; i < n; i += stride) {
    float p = params[i], mi = m[i], vi = v[i];
    adamw_one(p, mi, vi, grads[i], a);
    params[i] = p;
    m[i] = mi;
    v[i] = vi;
    if (params_bf16) params_bf16[i] = __float2bfloat16_rn(p);
  }
}

// A fixed tree over the block's threads; the result is in thread 0.
__device__ float block_sum(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  __shared__ float warp_sums[kThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = x;
  __syncthreads();
  float total = 0.0f;
  if (threadIdx.x == 0) {
    for (int k = 0; k < kThreads / 32; k++) total += warp_sums[k];
  }
  return total;
}

__global__ void squared_norm_partials_kernel(const float* grads, int64_t n_vec4, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  float sum = 0.0f;
  for (int64_t i = first; i < n_vec4; i += stride) {
    const float4 g = reinterpret_cast<const float4*>(grads)[i];
    sum += g.x * g.x + g.y * g.y + g.z * g.z + g.w * g.w;
  }
  for (int64_t i = 4 * n_vec4 + first; i < n; i += stride) sum += grads[i] * grads[i];
  const float total = block_sum(sum);
  if (threadIdx.x == 0) g_norm_partials[blockIdx.x] = total;
}

__global__ void squared_norm_final_kernel(float* out) {
  float sum = 0.0f;
  for (int k = threadIdx.x; k < kNormBlocks; k += kThreads) sum += g_norm_partials[k];
  const float total = block_sum(sum);
  if (threadIdx.x == 0) *out = total;
}

}  // namespace

void adamw_update(float* params, bf16* params_bf16, const float* grads, float* m, float* v, int64_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t,
                  cudaStream_t stream) {
  if (n <= 0) return;
  AdamWArgs a;
  a.lr = lr;
  a.beta1 = beta1;
  a.beta2 = beta2;
  a.eps = eps;
  a.weight_decay = weight_decay;
  a.grad_scale = grad_scale;
  // The bias corrections as the CPU computes them (adamw.cpp), reciprocals taken on the host.
  a.inv_bias1 = 1.0f / (1.0f - std::pow(beta1, static_cast<float>(t)));
  a.inv_bias2 = 1.0f / (1.0f - std::pow(beta2, static_cast<float>(t)));
  const bool vec = aligned16(params) && aligned16(params_bf16) && aligned16(grads) && aligned16(m) && aligned16(v);
  const int64_t n_vec4 = vec ? n / 4 : 0;
  adamw_kernel<<<grid_for(std::max<int64_t>(n_vec4, n - 4 * n_vec4)), kThreads, 0, stream>>>(
      params, params_bf16, grads, m, v, n_vec4, n, a);
  cudaCheck(cudaGetLastError());
}

void squared_norm(float* out, const float* grads, int64_t n, cudaStream_t stream) {
  const int64_t n_vec4 = (n > 0 && aligned16(grads)) ? n / 4 : 0;
  squared_norm_partials_kernel<<<kNormBlocks, kThreads, 0, stream>>>(grads, n_vec4, std::max<int64_t>(n, 0));
  cudaCheck(cudaGetLastError());
  squared_norm_final_kernel<<<1, kThreads, 0, stream>>>(out);
  cudaCheck(cudaGetLastError());
}

}  // namespace sog::cuda
