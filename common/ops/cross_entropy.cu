// The classifier's softmax + cross-entropy, fused, on the GPU (the math of cross_entropy.h).
// logits (N,Vp) bf16, of which the first V columns are the vocabulary (Vp pads it: 50257 → 50304).
// Per row i with target t_i (−1 = ignored):
//   m_i = max_{v<V} x_{i,v}     s_i = Σ_{v<V} exp(x_{i,v} − m_i)     lse_i = m_i + log s_i
//   losses[i]       = log s_i − (x_{i,t_i} − m_i)              (fp32, unweighted; 0 when ignored)
//   dlogits_{i,v}   = (exp(x_{i,v} − lse_i) − [v = t_i]) · w_i · dloss_scale    for v < V
//   dlogits_{i,v}   = 0                                                          for v ≥ V (padding)
// dlogits overwrite the logits in place (an ignored row becomes all zeros). weights (N) or nullptr
// (w_i = 1). A target outside [0, V) other than −1 is a caller's bug the kernel cannot report; it is
// treated as ignored, so nothing is read out of bounds.
// gather_logprobs_forward: out (N) = (x_{i,ids_i} − m_i) − log s_i = log p_{i,ids_i} (PPO), no
// gradient; an id outside [0, V) gives NaN.
//
// One block per row. Pass 1 is an online max/sum: each thread keeps (m, s) over its strided
// elements, rescaling s when its max grows; the block merges the pairs in a fixed tree
// (deterministic). Pass 2 re-reads the row (from L2: a 50304-wide row is 100 KB) and writes
// dlogits in place. Traffic: 2 reads + 1 write of (N,Vp) bf16.
//
// Variants (one kernel templated on W, the bf16 per access):
//   scalar   W = 1, when Vp % 8 ≠ 0 or the logits are not 16-byte aligned
//   vector   W = 8, 16-byte accesses (the default whenever allowed)
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "common/ops/cuda_bf16_vector.cuh"
#include "common/ops/cuda_ops.h"
#include "common/tensor/cuda_check.h"

namespace sog::cuda {

namespace {

constexpr int kThreads = 512;

// The softmax statistics of a set of numbers: max m and s = Σ exp(x − m); (−∞, 0) is the empty set.
struct MaxSum {
  float m, s;
};

__device__ __forceinline__ MaxSum merge(MaxSum a, MaxSum b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return a;  // both empty
  return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

// (m, s) of row x's first V entries, merged over the block in a fixed order; every thread gets it.
template <int W>
__device__ MaxSum row_max_sum(const bf16* x, int V, int Vp) {
  MaxSum mine{-INFINITY, 0.0f};
  for (int v0 = threadIdx.x * W; v0 < Vp; v0 += kThreads * W) {
    if (v0 >= V) break;  // the rest of this thread's accesses are padding
    float f[W];
    load_bf16<W>(f, x + v0);
    float chunk_max = -INFINITY;
#pragma unroll
    for (int j = 0; j < W; j++) chunk_max = (v0 + j < V) ? fmaxf(chunk_max, f[j]) : chunk_max;
    const float m = fmaxf(mine.m, chunk_max);
    float s = mine.s * expf(mine.m - m);  // mine.m = −∞ → 0 (m is finite here: chunk_max is)
#pragma unroll
    for (int j = 0; j < W; j++) s += (v0 + j < V) ? expf(f[j] - m) : 0.0f;
    mine = {m, s};
  }
  // warp tree, then warp 0 merges the warps' results in order
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const MaxSum other{__shfl_xor_sync(0xffffffffu, mine.m, offset), __shfl_xor_sync(0xffffffffu, mine.s, offset)};
    mine = merge(mine, other);
  }
  __shared__ MaxSum warp_result[kThreads / 32];
  __shared__ MaxSum block_result;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_result[warp] = mine;
  __syncthreads();
  if (threadIdx.x == 0) {
    MaxSum total = warp_result[0];
    for (int k = 1; k < kThreads / 32; k++) total = merge(total, warp_result[k]);
    block_result = total;
  }
  __syncthreads();
  return block_result;
}

template <int W>
__global__ void __launch_bounds__(kThreads) fused_classifier_kernel(bf16* logits, float* losses,
                                                                    const int32_t* targets, const float* weights,
                                                                    float dloss_scale, int V, int Vp) {
  const int64_t row = blockIdx.x;
  bf16* x = logits + row * Vp;  // (Vp): logits in, dlogits out
  const int t = targets[row];
  const bool ignored = t < 0 || t >= V;
  // x_t is read before the block's barrier inside row_max_sum, so before pass 2 overwrites it.
  const float x_t = ignored ? 0.0f : __bfloat162float(x[t]);
  const MaxSum ms = row_max_sum<W>(x, V, Vp);
  const float log_s = logf(ms.s), lse = ms.m + log_s;
  if (threadIdx.x == 0) losses[row] = ignored ? 0.0f : log_s - (x_t - ms.m);

  const float scale = ignored ? 0.0f : (weights ? weights[row] : 1.0f) * dloss_scale;
  for (int v0 = threadIdx.x * W; v0 < Vp; v0 += kThreads * W) {
    float f[W];
    if (ignored) {
#pragma unroll
      for (int j = 0; j < W; j++) f[j] = 0.0f;
    } else {
      load_bf16<W>(f, x + v0);
#pragma unroll
      for (int j = 0; j < W; j++) {
        const int v = v0 + j;
        f[j] = v < V ? (expf(f[j] - lse) - (v == t ? 1.0f : 0.0f)) * scale : 0.0f;
      }
    }
    store_bf16<W>(x + v0, f);
  }
}

template <int W>
__global__ void __launch_bounds__(kThreads) gather_logprobs_kernel(float* out, const bf16* logits,
                                                                   const int32_t* ids, int V, int Vp) {
  const int64_t row = blockIdx.x;
  const bf16* x = logits + row * Vp;
  const MaxSum ms = row_max_sum<W>(x, V, Vp);
  if (threadIdx.x == 0) {
    const int id = ids[row];
    out[row] = (id >= 0 && id < V) ? (__bfloat162float(x[id]) - ms.m) - logf(ms.s) : NAN;
  }
}

}  // namespace

void fused_classifier(bf16* logits, float* losses, const int32_t* targets, const float* weights, float dloss_scale,
                      int N, int V, int Vp, cudaStream_t stream) {
  if (N <= 0) return;
  if (Vp % 8 == 0 && aligned16(logits)) {
    fused_classifier_kernel<8><<<N, kThreads, 0, stream>>>(logits, losses, targets, weights, dloss_scale, V, Vp);
  } else {
    fused_classifier_kernel<1><<<N, kThreads, 0, stream>>>(logits, losses, targets, weights, dloss_scale, V, Vp);
  }
  cudaCheck(cudaGetLastError());
}

void gather_logprobs_forward(float* out, const bf16* logits, const int32_t* ids, int N, int V, int Vp,
                             cudaStream_t stream) {
  if (N <= 0) return;
  if (Vp % 8 == 0 && aligned16(logits)) {
    gather_logprobs_kernel<8><<<N, kThreads, 0, stream>>>(out, logits, ids, V, Vp);
  } else {
    gather_logprobs_kernel<1><<<N, kThreads, 0, stream>>>(out, logits, ids, V, Vp);
  }
  cudaCheck(cudaGetLastError());
}

}  // namespace sog::cuda
