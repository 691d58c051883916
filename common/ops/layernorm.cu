// LayerNorm on the GPU (the math of layernorm.h), bf16 storage, fp32 statistics, eps = 1e-5 (GPT-2).
//   mean = (1/C) Σ_i x_i     rstd = 1 / √((1/C) Σ_i (x_i − mean)² + eps)
//   out_i = (x_i − mean) · rstd · weight_i + bias_i
// inp, out (N,C) bf16; weight, bias (C) bf16; mean, rstd (N) fp32.
// fused_residual_layernorm_forward first forms residual = bf16(inp1 + inp2) (N,C) and normalises
// that (rounded) residual, so the LayerNorm sees exactly what the residual stream stores.
//
// Backward (dnorm_i = weight_i · dout_i; means over the row's C channels):
//   dinp_i    += rstd · (dnorm_i − mean(dnorm) − norm_i · mean(dnorm · norm))     (N,C) bf16
//   dweight_i += Σ_rows dout_i · norm_i                                               (C) fp32
//   dbias_i   += Σ_rows dout_i                                                        (C) fp32
// Deterministic two-stage reduction of dweight/dbias: block k owns rows k·32 .. k·32+31 (the
// CPU's kLayerNormRowsPerChunk); its threads sum those rows per channel, in row order, into
// scratch (blocks, 2, C); a second kernel adds the blocks' partials per channel in block order.
// No atomics: bitwise the same on every run.
//
// Variants (every kernel is templated on W, the bf16 per access):
//   forward   one warp per row, three passes over the row (mean, variance, output; the 2nd and 3rd
//             hit L1), W = 8 (16-byte accesses) when C % 8 == 0 and the pointers are aligned, else W = 1
//   backward  one block per 32 rows: a warp per row computes dinp, then the block's threads turn to
//             the channels for the dweight/dbias partials; then the fixed-order partial sum
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "common/ops/cuda_bf16_vector.cuh"
#include "common/ops/cuda_ops.h"
#include "common/tensor/cuda_check.h"

namespace sog::cuda {

namespace {

constexpr float kEps = 1e-5f;
constexpr int kForwardWarps = 8;       // rows per forward block
constexpr int kBackwardRowsPerBlock = 32;
constexpr int kBackwardThreads = 256;  // 8 warps: each takes 4 of the block's 32 rows

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The row's input: x = inp1 (plain), or x = bf16(inp1 + inp2) (fused residual). Rounded the same
// way at every read, so the three passes see the same numbers.
template <int W>
__device__ __forceinline__ void load_input(float (&x)[W], const bf16* inp1, const bf16* inp2, int64_t offset) {
  load_bf16<W>(x, inp1 + offset);
  if (inp2) {
    float y[W];
    load_bf16<W>(y, inp2 + offset);
#pragma unroll
    for (int j = 0; j < W; j++) x[j] = __bfloat162float(__float2bfloat16_rn(x[j] + y[j]));
  }
}

// One warp per row. residual (N,C) is written when non-null (then inp2 is non-null too).
template <int W>
__global__ void layernorm_forward_kernel(bf16* residual, bf16* out, float* mean, float* rstd, const bf16* inp1,
                                         const bf16* inp2, const bf16* weight, const bf16* bias, int N, int C) {
  const int lane = threadIdx.x % 32;
  const int row = blockIdx.x * kForwardWarps + threadIdx.x / 32;
  if (row >= N) return;
  const int64_t base = int64_t(row) * C;

  float sum = 0.0f;
  for (int c = lane * W; c < C; c += 32 * W) {
    float x[W];
    load_input<W>(x, inp1, inp2, base + c);
#pragma unroll
    for (int j = 0; j < W; j++) sum += x[j];
    if (residual) store_bf16<W>(residual + base + c, x);
  }
  const float m = warp_sum(sum) / float(C);

  float var = 0.0f;  // Σ (x − mean)², the two-pass form (no cancellation)
  for (int c = lane * W; c < C; c += 32 * W) {
    float x[W];
    load_input<W>(x, inp1, inp2, base + c);
#pragma unroll
    for (int j = 0; j < W; j++) var += (x[j] - m) * (x[j] - m);
  }
  const float s = rsqrtf(warp_sum(var) / float(C) + kEps);

  for (int c = lane * W; c < C; c += 32 * W) {
    float x[W], w[W], b[W], o[W];
    load_input<W>(x, inp1, inp2, base + c);
    load_bf16<W>(w, weight + c);
    load_bf16<W>(b, bias + c);
#pragma unroll
    for (int j = 0; j < W; j++) o[j] = (x[j] - m) * s * w[j] + b[j];
    store_bf16<W>(out + base + c, o);
  }
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = s;
  }
}

// Block k: rows k·32 .. k·32+31. Phase 1: dinp (a warp per row). Phase 2: the block's partial
// dweight and dbias per channel (a thread per channel, rows in order) → scratch (blocks, 2, C).
template <int W>
__global__ void layernorm_backward_kernel(bf16* dinp, float* scratch, const bf16* dout, const bf16* inp,
                                          const bf16* weight, const float* mean, const float* rstd, int N, int C) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int row0 = blockIdx.x * kBackwardRowsPerBlock;
  const int row_end = min(N, row0 + kBackwardRowsPerBlock);

  for (int row = row0 + warp; row < row_end; row += kBackwardThreads / 32) {
    const int64_t base = int64_t(row) * C;
    const float m = mean[row], s = rstd[row];
    float dnorm_sum = 0.0f, dnorm_norm_sum = 0.0f;
    for (int c = lane * W; c < C; c += 32 * W) {
      float x[W], g[W], w[W];
      load_bf16<W>(x, inp + base + c);
      load_bf16<W>(g, dout + base + c);
      load_bf16<W>(w, weight + c);
#pragma unroll
      for (int j = 0; j < W; j++) {
        const float dnorm = w[j] * g[j];
        dnorm_sum += dnorm;
        dnorm_norm_sum += dnorm * (x[j] - m) * s;
      }
    }
    const float dnorm_mean = warp_sum(dnorm_sum) / float(C);
    const float dnorm_norm_mean = warp_sum(dnorm_norm_sum) / float(C);
    for (int c = lane * W; c < C; c += 32 * W) {
      float x[W], g[W], w[W], d[W];
      load_bf16<W>(x, inp + base + c);
      load_bf16<W>(g, dout + base + c);
      load_bf16<W>(w, weight + c);
      load_bf16<W>(d, dinp + base + c);
#pragma unroll
      for (int j = 0; j < W; j++) {
        const float norm = (x[j] - m) * s;
        d[j] += (w[j] * g[j] - dnorm_mean - norm * dnorm_norm_mean) * s;
      }
      store_bf16<W>(dinp + base + c, d);
    }
  }

  // Phase 2 reads only dout, inp, mean, rstd (not dinp), so it needs no barrier after phase 1.
  float* partial_w = scratch + int64_t(blockIdx.x) * 2 * C;  // (C)
  float* partial_b = partial_w + C;                           // (C)
  for (int c = threadIdx.x; c < C; c += kBackwardThreads) {
    float sw = 0.0f, sb = 0.0f;
    for (int row = row0; row < row_end; row++) {
      const int64_t at = int64_t(row) * C + c;
      const float g = __bfloat162float(dout[at]);
      sw += g * (__bfloat162float(inp[at]) - mean[row]) * rstd[row];
      sb += g;
    }
    partial_w[c] = sw;
    partial_b[c] = sb;
  }
}

// dweight_c += Σ_k partial_w[k][c], dbias_c += Σ_k partial_b[k][c] in a fixed order: a block owns
// 32 channels (a warp's lanes) and 8 slices (its warps); slice s sums partials k = s, s+8, s+16, …
// in order, then slice 0 adds the 8 slice sums in order.
constexpr int kParamSlices = 8;
__global__ void layernorm_param_grad_kernel(float* dweight, float* dbias, const float* scratch, int blocks, int C) {
  __shared__ float slice_w[kParamSlices][32], slice_b[kParamSlices][32];
  const int lane = threadIdx.x % 32, slice = threadIdx.x / 32;
  const int c = blockIdx.x * 32 + lane;
  float sw = 0.0f, sb = 0.0f;
  if (c < C) {
    for (int k = slice; k < blocks; k += kParamSlices) {
      sw += scratch[int64_t(k) * 2 * C + c];
      sb += scratch[int64_t(k) * 2 * C + C + c];
    }
  }
  slice_w[slice][lane] = sw;
  slice_b[slice][lane] = sb;
  __syncthreads();
  if (slice == 0 && c < C) {
    float tw = 0.0f, tb = 0.0f;
    for (int k = 0; k < kParamSlices; k++) {
      tw += slice_w[k][lane];
      tb += slice_b[k][lane];
    }
    if (dweight) dweight[c] += tw;
    if (dbias) dbias[c] += tb;
  }
}

void launch_forward(bf16* residual, bf16* out, float* mean, float* rstd, const bf16* inp1, const bf16* inp2,
                    const bf16* weight, const bf16* bias, int N, int C, cudaStream_t stream) {
  if (N <= 0 || C <= 0) return;
  const bool vec = C % 8 == 0 && aligned16(out) && aligned16(inp1) && aligned16(weight) && aligned16(bias) &&
                   (!inp2 || aligned16(inp2)) && (!residual || aligned16(residual));
  const int blocks = (N + kForwardWarps - 1) / kForwardWarps;
  if (vec) {
    layernorm_forward_kernel<8><<<blocks, kForwardWarps * 32, 0, stream>>>(residual, out, mean, rstd, inp1, inp2,
                                                                            weight, bias, N, C);
  } else {
    layernorm_forward_kernel<1><<<blocks, kForwardWarps * 32, 0, stream>>>(residual, out, mean, rstd, inp1, inp2,
                                                                            weight, bias, N, C);
  }
  cudaCheck(cudaGetLastError());
}

}  // namespace

void layernorm_forward(bf16* out, float* mean, float* rstd, const bf16* inp, const bf16* weight, const bf16* bias,
                       int N, int C, cudaStream_t stream) {
  launch_forward(nullptr, out, mean, rstd, inp, nullptr, weight, bias, N, C, stream);
}

void fused_residual_layernorm_forward(bf16* residual, bf16* out, float* mean, float* rstd, const bf16* inp1,
                                      const bf16* inp2, const bf16* weight, const bf16* bias, int N, int C,
                                      cudaStream_t stream) {
  launch_forward(residual, out, mean, rstd, inp1, inp2, weight, bias, N, C, stream);
}

int64_t layernorm_backward_scratch_floats(int N, int C) {
  const int64_t blocks = (int64_t(N) + kBackwardRowsPerBlock - 1) / kBackwardRowsPerBlock;
  return blocks * 2 * int64_t(C);
}

void layernorm_backward(bf16* dinp, float* dweight, float* dbias, float* scratch, const bf16* dout, const bf16* inp,
                        const bf16* weight, const float* mean, const float* rstd, int N, int C,
                        cudaStream_t stream) {
  if (N <= 0 || C <= 0) return;
  const int blocks = (N + kBackwardRowsPerBlock - 1) / kBackwardRowsPerBlock;
  const bool vec = C % 8 == 0 && aligned16(dinp) && aligned16(dout) && aligned16(inp) && aligned16(weight);
  if (vec) {
    layernorm_backward_kernel<8><<<blocks, kBackwardThreads, 0, stream>>>(dinp, scratch, dout, inp, weight, mean,
                                                                           rstd, N, C);
  } else {
    layernorm_backward_kernel<1><<<blocks, kBackwardThreads, 0, stream>>>(dinp, scratch, dout, inp, weight, mean,
                                                                           rstd, N, C);
  }
  cudaCheck(cudaGetLastError());
  layernorm_param_grad_kernel<<<(C + 31) / 32, 32 * kParamSlices, 0, stream>>>(dweight, dbias, scratch, blocks, C);
  cudaCheck(cudaGetLastError());
}

}  // namespace sog::cuda
