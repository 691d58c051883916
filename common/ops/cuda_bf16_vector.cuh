// 16-byte bf16 vectors, shared by the memory-bound CUDA kernels (GELU, LayerNorm, embedding,
// classifier, attention, conversions): eight bf16 values move in one load or store when the
// pointer is 16-byte aligned; the launchers check that and fall back to scalar code otherwise.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>

namespace sog::cuda {

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

struct alignas(16) Bf16x8 {
  __nv_bfloat162 h[4];
};

// W consecutive bf16 at p, as floats (W = 8: one 16-byte load; p must be 16-byte aligned).
template <int W>
__device__ __forceinline__ void load_bf16(float (&f)[W], const __nv_bfloat16* p) {
  if constexpr (W == 8) {
    const Bf16x8 x = *reinterpret_cast<const Bf16x8*>(p);
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const float2 v = __bfloat1622float2(x.h[j]);
      f[2 * j] = v.x;
      f[2 * j + 1] = v.y;
    }
  } else {
#pragma unroll
    for (int j = 0; j < W; j++) f[j] = __bfloat162float(p[j]);
  }
}

// W floats to W consecutive bf16 at p, rounded to nearest even (W = 8: one 16-byte store).
template <int W>
__device__ __forceinline__ void store_bf16(__nv_bfloat16* p, const float (&f)[W]) {
  if constexpr (W == 8) {
    Bf16x8 x;
#pragma unroll
    for (int j = 0; j < 4; j++) x.h[j] = __floats2bfloat162_rn(f[2 * j], f[2 * j + 1]);
    *reinterpret_cast<Bf16x8*>(p) = x;
  } else {
#pragma unroll
    for (int j = 0; j < W; j++) p[j] = __float2bfloat16_rn(f[j]);
  }
}

}  // namespace sog::cuda
