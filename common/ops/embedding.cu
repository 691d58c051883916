// GPT-2's encoder on the GPU (the math of embedding.h): token plus position embedding.
//   out[b,t,:] = wte[ids[b,t], :] + wpe[t, :]          ids (B,T) i32, wte (V,C), wpe (maxT,C) bf16 → (B,T,C) bf16
//   dwte[v, :] += Σ_{(b,t) : ids[b,t] = v} dout[b,t,:]   dwte (V,C) fp32
//   dwpe[t, :] += Σ_b dout[b,t,:]                        dwpe (maxT,C) fp32
//
// Variants:
//   forward      a thread per 8 channels (16-byte accesses) when C % 8 == 0 and the pointers are
//                aligned, else a thread per channel
//   backward     dwpe: a thread per (t, c) adds b = 0, 1, … in order onto dwpe[t, c].
//                dwte: a warp per position n; the warp whose n is the FIRST position holding its id
//                (it scans ids[0..n) for an earlier one, 32 at a time) owns that vocabulary row: it
//                walks ids[n..N) with a ballot and adds the matching dout rows onto dwte[id] in
//                position order. No atomics: bitwise the same on every run, and the same additions
//                in the same order as the CPU's bucketed embedding_backward (so bitwise equal to it).
//                Cost: the owner test reads ~N²/2 ids (from L1: 64 KB at N = 16384), and a frequent
//                id's row is summed serially by one warp; both are small next to a training step.
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

// Vector path: one thread per 8 channels of one (b, t). idx = (b·T + t)·(C/8) + c8.
__global__ void encoder_forward_vec8_kernel(bf16* out, const int32_t* ids, const bf16* wte, const bf16* wpe, int B,
                                            int T, int C) {
  const int C8 = C / 8;
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(B) * T * C8) return;
  const int64_t bt = idx / C8;
  const int c = int(idx % C8) * 8;
  const int t = int(bt % T);
  const Bf16x8 tok = *reinterpret_cast<const Bf16x8*>(wte + int64_t(ids[bt]) * C + c);
  const Bf16x8 pos = *reinterpret_cast<const Bf16x8*>(wpe + int64_t(t) * C + c);
  Bf16x8 r;
#pragma unroll
  for (int j = 0; j < 4; j++) {
    const float2 a = __bfloat1622float2(tok.h[j]), p = __bfloat1622float2(pos.h[j]);
    r.h[j] = __floats2bfloat162_rn(a.x + p.x, a.y + p.y);
  }
  *reinterpret_cast<Bf16x8*>(out + bt * C + c) = r;
}

__global__ void encoder_forward_scalar_kernel(bf16* out, const int32_t* ids, const bf16* wte, const bf16* wpe,
                                              int B, int T, int C) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(B) * T * C) return;
  const int64_t bt = idx / C;
  const int c = int(idx % C);
  const int t = int(bt % T);
  out[idx] = __float2bfloat16_rn(__bfloat162float(wte[int64_t(ids[bt]) * C + c]) +
                                 __bfloat162float(wpe[int64_t(t) * C + c]));
}

// dwte[v, :] += Σ dout[n, :] over the positions n holding id v, in position order. A warp per
// position; only the warp of the first position holding its id does the work (see the header).
constexpr int kAccPerLane = 8;  // channels per lane per pass: a pass covers 256 channels
__global__ void encoder_backward_wte_kernel(float* dwte, const bf16* dout, const int32_t* ids, int N, int C) {
  const int n = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (n >= N) return;  // the whole warp
  const int id = ids[n];
  bool earlier = false;  // does a position before n hold the same id?
  for (int m0 = 0; m0 < n && !earlier; m0 += 32) {
    const int m = m0 + lane;
    earlier = __any_sync(0xffffffffu, m < n && ids[m] == id);
  }
  if (earlier) return;  // that position's warp owns the row
  float* row = dwte + int64_t(id) * C;
  for (int c0 = 0; c0 < C; c0 += 32 * kAccPerLane) {
    float acc[kAccPerLane];  // channel c0 + j·32 + lane (coalesced across the warp)
#pragma unroll
    for (int j = 0; j < kAccPerLane; j++) {
      const int c = c0 + j * 32 + lane;
      acc[j] = c < C ? row[c] : 0.0f;
    }
    for (int m0 = n; m0 < N; m0 += 32) {
      const int m = m0 + lane;
      unsigned hits = __ballot_sync(0xffffffffu, m < N && ids[m] == id);
      while (hits) {  // the matching positions of this group of 32, in increasing order
        const int k = __ffs(hits) - 1;
        hits &= hits - 1;
        const bf16* g = dout + int64_t(m0 + k) * C;
#pragma unroll
        for (int j = 0; j < kAccPerLane; j++) {
          const int c = c0 + j * 32 + lane;
          if (c < C) acc[j] += __bfloat162float(g[c]);
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kAccPerLane; j++) {
      const int c = c0 + j * 32 + lane;
      if (c < C) row[c] = acc[j];
    }
  }
}

// dwpe[t, c] += dout[b, t, c] for b = 0, 1, … in order (the CPU's order).
__global__ void encoder_backward_wpe_kernel(float* dwpe, const bf16* dout, int B, int T, int C) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(T) * C) return;
  float sum = dwpe[idx];
  for (int b = 0; b < B; b++) sum += __bfloat162float(dout[int64_t(b) * T * C + idx]);
  dwpe[idx] = sum;
}

int blocks_for(int64_t n) { return int((n + kThreads - 1) / kThreads); }

}  // namespace

void encoder_forward(bf16* out, const int32_t* ids, const bf16* wte, const bf16* wpe, int B, int T, int C,
                     cudaStream_t stream) {
  if (B <= 0 || T <= 0 || C <= 0) return;
  if (C % 8 == 0 && aligned16(out) && aligned16(wte) && aligned16(wpe)) {
    encoder_forward_vec8_kernel<<<blocks_for(int64_t(B) * T * (C / 8)), kThreads, 0, stream>>>(out, ids, wte, wpe,
                                                                                               B, T, C);
  } else {
    encoder_forward_scalar_kernel<<<blocks_for(int64_t(B) * T * C), kThreads, 0, stream>>>(out, ids, wte, wpe, B,
                                                                                           T, C);
  }
  cudaCheck(cudaGetLastError());
}

void encoder_backward(float* dwte, float* dwpe, const bf16* dout, const int32_t* ids, int B, int T, int C,
                      cudaStream_t stream) {
  if (B <= 0 || T <= 0 || C <= 0) return;
  if (dwte) {
    const int N = B * T;
    encoder_backward_wte_kernel<<<(N + kThreads / 32 - 1) / (kThreads / 32), kThreads, 0, stream>>>(dwte, dout, ids,
                                                                                                    N, C);
    cudaCheck(cudaGetLastError());
  }
  if (dwpe) {
    encoder_backward_wpe_kernel<<<blocks_for(int64_t(T) * C), kThreads, 0, stream>>>(dwpe, dout, B, T, C);
    cudaCheck(cudaGetLastError());
  }
}

}  // namespace sog::cuda
