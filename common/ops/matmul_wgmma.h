// The Hopper rung of the bf16 matmul ladder (matmul_wgmma.cu), used by the table in matmul.cu.
#pragma once
#if SOG_HAVE_CUDA
#include "common/ops/cuda_ops.h"

namespace sog::cuda {

// C = A · Bᵀ (+ bias) (+ C) with A (M,K) and B (N,K) both K-contiguous, on wgmma + TMA. Returns false,
// doing nothing, when this case is not one it runs: another trans combination, K = 0 or not a
// multiple of 8, a pointer not 16-byte aligned, a device below sm_90, or a binary without sm_90a
// code. The caller then takes another variant.
bool matmul_bf16_wgmma_nt(float* C32, bf16* C16, const bf16* A, const bf16* B, const bf16* bias, int M, int K,
                          int N, bool accumulate, cudaStream_t stream);

}  // namespace sog::cuda
#endif
