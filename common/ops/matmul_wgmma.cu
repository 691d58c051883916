// The Hopper rung of the bf16 matmul ladder: warpgroup MMA (wgmma) fed by the tensor memory
// accelerator (TMA), with one producer warpgroup and two consumer warpgroups (warp specialisation).
//
//   C (M,N) = A (M,K) · Bᵀ  [+ bias] [+ C],  A (M,K) and B (N,K) row-major (both K-contiguous)
//
// This is the Linear layer's forward, out = inp · weightᵀ. The other trans combinations need the
// M- / N-major shared-memory layouts of wgmma, which this rung does not implement: for them (and
// for K not a multiple of 8 or unaligned pointers, which TMA cannot address) the table in
// matmul.cu falls back to the mma.sync rung.
//
// Block tile 128 (M) × 128 (N), K in slices of 64, 4 shared-memory stages of 32 KiB:
//   - the producer (thread 0 of warpgroup 0) waits until a stage is free (its `empty` mbarrier),
//     announces 32 KiB on its `full` mbarrier and issues two TMA copies (a 128×64 box of A and
//     of B; rows past M or N and columns past K arrive as zeros), which complete on that barrier;
//   - consumer warpgroup c (1, 2) waits for the stage to be full, issues 4 wgmma.m64n128k16 on rows
//     64·(c−1)… of the A box and the whole B box, waits for them, and releases the stage.
// TMA writes each 128-byte row (64 bf16 of K) with the 128-byte swizzle (16-byte chunk j of row r
// lands at chunk j ^ (r % 8)), and the wgmma descriptors say so: 8-row groups 1024 bytes apart,
// the K step of 16 elements = 32 bytes added to the start address. Accumulators stay in registers
// (64 fp32 per thread); the epilogue adds bias / old C and writes fp32 or bf16, masked.
//
// Compiled only for sm_90a (wgmma is an arch-specific feature); in any other pass the kernel body
// is empty and the host never launches it (it checks the device and the loaded binary's version).
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/ops/cuda_ops.h"
#include "common/ops/matmul_epilogue.cuh"
#include "common/ops/matmul_wgmma.h"
#include "common/tensor/cuda_check.h"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define SOG_WGMMA_DEVICE 1
#endif

namespace sog::cuda {

namespace {

constexpr int kWgM = 128, kWgN = 128, kWgK = 64, kWgStages = 4;
constexpr int kWgConsumers = 2;
constexpr int kWgThreads = 128 * (1 + kWgConsumers);
constexpr int kWgBoxBytes = kWgM * kWgK * 2;  // one 128×64 bf16 box (A and B alike): 16 KiB
constexpr int kWgStageBytes = 2 * kWgBoxBytes;
constexpr int kWgSmemBytes = kWgStages * kWgStageBytes + 1024;  // + slack to align to 1024 bytes
static_assert(kWgM == kWgN, "one box shape serves A and B");

#ifdef SOG_WGMMA_DEVICE
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count));
}
__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_u32(bar)) : "memory");
}
// Waits until the phase of the given parity has completed.
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n"
        "}\n"
        : "=r"(done)
        : "r"(smem_u32(bar)), "r"(parity)
        : "memory");
  } while (!done);
}

// TMA: the box at (inner, outer) of the tensor map into shared memory, completing on `bar`.
__device__ __forceinline__ void tma_load_2d(void* dst, const CUtensorMap* map, uint64_t* bar, int inner, int outer) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], "
      "[%2];\n" ::"r"(smem_u32(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_u32(bar)), "r"(inner), "r"(outer)
      : "memory");
}

// Shared-memory matrix descriptor of a K-major tile written with the 128-byte swizzle: start
// address, leading byte offset 16 (unused by this layout), stride byte offset 1024 (between
// 8-row groups), swizzle mode 1 (128 bytes) in bits 62–63. Addresses and offsets in 16-byte units.
__device__ __forceinline__ uint64_t smem_desc_sw128(const void* p) {
  const uint64_t addr = smem_u32(p);
  return ((addr & 0x3FFFF) >> 4) | (uint64_t(16 >> 4) << 16) | (uint64_t(1024 >> 4) << 32) | (uint64_t(1) << 62);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
// Pins the accumulators in place around the asynchronous MMAs: the compiler sees no dependency of
// d on the wait, so without this it could move a read or copy of d across it.
__device__ __forceinline__ void fence_accumulators(float* d) {
#pragma unroll
  for (int i = 0; i < 64; i++) asm volatile("" : "+f"(d[i])::"memory");
}

// d (64×128 fp32, 64 per thread) += A (64×16, K-major) · B (16×128, K-major), both from shared memory.
// d[4j + r]: n8 chunk j, r = 0,1 at row g, columns 8j + 2t + r; r = 2,3 at row g + 8 (g = lane/4 +
// 16·warp-in-group, t = lane%4), as mma.m16n8 fragments side by side.
__device__ __forceinline__ void wgmma_m64n128k16(float* d, uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "{\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "%64, %65, 1, 1, 1, 0, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(desc_a), "l"(desc_b));
}
#endif  // SOG_WGMMA_DEVICE

__global__ void __launch_bounds__(kWgThreads, 1)
    matmul_wgmma_kernel(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b,
                        float* C32, bf16* C16, const bf16* bias, int M, int K, int N, bool accumulate, bool pair_ok) {
#ifdef SOG_WGMMA_DEVICE
  __shared__ __align__(8) uint64_t full[kWgStages];
  __shared__ __align__(8) uint64_t empty[kWgStages];
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  // The 128-byte swizzle repeats every 1024 bytes: stages start on such a boundary.
  const uint32_t raw = smem_u32(smem_raw);
  unsigned char* tiles = smem_raw + ((1024 - raw % 1024) % 1024);
  auto stage_a = [&](int s) { return reinterpret_cast<bf16*>(tiles + s * kWgStageBytes); };
  auto stage_b = [&](int s) { return reinterpret_cast<bf16*>(tiles + s * kWgStageBytes + kWgBoxBytes); };

  const int group = threadIdx.x / 128;
  const int64_t bm = int64_t(blockIdx.y) * kWgM, bn = int64_t(blockIdx.x) * kWgN;
  const int n_slices = (K + kWgK - 1) / kWgK;

  if (threadIdx.x == 0) {
    for (int s = 0; s < kWgStages; s++) {
      mbar_init(&full[s], 1);                     // the producer's arrive (+ the TMA bytes)
      mbar_init(&empty[s], 128 * kWgConsumers);  // every consumer thread
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  }
  __syncthreads();

  if (group == 0) {  // producer
    if (threadIdx.x == 0) {
      for (int it = 0; it < n_slices; it++) {
        const int s = it % kWgStages;
        // Stage s was last used by slice it − kWgStages: wait for that release (the
        // (it/kWgStages − 1)-th completion of empty[s]).
        if (it >= kWgStages) mbar_wait(&empty[s], uint32_t((it / kWgStages - 1) & 1));
        mbar_arrive_expect_tx(&full[s], kWgStageBytes);
        tma_load_2d(stage_a(s), &map_a, &full[s], it * kWgK, int(bm));
        tma_load_2d(stage_b(s), &map_b, &full[s], it * kWgK, int(bn));
      }
    }
    return;
  }

  // consumers
  const int c = group - 1;  // rows 64c… of the tile
  float d[64];
#pragma unroll
  for (int i = 0; i < 64; i++) d[i] = 0.0f;
  for (int it = 0; it < n_slices; it++) {
    const int s = it % kWgStages;
    mbar_wait(&full[s], uint32_t((it / kWgStages) & 1));
    const bf16* a = stage_a(s) + c * 64 * kWgK;
    const bf16* b = stage_b(s);
    fence_accumulators(d);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kWgK; kk += 16) wgmma_m64n128k16(d, smem_desc_sw128(a + kk), smem_desc_sw128(b + kk));
    wgmma_commit();
    wgmma_wait_all();
    fence_accumulators(d);
    mbar_arrive(&empty[s]);
  }

  const int lane = threadIdx.x % 32, warp_in_group = (threadIdx.x % 128) / 32;
  const int64_t row = bm + c * 64 + warp_in_group * 16 + lane / 4;
#pragma unroll
  for (int j = 0; j < 16; j++) {
    const int64_t col = bn + 8 * j + 2 * (lane % 4);
    store_pair(C32, C16, bias, M, N, row, col, d[4 * j], d[4 * j + 1], accumulate, pair_ok);
    store_pair(C32, C16, bias, M, N, row + 8, col, d[4 * j + 2], d[4 * j + 3], accumulate, pair_ok);
  }
#endif  // SOG_WGMMA_DEVICE
}

// cuTensorMapEncodeTiled, from the driver through the runtime (no link against libcuda).
PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult found{};
    cudaCheck(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &found));
    if (found != cudaDriverEntryPointSuccess || !p) {
      throw std::runtime_error("matmul wgmma (matmul_wgmma.cu): the driver has no cuTensorMapEncodeTiled");
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }();
  return fn;
}

// Tensor map of a row-major (rows, cols) bf16 matrix read in 128-row × 64-column boxes, 128-byte
// swizzle, zeros outside the matrix.
CUtensorMap tensor_map(const bf16* base, int rows, int cols) {
  CUtensorMap map;
  const cuuint64_t dims[2] = {cuuint64_t(cols), cuuint64_t(rows)};
  const cuuint64_t strides[1] = {cuuint64_t(cols) * 2};  // bytes between rows
  const cuuint32_t box[2] = {kWgK, kWgM};
  const cuuint32_t element_strides[2] = {1, 1};
  const CUresult r = tensor_map_encoder()(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<bf16*>(base), dims,
                                          strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                          CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                          CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    throw std::runtime_error("matmul wgmma (matmul_wgmma.cu): cuTensorMapEncodeTiled failed with " +
                             std::to_string(int(r)) + " for a " + std::to_string(rows) + "x" + std::to_string(cols) +
                             " matrix");
  }
  return map;
}

// Whether the wgmma kernel can run here: a device of compute capability ≥ 9.0 and a loaded binary
// built for it (not the empty body of another architecture's pass). Asked once.
bool wgmma_runnable() {
  static const bool ok = [] {
    int device = 0, major = 0;
    cudaCheck(cudaGetDevice(&device));
    cudaCheck(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    if (major < 9) return false;
    cudaFuncAttributes attr{};
    cudaCheck(cudaFuncGetAttributes(&attr, matmul_wgmma_kernel));
    if (attr.binaryVersion < 90) return false;
    cudaCheck(cudaFuncSetAttribute(matmul_wgmma_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kWgSmemBytes));
    return true;
  }();
  return ok;
}

}  // namespace

bool matmul_bf16_wgmma_nt(float* C32, bf16* C16, const bf16* A, const bf16* B, const bf16* bias, int M, int K,
                          int N, bool accumulate, cudaStream_t stream) {
  const auto aligned16 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (M <= 0 || N <= 0 || K <= 0 || K % 8 != 0 || !aligned16(A) || !aligned16(B)) return false;
  if (!wgmma_runnable()) return false;
  const CUtensorMap map_a = tensor_map(A, M, K), map_b = tensor_map(B, N, K);
  const bool pair_ok = N % 2 == 0 && (C32 ? reinterpret_cast<uintptr_t>(C32) % 8 == 0
                                          : reinterpret_cast<uintptr_t>(C16) % 4 == 0);
  dim3 grid((N + kWgN - 1) / kWgN, (M + kWgM - 1) / kWgM);
  matmul_wgmma_kernel<<<grid, kWgThreads, kWgSmemBytes, stream>>>(map_a, map_b, C32, C16, bias, M, K, N, accumulate,
                                                                  pair_ok);
  cudaCheck(cudaGetLastError());
  return true;
}

}  // namespace sog::cuda
