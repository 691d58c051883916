// Causal multi-head self-attention on the GPU (the math of attention.h), bf16 storage, fp32 math.
// Shapes: qkv (B,T,3C) bf16 with q, k, v side by side; head h uses channels h·HS..(h+1)·HS of each;
// out (B,T,C) bf16; lse (B,NH,T) fp32; HS = C/NH.
//   s[t,t2]  = q_t · k_t2 / √HS                       for t2 ≤ t (causal)
//   lse_t    = log Σ_{t2≤t} exp(s[t,t2])              (kept for the backward)
//   P[t,t2]  = exp(s[t,t2] − lse_t)                   out_t = Σ_{t2≤t} P[t,t2] · v_t2
// Backward, with D_t = Σ_i dout_t,i · out_t,i (= Σ_t2 P[t,t2] · dP[t,t2]):
//   dP[t,t2] = dout_t · v_t2        dS[t,t2] = P[t,t2] · (dP[t,t2] − D_t)
//   dq_t = Σ_t2 dS · k_t2 / √HS     dk_t2 = Σ_t dS · q_t / √HS     dv_t2 = Σ_t P · dout_t
//
// FLOPs, causal (T²/2 (t, t2) pairs per (b, h)): forward 4·HS per pair (q·k and P·v) →
// 4·B·NH·HS·T²/2; a backward that computes each product once does 2.5× that (q·k recomputed,
// dout·v, dq, dk, dv). The flash backward here recomputes q·k and dout·v a second time in its dq
// pass (14·HS per pair instead of 10·HS, so no atomics are needed); benchmarks count the 2.5×.
//
// Variants (attention_variants(); the launchers of cuda_ops.h use the last):
//   naive   the scores and probabilities (B,NH,T,T) in fp32 global memory, a thread per score or
//           per output; forward allocates its (B,NH,T,T) workspace from the caching allocator;
//           backward keeps att and dpreatt in the caller's scratch (2·B·NH·T² floats). Any HS.
//   flash   FlashAttention-2 on CUDA cores, fp32 accumulation, no (T,T) matrix.
//           forward: a block takes Br queries of one (b,h); G = HS/32 threads share a query, each
//           holding 32 of its dims (q and the output accumulator in registers); each group holds
//           2 queries, so every K/V value loaded from shared memory serves both (half the loads
//           per FMA of one query per group); K, V tiles of Bc keys are streamed through shared memory
//           (fp32); online softmax in base 2 (exp2f on q pre-scaled by log2(e)/√HS), 16 keys per
//           rescale; tiles above the diagonal skipped; heavy (late) query tiles first. Writes lse.
//           backward: D = rowsum(dout ∘ out) (a warp per row); then a dk/dv pass (a block per Bk
//           keys, HS/16 threads per key with k, v, dk, dv in registers, query tiles streamed from
//           the key block's first position on) and a separate dq pass (the forward's layout,
//           recomputing P and dP). Every output element is written by one thread: deterministic,
//           and scratch is only D (B·NH·T floats). HS ∈ {32, 64, 128}; others throw.
//   attention_forward_cached (decoding) appends k, v to the caches and runs the flash forward
//   kernel with the queries at absolute positions length..length+Tn−1 over the cached keys.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/ops/cuda_bf16_vector.cuh"
#include "common/ops/cuda_ops.h"
#include "common/tensor/cuda.h"
#include "common/tensor/cuda_check.h"

namespace sog::cuda {

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kThreads = 128;  // every flash kernel
constexpr int kKeyChunk = 16;  // keys per online-softmax rescale

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ================================ naive: (B,NH,T,T) in global memory ================================

// att[bh,t,t2] = t2 ≤ t ? q_t · k_t2 · scale : −∞        a thread per (b,h,t,t2)
__global__ void naive_scores_kernel(float* att, const bf16* qkv, int B, int T, int C, int NH, float scale) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(B) * NH * T * T) return;
  const int t2 = int(idx % T), t = int(idx / T % T), h = int(idx / T / T % NH), b = int(idx / T / T / NH);
  const int HS = C / NH;
  if (t2 > t) {
    att[idx] = -INFINITY;
    return;
  }
  const bf16* q = qkv + (int64_t(b) * T + t) * 3 * C + h * HS;
  const bf16* k = qkv + (int64_t(b) * T + t2) * 3 * C + C + h * HS;
  float dot = 0.0f;
  for (int i = 0; i < HS; i++) dot += __bfloat162float(q[i]) * __bfloat162float(k[i]);
  att[idx] = dot * scale;
}

// Row (bh, t) of att: softmax in place over t2 ≤ t (0 beyond), lse written.   a warp per row
__global__ void naive_softmax_kernel(float* att, float* lse, int rows, int T) {
  const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= rows) return;
  const int t = row % T;
  float* a = att + int64_t(row) * T;
  float m = -INFINITY;
  for (int t2 = lane; t2 <= t; t2 += 32) m = fmaxf(m, a[t2]);
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  float s = 0.0f;
  for (int t2 = lane; t2 <= t; t2 += 32) s += expf(a[t2] - m);
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  for (int t2 = lane; t2 < T; t2 += 32) a[t2] = t2 <= t ? expf(a[t2] - m) / s : 0.0f;
  if (lane == 0) lse[row] = m + logf(s);
}

// out[b,t,h·HS+i] = Σ_{t2≤t} att[bh,t,t2] · v[b,t2,h·HS+i]      a thread per output
__global__ void naive_values_kernel(bf16* out, const float* att, const bf16* qkv, int B, int T, int C, int NH) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(B) * T * C) return;
  const int HS = C / NH;
  const int c = int(idx % C), t = int(idx / C % T), b = int(idx / C / T);
  const int h = c / HS, i = c % HS;
  const float* a = att + ((int64_t(b) * NH + h) * T + t) * T;
  const bf16* v = qkv + int64_t(b) * T * 3 * C + 2 * C + h * HS + i;
  float sum = 0.0f;
  for (int t2 = 0; t2 <= t; t2++) sum += a[t2] * __bfloat162float(v[int64_t(t2) * 3 * C]);
  out[idx] = __float2bfloat16_rn(sum);
}

// att[bh,t,t2] = t2 ≤ t ? exp(q_t · k_t2 · scale − lse_t) : 0 (the forward's P, recomputed)
__global__ void naive_probs_from_lse_kernel(float* att, const bf16* qkv, const float* lse, int B, int T, int C,
                                            int NH, float scale) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(B) * NH * T * T) return;
  const int t2 = int(idx % T), t = int(idx / T % T), h = int(idx / T / T % NH), b = int(idx / T / T / NH);
  const int HS = C / NH;
  if (t2 > t) {
    att[idx] = 0.0f;
    return;
  }
  const bf16* q = qkv + (int64_t(b) * T + t) * 3 * C + h * HS;
  const bf16* k = qkv + (int64_t(b) * T + t2) * 3 * C + C + h * HS;
  float dot = 0.0f;
  for (int i = 0; i < HS; i++) dot += __bfloat162float(q[i]) * __bfloat162float(k[i]);
  att[idx] = expf(dot * scale - lse[idx / T]);
}

// datt[bh,t,t2] = t2 ≤ t ? dout_t · v_t2 : 0
__global__ void naive_datt_kernel(float* datt, const bf16* dout, const bf16* qkv, int B, int T, int C, int NH) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(B) * NH * T * T) return;
  const int t2 = int(idx % T), t = int(idx / T % T), h = int(idx / T / T % NH), b = int(idx / T / T / NH);
  const int HS = C / NH;
  if (t2 > t) {
    datt[idx] = 0.0f;
    return;
  }
  const bf16* g = dout + (int64_t(b) * T + t) * C + h * HS;
  const bf16* v = qkv + (int64_t(b) * T + t2) * 3 * C + 2 * C + h * HS;
  float dot = 0.0f;
  for (int i = 0; i < HS; i++) dot += __bfloat162float(g[i]) * __bfloat162float(v[i]);
  datt[idx] = dot;
}

// Row (bh, t), in place: dpreatt = att · (datt − Σ_t3 att · datt)      a warp per row
__global__ void naive_softmax_backward_kernel(float* dpreatt, const float* att, int rows, int T) {
  const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= rows) return;
  const int t = row % T;
  const float* a = att + int64_t(row) * T;
  float* d = dpreatt + int64_t(row) * T;
  float w = 0.0f;
  for (int t2 = lane; t2 <= t; t2 += 32) w += a[t2] * d[t2];
  for (int o = 16; o > 0; o >>= 1) w += __shfl_xor_sync(0xffffffffu, w, o);
  for (int t2 = lane; t2 <= t; t2 += 32) d[t2] = a[t2] * (d[t2] - w);
}

// dq[b,t,h·HS+i] = scale · Σ_{t2≤t} dpreatt[bh,t,t2] · k[b,t2,h·HS+i]       a thread per element
__global__ void naive_dq_kernel(bf16* dqkv, const float* dpreatt, const bf16* qkv, int B, int T, int C, int NH,
                                float scale) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(B) * T * C) return;
  const int HS = C / NH;
  const int c = int(idx % C), t = int(idx / C % T), b = int(idx / C / T);
  const int h = c / HS, i = c % HS;
  const float* d = dpreatt + ((int64_t(b) * NH + h) * T + t) * T;
  const bf16* k = qkv + int64_t(b) * T * 3 * C + C + h * HS + i;
  float sum = 0.0f;
  for (int t2 = 0; t2 <= t; t2++) sum += d[t2] * __bfloat162float(k[int64_t(t2) * 3 * C]);
  dqkv[(int64_t(b) * T + t) * 3 * C + c] = __float2bfloat16_rn(sum * scale);
}

// dk[b,t2,·] = scale · Σ_{t≥t2} dpreatt[bh,t,t2] · q_t,   dv[b,t2,·] = Σ_{t≥t2} att[bh,t,t2] · dout_t
__global__ void naive_dkdv_kernel(bf16* dqkv, const float* dpreatt, const float* att, const bf16* dout,
                                  const bf16* qkv, int B, int T, int C, int NH, float scale) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(B) * T * C) return;
  const int HS = C / NH;
  const int c = int(idx % C), t2 = int(idx / C % T), b = int(idx / C / T);
  const int h = c / HS;
  const int64_t bh_rows = (int64_t(b) * NH + h) * T;
  float dk = 0.0f, dv = 0.0f;
  for (int t = t2; t < T; t++) {
    const int64_t at = (bh_rows + t) * T + t2;
    dk += dpreatt[at] * __bfloat162float(qkv[(int64_t(b) * T + t) * 3 * C + c]);
    dv += att[at] * __bfloat162float(dout[(int64_t(b) * T + t) * C + c]);
  }
  bf16* row = dqkv + (int64_t(b) * T + t2) * 3 * C;
  row[C + c] = __float2bfloat16_rn(dk * scale);
  row[2 * C + c] = __float2bfloat16_rn(dv);
}

int blocks_for(int64_t n, int threads) { return int(ceil_div(n, threads)); }

void naive_forward(bf16* out, float* lse, const bf16* qkv, int B, int T, int C, int NH, cudaStream_t stream) {
  const int64_t n_att = int64_t(B) * NH * T * T;
  const size_t bytes = size_t(n_att) * sizeof(float);
  float* att = static_cast<float*>(cuda_allocate(bytes));  // (B,NH,T,T), back to the cache below
  const float scale = 1.0f / std::sqrt(float(C / NH));
  naive_scores_kernel<<<blocks_for(n_att, 256), 256, 0, stream>>>(att, qkv, B, T, C, NH, scale);
  cudaCheck(cudaGetLastError());
  naive_softmax_kernel<<<blocks_for(int64_t(B) * NH * T, 8), 256, 0, stream>>>(att, lse, B * NH * T, T);
  cudaCheck(cudaGetLastError());
  naive_values_kernel<<<blocks_for(int64_t(B) * T * C, 256), 256, 0, stream>>>(out, att, qkv, B, T, C, NH);
  cudaCheck(cudaGetLastError());
  // Returned to the caching allocator while the kernels may still run: its next user must be on
  // this stream (the tests and benchmarks use one stream; the trainer uses the flash variant).
  cuda_release(att, bytes);
}

int64_t naive_backward_scratch_floats(int B, int T, int, int NH) { return 2 * int64_t(B) * NH * T * T; }

void naive_backward(bf16* dqkv, float* scratch, const bf16* dout, const bf16* qkv, const bf16*, const float* lse,
                    int B, int T, int C, int NH, cudaStream_t stream) {
  const int64_t n_att = int64_t(B) * NH * T * T;
  float* att = scratch;              // (B,NH,T,T)
  float* dpreatt = scratch + n_att;  // (B,NH,T,T)
  const float scale = 1.0f / std::sqrt(float(C / NH));
  naive_probs_from_lse_kernel<<<blocks_for(n_att, 256), 256, 0, stream>>>(att, qkv, lse, B, T, C, NH, scale);
  cudaCheck(cudaGetLastError());
  naive_datt_kernel<<<blocks_for(n_att, 256), 256, 0, stream>>>(dpreatt, dout, qkv, B, T, C, NH);
  cudaCheck(cudaGetLastError());
  naive_softmax_backward_kernel<<<blocks_for(int64_t(B) * NH * T, 8), 256, 0, stream>>>(dpreatt, att, B * NH * T, T);
  cudaCheck(cudaGetLastError());
  naive_dq_kernel<<<blocks_for(int64_t(B) * T * C, 256), 256, 0, stream>>>(dqkv, dpreatt, qkv, B, T, C, NH, scale);
  cudaCheck(cudaGetLastError());
  naive_dkdv_kernel<<<blocks_for(int64_t(B) * T * C, 256), 256, 0, stream>>>(dqkv, dpreatt, att, dout, qkv, B, T,
                                                                             C, NH, scale);
  cudaCheck(cudaGetLastError());
}

// ================================ flash: tiles, online softmax ================================

// 8 consecutive bf16 as floats: one 16-byte load when `vec`, else 8 scalar loads.
__device__ __forceinline__ void load8(float (&f)[8], const bf16* p, bool vec) {
  if (vec) {
    load_bf16<8>(f, p);
    return;
  }
#pragma unroll
  for (int j = 0; j < 8; j++) f[j] = __bfloat162float(p[j]);
}

// rows[r][0..HS) = src row (first + r) for r < ROWS, as floats; rows past n_rows are zero.
// Source row p starts at src + p · row_stride.
template <int HS, int ROWS>
__device__ __forceinline__ void load_tile(float (*rows)[HS], const bf16* src, int64_t row_stride, int first,
                                          int n_rows, bool vec) {
  for (int idx = threadIdx.x; idx < ROWS * HS / 8; idx += kThreads) {
    const int r = idx / (HS / 8), col = idx % (HS / 8) * 8;
    float f[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (first + r < n_rows) load8(f, src + int64_t(first + r) * row_stride + col, vec);
    *reinterpret_cast<float4*>(&rows[r][col]) = make_float4(f[0], f[1], f[2], f[3]);
    *reinterpret_cast<float4*>(&rows[r][col + 4]) = make_float4(f[4], f[5], f[6], f[7]);
  }
}

// A thread of a G-thread group owns the float4 chunks c·G + g (c = 0..D/4−1) of a HS-wide row, so
// the group's lanes read adjacent 16-byte words of a shared row (no bank conflicts).
template <int G, int D>
__device__ __forceinline__ float partial_dot(const float (&a)[D], const float* row, int g) {
  float s = 0.0f;
#pragma unroll
  for (int c = 0; c < D / 4; c++) {
    const float4 x = *reinterpret_cast<const float4*>(row + 4 * (c * G + g));
    s += a[4 * c] * x.x + a[4 * c + 1] * x.y + a[4 * c + 2] * x.z + a[4 * c + 3] * x.w;
  }
  return s;
}

template <int G>
__device__ __forceinline__ float group_sum(float s) {
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

template <int G, int D>
__device__ __forceinline__ void axpy_row(float (&acc)[D], float a, const float* row, int g) {
#pragma unroll
  for (int c = 0; c < D / 4; c++) {
    const float4 x = *reinterpret_cast<const float4*>(row + 4 * (c * G + g));
    acc[4 * c] += a * x.x;
    acc[4 * c + 1] += a * x.y;
    acc[4 * c + 2] += a * x.z;
    acc[4 * c + 3] += a * x.w;
  }
}

// This thread's D dims of a bf16 row (global memory), as floats times `mul`.
template <int G, int D>
__device__ __forceinline__ void load_own_dims(float (&a)[D], const bf16* row, int g, float mul) {
#pragma unroll
  for (int c = 0; c < D / 4; c++) {
#pragma unroll
    for (int j = 0; j < 4; j++) a[4 * c + j] = __bfloat162float(row[4 * (c * G + g) + j]) * mul;
  }
}

template <int G, int D>
__device__ __forceinline__ void store_own_dims(bf16* row, const float (&a)[D], int g, float mul) {
#pragma unroll
  for (int c = 0; c < D / 4; c++) {
#pragma unroll
    for (int j = 0; j < 4; j++) row[4 * (c * G + g) + j] = __float2bfloat16_rn(a[4 * c + j] * mul);
  }
}

// Tile sizes per head size: G threads per query (32 dims each); each thread group holds QPT = 2
// queries (every K/V value read from shared memory serves both: half the shared-memory loads per
// FMA), so Br = 2·128/G queries per block; Bc keys per shared tile (2·Bc·HS floats of K and V:
// 16 KB at HS = 32, 32 KB otherwise).
template <int HS>
struct ForwardTiles {
  static constexpr int G = HS / 32, D = 32, QPT = 2, Br = QPT * kThreads / G, Bc = HS == 128 ? 32 : 64;
};

// Where the forward reads and writes. Row p of head h of batch b:
//   q:   q + b·q_batch + p·q_row + h·HS       (p = query index 0..Tq−1, at absolute position q_pos0 + p)
//   k,v: k + b·kv_batch + h·kv_head + p·kv_row (p = key position 0..)
//   out: out + b·out_batch + p·out_row + h·HS
//   lse: lse[(b·NH + h)·Tq + p] (fp32, natural log), when lse is non-null
struct ForwardArgs {
  bf16* out;
  float* lse;
  const bf16* q;
  const bf16* k;
  const bf16* v;
  int64_t q_batch, q_row, kv_batch, kv_head, kv_row, out_batch, out_row;
  int NH, Tq, q_pos0;
  float scale_log2e;  // log2(e)/√HS
  bool vec;           // 16-byte loads allowed
};

template <int HS>
__global__ void __launch_bounds__(kThreads) flash_forward_kernel(ForwardArgs a) {
  using Tiles = ForwardTiles<HS>;
  constexpr int G = Tiles::G, D = Tiles::D, QPT = Tiles::QPT, Br = Tiles::Br, Bc = Tiles::Bc;
  __shared__ __align__(16) float k_tile[Bc][HS];
  __shared__ __align__(16) float v_tile[Bc][HS];

  const int g = threadIdx.x % G;
  const int q_tile = gridDim.x - 1 - blockIdx.x;  // the late (long) query tiles first
  const int b = blockIdx.y / a.NH, h = blockIdx.y % a.NH;
  const int n_keys = a.q_pos0 + min(q_tile * Br + Br, a.Tq);  // keys the block's last query sees
  int j[QPT], pos[QPT];  // this thread's queries (index in 0..Tq−1) and their absolute positions
  bool valid[QPT];
  float q[QPT][D], o[QPT][D];
  float m[QPT], l[QPT];  // running max (base-2 units) and Σ 2^(s − m), per query
#pragma unroll
  for (int u = 0; u < QPT; u++) {
    j[u] = q_tile * Br + u * (Br / QPT) + threadIdx.x / G;
    valid[u] = j[u] < a.Tq;
    pos[u] = a.q_pos0 + j[u];  // it sees keys 0..pos
    if (valid[u]) {
      load_own_dims<G, D>(q[u], a.q + b * a.q_batch + int64_t(j[u]) * a.q_row + h * HS, g, a.scale_log2e);
    } else {
#pragma unroll
      for (int d = 0; d < D; d++) q[u][d] = 0.0f;
    }
#pragma unroll
    for (int d = 0; d < D; d++) o[u][d] = 0.0f;
    m[u] = -INFINITY;
    l[u] = 0.0f;
  }

  const bf16* k_head = a.k + b * a.kv_batch + h * a.kv_head;
  const bf16* v_head = a.v + b * a.kv_batch + h * a.kv_head;
  for (int k0 = 0; k0 < n_keys; k0 += Bc) {
    __syncthreads();  // the previous tile is no longer read
    load_tile<HS, Bc>(k_tile, k_head, a.kv_row, k0, n_keys, a.vec);
    load_tile<HS, Bc>(v_tile, v_head, a.kv_row, k0, n_keys, a.vec);
    __syncthreads();
    const int k_end = min(Bc, n_keys - k0);
    for (int kc = 0; kc < k_end; kc += kKeyChunk) {
      float s[QPT][kKeyChunk];  // scores, then probabilities
#pragma unroll
      for (int jj = 0; jj < kKeyChunk; jj++) {
        float dot[QPT];
#pragma unroll
        for (int u = 0; u < QPT; u++) dot[u] = 0.0f;
#pragma unroll
        for (int c = 0; c < D / 4; c++) {
          const float4 x = *reinterpret_cast<const float4*>(&k_tile[kc + jj][4 * (c * G + g)]);
#pragma unroll
          for (int u = 0; u < QPT; u++) {
            dot[u] += q[u][4 * c] * x.x + q[u][4 * c + 1] * x.y + q[u][4 * c + 2] * x.z + q[u][4 * c + 3] * x.w;
          }
        }
#pragma unroll
        for (int u = 0; u < QPT; u++) {
          const float sum = group_sum<G>(dot[u]);
          s[u][jj] = (k0 + kc + jj <= pos[u] && kc + jj < k_end) ? sum : -INFINITY;
        }
      }
#pragma unroll
      for (int u = 0; u < QPT; u++) {
        float m_new = m[u];
#pragma unroll
        for (int jj = 0; jj < kKeyChunk; jj++) m_new = fmaxf(m_new, s[u][jj]);
        // A query with no visible key yet keeps m = −∞, l = 0, o = 0 (base 0 avoids −∞ − −∞).
        const float base = m_new == -INFINITY ? 0.0f : m_new;
        const float alpha = exp2f(m[u] - base);
        l[u] *= alpha;
#pragma unroll
        for (int d = 0; d < D; d++) o[u][d] *= alpha;
#pragma unroll
        for (int jj = 0; jj < kKeyChunk; jj++) {
          s[u][jj] = exp2f(s[u][jj] - base);
          l[u] += s[u][jj];
        }
        m[u] = m_new;
      }
#pragma unroll
      for (int jj = 0; jj < kKeyChunk; jj++) {
#pragma unroll
        for (int c = 0; c < D / 4; c++) {
          const float4 x = *reinterpret_cast<const float4*>(&v_tile[kc + jj][4 * (c * G + g)]);
#pragma unroll
          for (int u = 0; u < QPT; u++) {
            o[u][4 * c] += s[u][jj] * x.x;
            o[u][4 * c + 1] += s[u][jj] * x.y;
            o[u][4 * c + 2] += s[u][jj] * x.z;
            o[u][4 * c + 3] += s[u][jj] * x.w;
          }
        }
      }
    }
  }
#pragma unroll
  for (int u = 0; u < QPT; u++) {
    if (!valid[u]) continue;
    store_own_dims<G, D>(a.out + b * a.out_batch + int64_t(j[u]) * a.out_row + h * HS, o[u], g, 1.0f / l[u]);
    if (a.lse && g == 0) a.lse[(int64_t(b) * a.NH + h) * a.Tq + j[u]] = (m[u] + log2f(l[u])) * kLn2;
  }
}

// D[bh,t] = Σ_i dout[b,t,h·HS+i] · out[b,t,h·HS+i]        a warp per (b,t,h)
__global__ void flash_backward_rowdot_kernel(float* Dsum, const bf16* dout, const bf16* out, int B, int T, int C,
                                             int NH) {
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= int64_t(B) * T * NH) return;
  const int h = int(row % NH), t = int(row / NH % T), b = int(row / NH / T);
  const int HS = C / NH;
  const int64_t base = (int64_t(b) * T + t) * C + h * HS;
  float s = 0.0f;
  for (int i = lane; i < HS; i += 32) s += __bfloat162float(dout[base + i]) * __bfloat162float(out[base + i]);
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) Dsum[(int64_t(b) * NH + h) * T + t] = s;
}

// dq pass: the forward's layout with one query per G threads (kDqQueries per block; K and V tiles
// streamed), recomputing
// P = 2^(q·k·log2e/√HS − lse·log2e) and dP = dout · v, then dq += dS · k.
template <int HS>
constexpr int kDqQueries = kThreads / ForwardTiles<HS>::G;

template <int HS>
__global__ void __launch_bounds__(kThreads) flash_backward_dq_kernel(bf16* dqkv, const bf16* dout, const bf16* qkv,
                                                                     const float* lse, const float* Dsum, int T,
                                                                     int C, int NH, float scale_log2e, float scale,
                                                                     bool vec) {
  using Tiles = ForwardTiles<HS>;
  constexpr int G = Tiles::G, D = Tiles::D, Br = kDqQueries<HS>, Bc = Tiles::Bc;
  __shared__ __align__(16) float k_tile[Bc][HS];
  __shared__ __align__(16) float v_tile[Bc][HS];

  const int g = threadIdx.x % G;
  const int q_tile = gridDim.x - 1 - blockIdx.x;
  const int b = blockIdx.y / NH, h = blockIdx.y % NH;
  const int t = q_tile * Br + threadIdx.x / G;
  const bool valid = t < T;
  const int n_keys = min(q_tile * Br + Br, T);
  const int64_t C3 = 3 * int64_t(C);

  float q[D], go[D], dq[D];
  float lse2 = 0.0f, Dt = 0.0f;
  if (valid) {
    load_own_dims<G, D>(q, qkv + (int64_t(b) * T + t) * C3 + h * HS, g, scale_log2e);
    load_own_dims<G, D>(go, dout + (int64_t(b) * T + t) * C + h * HS, g, 1.0f);
    lse2 = lse[(int64_t(b) * NH + h) * T + t] * kLog2e;
    Dt = Dsum[(int64_t(b) * NH + h) * T + t];
  } else {
#pragma unroll
    for (int d = 0; d < D; d++) q[d] = go[d] = 0.0f;
  }
#pragma unroll
  for (int d = 0; d < D; d++) dq[d] = 0.0f;

  const bf16* k_head = qkv + int64_t(b) * T * C3 + C + h * HS;
  const bf16* v_head = k_head + C;
  for (int k0 = 0; k0 < n_keys; k0 += Bc) {
    __syncthreads();
    load_tile<HS, Bc>(k_tile, k_head, C3, k0, n_keys, vec);
    load_tile<HS, Bc>(v_tile, v_head, C3, k0, n_keys, vec);
    __syncthreads();
    const int k_end = min(Bc, n_keys - k0);
    for (int kk = 0; kk < k_end; kk++) {
      const float s2 = group_sum<G>(partial_dot<G, D>(q, k_tile[kk], g));
      const float dp = group_sum<G>(partial_dot<G, D>(go, v_tile[kk], g));
      const float p = (valid && k0 + kk <= t) ? exp2f(s2 - lse2) : 0.0f;
      axpy_row<G, D>(dq, p * (dp - Dt), k_tile[kk], g);
    }
  }
  if (!valid) return;
  store_own_dims<G, D>(dqkv + (int64_t(b) * T + t) * C3 + h * HS, dq, g, scale);
}

// dk/dv pass tiles: GK = HS/16 threads per key (16 dims each), Bk = 128/GK keys per block, query
// tiles of Bq rows of q and dout in shared memory (2·Bq·HS floats: 16 or 32 KB).
template <int HS>
struct KeyTiles {
  static constexpr int G = HS / 16, D = 16, Bk = kThreads / G, Bq = HS == 128 ? 32 : 64;
};

template <int HS>
__global__ void __launch_bounds__(kThreads) flash_backward_dkdv_kernel(bf16* dqkv, const bf16* dout,
                                                                       const bf16* qkv, const float* lse,
                                                                       const float* Dsum, int T, int C, int NH,
                                                                       float scale_log2e, float scale, bool vec) {
  using Tiles = KeyTiles<HS>;
  constexpr int G = Tiles::G, D = Tiles::D, Bk = Tiles::Bk, Bq = Tiles::Bq;
  __shared__ __align__(16) float q_tile[Bq][HS];
  __shared__ __align__(16) float do_tile[Bq][HS];
  __shared__ float lse2_tile[Bq], D_tile[Bq];

  const int g = threadIdx.x % G;
  const int b = blockIdx.y / NH, h = blockIdx.y % NH;
  const int k_start = blockIdx.x * Bk;  // the early (long) key blocks are launched first
  const int kp = k_start + threadIdx.x / G;
  const bool valid = kp < T;
  const int64_t C3 = 3 * int64_t(C);

  float k[D], v[D], dk[D], dv[D];
  if (valid) {
    load_own_dims<G, D>(k, qkv + (int64_t(b) * T + kp) * C3 + C + h * HS, g, scale_log2e);
    load_own_dims<G, D>(v, qkv + (int64_t(b) * T + kp) * C3 + 2 * C + h * HS, g, 1.0f);
  } else {
#pragma unroll
    for (int d = 0; d < D; d++) k[d] = v[d] = 0.0f;
  }
#pragma unroll
  for (int d = 0; d < D; d++) dk[d] = dv[d] = 0.0f;

  const bf16* q_head = qkv + int64_t(b) * T * C3 + h * HS;
  const bf16* do_head = dout + int64_t(b) * T * C + h * HS;
  const float* lse_head = lse + (int64_t(b) * NH + h) * T;
  const float* D_head = Dsum + (int64_t(b) * NH + h) * T;
  for (int q0 = k_start; q0 < T; q0 += Bq) {  // queries before k_start see none of these keys
    __syncthreads();
    load_tile<HS, Bq>(q_tile, q_head, C3, q0, T, vec);
    load_tile<HS, Bq>(do_tile, do_head, C, q0, T, vec);
    for (int r = threadIdx.x; r < Bq; r += kThreads) {
      lse2_tile[r] = q0 + r < T ? lse_head[q0 + r] * kLog2e : 0.0f;
      D_tile[r] = q0 + r < T ? D_head[q0 + r] : 0.0f;
    }
    __syncthreads();
    const int q_end = min(Bq, T - q0);
    for (int r = 0; r < q_end; r++) {
      const float s2 = group_sum<G>(partial_dot<G, D>(k, q_tile[r], g));
      const float p = (valid && kp <= q0 + r) ? exp2f(s2 - lse2_tile[r]) : 0.0f;
      axpy_row<G, D>(dv, p, do_tile[r], g);
      const float dp = group_sum<G>(partial_dot<G, D>(v, do_tile[r], g));
      axpy_row<G, D>(dk, p * (dp - D_tile[r]), q_tile[r], g);
    }
  }
  if (!valid) return;
  store_own_dims<G, D>(dqkv + (int64_t(b) * T + kp) * C3 + C + h * HS, dk, g, scale);
  store_own_dims<G, D>(dqkv + (int64_t(b) * T + kp) * C3 + 2 * C + h * HS, dv, g, 1.0f);
}

// HS = C/NH for the flash kernels: 32, 64 or 128, else a clear error.
int flash_head_size(int C, int NH, const char* op) {
  if (NH <= 0 || C <= 0 || C % NH != 0) {
    throw std::invalid_argument(std::string(op) + " (CUDA): expected C divisible by NH, found C = " +
                                std::to_string(C) + ", NH = " + std::to_string(NH));
  }
  const int HS = C / NH;
  if (HS != 32 && HS != 64 && HS != 128) {
    throw std::invalid_argument(std::string(op) + " (CUDA flash attention): head size HS = C/NH = " +
                                std::to_string(HS) + " is not supported: expected 32, 64 or 128 (C = " +
                                std::to_string(C) + ", NH = " + std::to_string(NH) + ")");
  }
  return HS;
}

template <int HS>
void launch_flash_forward(const ForwardArgs& a, int B, cudaStream_t stream) {
  const dim3 grid(unsigned(ceil_div(a.Tq, ForwardTiles<HS>::Br)), unsigned(B * a.NH));
  flash_forward_kernel<HS><<<grid, kThreads, 0, stream>>>(a);
  cudaCheck(cudaGetLastError());
}

void run_flash_forward(const ForwardArgs& a, int B, int HS, cudaStream_t stream) {
  if (HS == 32) launch_flash_forward<32>(a, B, stream);
  if (HS == 64) launch_flash_forward<64>(a, B, stream);
  if (HS == 128) launch_flash_forward<128>(a, B, stream);
}

void flash_forward(bf16* out, float* lse, const bf16* qkv, int B, int T, int C, int NH, cudaStream_t stream) {
  const int HS = flash_head_size(C, NH, "attention_forward");
  if (B <= 0 || T <= 0) return;
  ForwardArgs a;
  a.out = out;
  a.lse = lse;
  a.q = qkv;
  a.k = qkv + C;
  a.v = qkv + 2 * C;
  a.q_batch = int64_t(T) * 3 * C;
  a.q_row = 3 * int64_t(C);
  a.kv_batch = int64_t(T) * 3 * C;
  a.kv_head = HS;
  a.kv_row = 3 * int64_t(C);
  a.out_batch = int64_t(T) * C;
  a.out_row = C;
  a.NH = NH;
  a.Tq = T;
  a.q_pos0 = 0;
  a.scale_log2e = kLog2e / std::sqrt(float(HS));
  a.vec = aligned16(qkv);  // C is a multiple of 32, so every row and head offset stays aligned
  run_flash_forward(a, B, HS, stream);
}

int64_t flash_backward_scratch_floats(int B, int T, int, int NH) { return int64_t(B) * NH * T; }

template <int HS>
void launch_flash_backward(bf16* dqkv, float* Dsum, const bf16* dout, const bf16* qkv, const float* lse, int B,
                           int T, int C, int NH, bool vec, cudaStream_t stream) {
  const float scale = 1.0f / std::sqrt(float(HS)), scale_log2e = kLog2e * scale;
  const dim3 dq_grid(unsigned(ceil_div(T, kDqQueries<HS>)), unsigned(B * NH));
  flash_backward_dq_kernel<HS><<<dq_grid, kThreads, 0, stream>>>(dqkv, dout, qkv, lse, Dsum, T, C, NH, scale_log2e,
                                                                 scale, vec);
  cudaCheck(cudaGetLastError());
  const dim3 kv_grid(unsigned(ceil_div(T, KeyTiles<HS>::Bk)), unsigned(B * NH));
  flash_backward_dkdv_kernel<HS><<<kv_grid, kThreads, 0, stream>>>(dqkv, dout, qkv, lse, Dsum, T, C, NH,
                                                                   scale_log2e, scale, vec);
  cudaCheck(cudaGetLastError());
}

void flash_backward(bf16* dqkv, float* scratch, const bf16* dout, const bf16* qkv, const bf16* out, const float* lse,
                    int B, int T, int C, int NH, cudaStream_t stream) {
  const int HS = flash_head_size(C, NH, "attention_backward");
  if (B <= 0 || T <= 0) return;
  float* Dsum = scratch;  // (B,NH,T)
  flash_backward_rowdot_kernel<<<blocks_for(int64_t(B) * T * NH, 8), 256, 0, stream>>>(Dsum, dout, out, B, T, C,
                                                                                       NH);
  cudaCheck(cudaGetLastError());
  const bool vec = aligned16(qkv) && aligned16(dout);
  if (HS == 32) launch_flash_backward<32>(dqkv, Dsum, dout, qkv, lse, B, T, C, NH, vec, stream);
  if (HS == 64) launch_flash_backward<64>(dqkv, Dsum, dout, qkv, lse, B, T, C, NH, vec, stream);
  if (HS == 128) launch_flash_backward<128>(dqkv, Dsum, dout, qkv, lse, B, T, C, NH, vec, stream);
}

// kcache/vcache[b,h,length+j,:] = k/v of new token j        a thread per (b, j, c)
__global__ void append_kv_kernel(bf16* kcache, bf16* vcache, const bf16* qkv_new, int B, int Tn, int C, int NH,
                                 int max_T, int length) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(B) * Tn * C) return;
  const int HS = C / NH;
  const int c = int(idx % C), j = int(idx / C % Tn), b = int(idx / C / Tn);
  const int h = c / HS, i = c % HS;
  const bf16* row = qkv_new + (int64_t(b) * Tn + j) * 3 * C;
  const int64_t at = ((int64_t(b) * NH + h) * max_T + length + j) * HS + i;
  kcache[at] = row[C + c];
  vcache[at] = row[2 * C + c];
}

}  // namespace

// ================================ the launchers of cuda_ops.h ================================

const std::vector<AttentionVariant>& attention_variants() {
  static const std::vector<AttentionVariant> variants = {
      {"naive", naive_forward, naive_backward, naive_backward_scratch_floats,
       "(B,NH,T,T) scores and probabilities in fp32 global memory, a thread per score; any HS"},
      {"flash", flash_forward, flash_backward, flash_backward_scratch_floats,
       "FlashAttention-2 on CUDA cores: K/V tiles in shared memory, online softmax, fp32 accumulation, "
       "deterministic dq pass; HS in {32, 64, 128}"},
  };
  return variants;
}

void attention_forward(bf16* out, float* lse, const bf16* qkv, int B, int T, int C, int NH, cudaStream_t stream) {
  flash_forward(out, lse, qkv, B, T, C, NH, stream);
}

int64_t attention_backward_scratch_floats(int B, int T, int C, int NH) {
  return flash_backward_scratch_floats(B, T, C, NH);
}

void attention_backward(bf16* dqkv, float* scratch, const bf16* dout, const bf16* qkv, const bf16* out,
                        const float* lse, int B, int T, int C, int NH, cudaStream_t stream) {
  flash_backward(dqkv, scratch, dout, qkv, out, lse, B, T, C, NH, stream);
}

void attention_forward_cached(bf16* out, bf16* kcache, bf16* vcache, const bf16* qkv_new, int B, int Tn, int C,
                              int NH, int max_T, int length, cudaStream_t stream) {
  const int HS = flash_head_size(C, NH, "attention_forward_cached");
  if (length < 0 || Tn < 0 || length + Tn > max_T) {
    throw std::out_of_range("attention_forward_cached (CUDA): the KV cache holds max_T = " + std::to_string(max_T) +
                            " positions; " + std::to_string(length) + " are filled and " + std::to_string(Tn) +
                            " new tokens would need " + std::to_string(length + Tn));
  }
  if (B <= 0 || Tn <= 0) return;
  append_kv_kernel<<<blocks_for(int64_t(B) * Tn * C, 256), 256, 0, stream>>>(kcache, vcache, qkv_new, B, Tn, C, NH,
                                                                             max_T, length);
  cudaCheck(cudaGetLastError());
  ForwardArgs a;
  a.out = out;
  a.lse = nullptr;
  a.q = qkv_new;
  a.k = kcache;
  a.v = vcache;
  a.q_batch = int64_t(Tn) * 3 * C;
  a.q_row = 3 * int64_t(C);
  a.kv_batch = int64_t(NH) * max_T * HS;
  a.kv_head = int64_t(max_T) * HS;
  a.kv_row = HS;
  a.out_batch = int64_t(Tn) * C;
  a.out_row = C;
  a.NH = NH;
  a.Tq = Tn;
  a.q_pos0 = length;
  a.scale_log2e = kLog2e / std::sqrt(float(HS));
  a.vec = aligned16(kcache) && aligned16(vcache);  // the forward kernel vector-loads only K and V
  run_flash_forward(a, B, HS, stream);
}

}  // namespace sog::cuda
