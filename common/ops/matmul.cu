// Matrix multiplication on the GPU: the fp32 ladder, the bf16 tensor-core ladder, and the Linear
// layer's forward and backward for the trainer (cuda_ops.h). Same semantics as the CPU kernels of
// matmul_kernels.h:
//
//   C (M,N) = op(A) · op(B)  [+ bias broadcast over rows]  [+ C if accumulate]
//     op(A) (M,K) = A stored (M,K) row-major, or Aᵀ with A stored (K,M) when trans_a
//     op(B) (K,N) = B stored (K,N) row-major, or Bᵀ with B stored (N,K) when trans_b
//   FLOPs per call: 2·M·K·N.
//
// fp32 ladder (CUDA cores, fp32 FMA):
//   1 naive      one thread per output, a dot product of length K straight from global memory
//   2 tiled      32×32 tiles of op(A) and op(B) staged in shared memory, each element read from
//                global memory once per tile instead of once per output
//   3 regblock   128×128 block tile, K in slices of 8, each thread computes an 8×8 patch of C in
//                registers from float4 reads of shared memory (64 FMAs per 16 shared loads);
//                float4 global loads when the contiguous dimension is a multiple of 4
// bf16 ladder (tensor cores, fp32 accumulation):
//   4 mma_sync   128×128×32 block tile, 8 warps of 64×32, mma.sync.m16n8k16 fed by ldmatrix
//                (ldmatrix.trans for the transposed layouts), tiles copied by cp.async into four
//                shared-memory stages (three slices load while one computes); when a
//                contiguous dimension is not a multiple of 8 or a pointer is not 16-byte aligned,
//                the same kernel loads its tiles through registers instead (correct, slower)
//   5 wgmma      Hopper (sm_90a): 128×128×64 block tile, a producer warpgroup issuing TMA copies
//                into 4 shared-memory stages (mbarrier handshakes), two consumer warpgroups issuing
//                wgmma.m64n128k16 (matmul_wgmma.cu). Only the A·Bᵀ case (the Linear forward) with
//                K % 8 == 0; everything else goes to rung 4.
// The Linear layer below uses rung 4 unless SOG_MATMUL_BF16 names another (see linear_bf16_variant).
//
// Every variant handles all four trans combinations, bias, accumulate and any M, K, N (edge tiles
// are zero-filled on load and masked on store). The transposed cases never copy: each tile is
// read in its stored order (coalesced) and the layout is undone when reading shared memory.
//
// The Linear layer (y = x Wᵀ + b, weight (OC,C)) and its backward map onto the ladder as
//   forward   out (N,OC)    = inp (N,C) · weightᵀ                 trans_b, bias, bf16 out
//   dinp      dinp (N,C)    = dout (N,OC) · weight (OC,C)          plain,          bf16 out
//   dweight   dweight (OC,C) += doutᵀ · inp, dout stored (N,OC)    trans_a, accumulate, fp32 out
//   dbias     dbias (OC)   += Σ_rows dout                          column sums, fp32
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/ops/cuda_ops.h"
#include "common/ops/matmul_epilogue.cuh"
#include "common/ops/matmul_wgmma.h"
#include "common/tensor/cuda_check.h"

namespace sog::cuda {

namespace {

inline int ceil_div(int64_t a, int64_t b) { return int((a + b - 1) / b); }
inline bool aligned(const void* p, int bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

void check_shapes(const char* variant, int M, int K, int N) {
  if (M < 0 || K < 0 || N < 0) {
    throw std::invalid_argument(std::string("matmul ") + variant + " (matmul.cu): M, K, N must be ≥ 0, got " +
                                std::to_string(M) + ", " + std::to_string(K) + ", " + std::to_string(N));
  }
}

// Element (i,k) of op(A) and (k,j) of op(B), whatever the storage order.
__device__ __forceinline__ float op_a(const float* A, int64_t i, int64_t k, int M, int K, bool trans_a) {
  return trans_a ? A[k * M + i] : A[i * K + k];
}
__device__ __forceinline__ float op_b(const float* B, int64_t k, int64_t j, int K, int N, bool trans_b) {
  return trans_b ? B[j * K + k] : B[k * N + j];
}

// ================================= fp32 ladder ===================================================

// ---- 1. naive ---------------------------------------------------------------------------------
// Block (32,8): threadIdx.x walks the columns, so for op(B) = B the warp reads one row of B
// coalesced; for trans_b every thread strides through memory on its own.
__global__ void matmul_naive_kernel(float* C, const float* A, const float* B, const float* bias, int M, int K, int N,
                                    bool trans_a, bool trans_b, bool accumulate) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int i = blockIdx.y * blockDim.y + threadIdx.y;
  if (i >= M || j >= N) return;
  float sum = 0.0f;
  for (int k = 0; k < K; k++) sum += op_a(A, i, k, M, K, trans_a) * op_b(B, k, j, K, N, trans_b);
  if (bias) sum += bias[j];
  float* c = C + int64_t(i) * N + j;
  *c = accumulate ? *c + sum : sum;
}

void matmul_f32_naive(float* C, const float* A, const float* B, const float* bias, int M, int K, int N, bool trans_a,
                      bool trans_b, bool accumulate, cudaStream_t stream) {
  check_shapes("naive", M, K, N);
  if (M == 0 || N == 0) return;
  dim3 block(32, 8), grid(ceil_div(N, 32), ceil_div(M, 8));
  matmul_naive_kernel<<<grid, block, 0, stream>>>(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
  cudaCheck(cudaGetLastError());
}

// ---- 2. tiled ---------------------------------------------------------------------------------
// Block (32,32), one output per thread. Each K slice, the block stages a 32×32 tile of op(A) and
// of op(B) in shared memory. The loads run along the stored contiguous dimension (coalesced for
// either trans flag) and the transposed cases are undone by where the element is stored; the +1
// padding keeps those transposing stores free of bank conflicts.
constexpr int kTile = 32;

__global__ void matmul_tiled_kernel(float* C, const float* A, const float* B, const float* bias, int M, int K, int N,
                                    bool trans_a, bool trans_b, bool accumulate) {
  __shared__ float As[kTile][kTile + 1];  // As[m][k]
  __shared__ float Bs[kTile][kTile + 1];  // Bs[k][n]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t bm = int64_t(blockIdx.y) * kTile, bn = int64_t(blockIdx.x) * kTile;
  float sum = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    if (!trans_a) {  // A (M,K): tx along k
      const int64_t m = bm + ty, k = k0 + tx;
      As[ty][tx] = (m < M && k < K) ? A[m * K + k] : 0.0f;
    } else {  // A (K,M): tx along m
      const int64_t k = k0 + ty, m = bm + tx;
      As[tx][ty] = (m < M && k < K) ? A[k * M + m] : 0.0f;
    }
    if (!trans_b) {  // B (K,N): tx along n
      const int64_t k = k0 + ty, n = bn + tx;
      Bs[ty][tx] = (k < K && n < N) ? B[k * N + n] : 0.0f;
    } else {  // B (N,K): tx along k
      const int64_t n = bn + ty, k = k0 + tx;
      Bs[tx][ty] = (k < K && n < N) ? B[n * K + k] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTile; k++) sum += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  const int64_t i = bm + ty, j = bn + tx;
  if (i < M && j < N) {
    if (bias) sum += bias[j];
    float* c = C + i * N + j;
    *c = accumulate ? *c + sum : sum;
  }
}

void matmul_f32_tiled(float* C, const float* A, const float* B, const float* bias, int M, int K, int N, bool trans_a,
                      bool trans_b, bool accumulate, cudaStream_t stream) {
  check_shapes("tiled", M, K, N);
  if (M == 0 || N == 0) return;
  dim3 block(kTile, kTile), grid(ceil_div(N, kTile), ceil_div(M, kTile));
  matmul_tiled_kernel<<<grid, block, 0, stream>>>(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
  cudaCheck(cudaGetLastError());
}

// ---- 3. register blocking -----------------------------------------------------------------------
// 256 threads compute a 128×128 tile of C; thread (ty,tx) of a 16×16 grid owns the 8×8 patch at
// rows ty·8…, columns tx·8…. Per K slice of 8 the block stages op(A) as As[k][m] and op(B) as
// Bs[k][n] (both with m / n contiguous, so a thread reads its 8 values of a column of op(A) and of a
// row of op(B) as two float4 each), then does 8 rank-1 updates of its 64 accumulators.
// Global loads: each thread fetches 4 consecutive elements of the stored contiguous dimension
// of A and of B — one float4 when that dimension is a multiple of 4 and the pointer is 16-byte
// aligned (then a group of 4 is wholly inside or wholly outside the matrix), else 4 checked scalars.
constexpr int kRbM = 128, kRbN = 128, kRbK = 8, kRbThreads = 256;

// Elements [col, col+4) of row `row` of a (rows, cols) row-major matrix, zeros outside it.
__device__ __forceinline__ float4 load4(const float* p, int64_t row, int64_t col, int64_t rows, int64_t cols,
                                        bool vec) {
  if (row >= rows) return make_float4(0.f, 0.f, 0.f, 0.f);
  const float* src = p + row * cols + col;
  if (vec) return col < cols ? *reinterpret_cast<const float4*>(src) : make_float4(0.f, 0.f, 0.f, 0.f);
  float4 v;
  v.x = col + 0 < cols ? src[0] : 0.f;
  v.y = col + 1 < cols ? src[1] : 0.f;
  v.z = col + 2 < cols ? src[2] : 0.f;
  v.w = col + 3 < cols ? src[3] : 0.f;
  return v;
}

__global__ void __launch_bounds__(kRbThreads) matmul_regblock_kernel(float* C, const float* A, const float* B,
                                                                      const float* bias, int M, int K, int N,
                                                                      bool trans_a, bool trans_b, bool accumulate,
                                                                      bool vec_a, bool vec_b) {
  __shared__ __align__(16) float As[kRbK][kRbM + 4];  // op(A) slice, As[k][m]
  __shared__ __align__(16) float Bs[kRbK][kRbN + 4];  // op(B) slice, Bs[k][n]
  const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
  const int64_t bm = int64_t(blockIdx.y) * kRbM, bn = int64_t(blockIdx.x) * kRbN;
  float acc[8][8] = {};
  for (int k0 = 0; k0 < K; k0 += kRbK) {
    if (!trans_a) {  // A (M,K): 128 rows × 2 groups of 4 k
      const int m = tid / 2, kq = (tid % 2) * 4;
      const float4 v = load4(A, bm + m, k0 + kq, M, K, vec_a);
      As[kq + 0][m] = v.x, As[kq + 1][m] = v.y, As[kq + 2][m] = v.z, As[kq + 3][m] = v.w;
    } else {  // A (K,M): 8 rows of k × 32 groups of 4 m
      const int k = tid / 32, mq = (tid % 32) * 4;
      *reinterpret_cast<float4*>(&As[k][mq]) = load4(A, k0 + k, bm + mq, K, M, vec_a);
    }
    if (!trans_b) {  // B (K,N): 8 rows of k × 32 groups of 4 n
      const int k = tid / 32, nq = (tid % 32) * 4;
      *reinterpret_cast<float4*>(&Bs[k][nq]) = load4(B, k0 + k, bn + nq, K, N, vec_b);
    } else {  // B (N,K): 128 rows of n × 2 groups of 4 k
      const int n = tid / 2, kq = (tid % 2) * 4;
      const float4 v = load4(B, bn + n, k0 + kq, N, K, vec_b);
      Bs[kq + 0][n] = v.x, Bs[kq + 1][n] = v.y, Bs[kq + 2][n] = v.z, Bs[kq + 3][n] = v.w;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kRbK; k++) {
      float a[8], b[8];
      *reinterpret_cast<float4*>(&a[0]) = *reinterpret_cast<const float4*>(&As[k][ty * 8]);
      *reinterpret_cast<float4*>(&a[4]) = *reinterpret_cast<const float4*>(&As[k][ty * 8 + 4]);
      *reinterpret_cast<float4*>(&b[0]) = *reinterpret_cast<const float4*>(&Bs[k][tx * 8]);
      *reinterpret_cast<float4*>(&b[4]) = *reinterpret_cast<const float4*>(&Bs[k][tx * 8 + 4]);
#pragma unroll
      for (int i = 0; i < 8; i++) {
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] += a[i] * b[j];
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 8; i++) {
    const int64_t row = bm + ty * 8 + i;
    if (row >= M) continue;
#pragma unroll
    for (int j = 0; j < 8; j++) {
      const int64_t col = bn + tx * 8 + j;
      if (col >= N) continue;
      float v = acc[i][j];
      if (bias) v += bias[col];
      float* c = C + row * N + col;
      *c = accumulate ? *c + v : v;
    }
  }
}

void matmul_f32_regblock(float* C, const float* A, const float* B, const float* bias, int M, int K, int N,
                         bool trans_a, bool trans_b, bool accumulate, cudaStream_t stream) {
  check_shapes("regblock", M, K, N);
  if (M == 0 || N == 0) return;
  // The contiguous dimension of A is K (or M when trans_a), of B it is N (or K when trans_b).
  const bool vec_a = aligned(A, 16) && (trans_a ? M : K) % 4 == 0;
  const bool vec_b = aligned(B, 16) && (trans_b ? K : N) % 4 == 0;
  dim3 grid(ceil_div(N, kRbN), ceil_div(M, kRbM));
  matmul_regblock_kernel<<<grid, kRbThreads, 0, stream>>>(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate,
                                                           vec_a, vec_b);
  cudaCheck(cudaGetLastError());
}

// ================================= bf16 ladder ===================================================

// ---- 4. mma.sync ---------------------------------------------------------------------------------
// Block tile 128(M) × 128(N), K in slices of 32, 256 threads = 8 warps as 2 (M) × 4 (N), each warp
// computing 64×32 of C as 4×4 tensor-core tiles of 16×8 (mma.m16n8k16: 64 fp32 accumulators per
// thread).
//
// Shared memory, kMmaStages stages (dynamic: 80 KiB). Each operand's slice is kept in its stored order, rows padded by
// 8 bf16 (16 bytes) so that the 8 row addresses of an ldmatrix land in 8 different bank groups:
//   op(A): A (M,K) → As[m][k] 128×(32+8);   A (K,M) (trans_a) → As[k][m] 32×(128+8)
//   op(B): B (N,K) (trans_b) → Bs[n][k] 128×(32+8);   B (K,N) → Bs[k][n] 32×(128+8)
// The mma wants A fragments row-major (m rows, k pairs in a register) and B fragments
// "column-major" (n rows, k pairs): ldmatrix delivers exactly that from the k-contiguous layouts,
// and ldmatrix.trans from the m- / n-contiguous ones.
//
// Fragments of mma.m16n8k16 (g = lane/4, t = lane%4; each register holds two bf16 along k):
//   A 16×16: a0 (g, 2t)  a1 (g+8, 2t)  a2 (g, 2t+8)  a3 (g+8, 2t+8)
//   B 16×8:  b0 (k 2t, n g)  b1 (k 2t+8, n g)
//   C 16×8:  c0,c1 (g, 2t..2t+1)  c2,c3 (g+8, 2t..2t+1)
// ldmatrix.x4: lanes 8i…8i+7 give the 8 row addresses of 8×8 matrix i, which lands in register i
// (lane holds row lane/4, columns 2·(lane%4)…+1; with .trans the transposed matrix).
constexpr int kMmaM = 128, kMmaN = 128, kMmaK = 32, kMmaThreads = 256;
constexpr int kKRow = kMmaK + 8;                           // row length of a k-contiguous slice
constexpr int kMNRow = kMmaM + 8;                          // row length of an m- or n-contiguous slice
constexpr int kStageElems = kMmaM * kKRow;                 // 5120 ≥ kMmaK · kMNRow = 4352
static_assert(kMmaK * kMNRow <= kStageElems, "stage size");
constexpr int kMmaStages = 4;
constexpr int kMmaSmemBytes = 2 * kMmaStages * kStageElems * int(sizeof(bf16));  // A and B stages

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  // src-size 0 writes 16 zero bytes and reads nothing (src must still be a valid address).
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const bf16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const bf16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ void mma_bf16_16x8x16(float c[4], const uint32_t a[4], const uint32_t b[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// One 16-byte chunk (8 elements along the contiguous dimension) of a row-major (rows, cols)
// matrix into shared memory, zeros outside the matrix. With `async` (cols a multiple of 8 and a
// 16-byte aligned base) the copy engine does it and a chunk is wholly inside or outside; otherwise
// the elements go through registers one by one.
__device__ __forceinline__ void load_chunk(bf16* dst, const bf16* base, int64_t row, int64_t col, int64_t rows,
                                           int64_t cols, bool async) {
  const bf16* src = base + row * cols + col;
  if (async) {
    const bool valid = row < rows && col < cols;
    cp_async16(dst, valid ? src : base, valid);
  } else {
    __align__(16) bf16 v[8];
#pragma unroll
    for (int e = 0; e < 8; e++) v[e] = (row < rows && col + e < cols) ? src[e] : __float2bfloat16(0.0f);
    *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(v);
  }
}

// Stages the K slice [k0, k0+32) of op(A) rows [bm, bm+128) and op(B) columns [bn, bn+128):
// 512 chunks per operand, two per thread.
template <bool TA, bool TB>
__device__ __forceinline__ void mma_load_stage(bf16* As, bf16* Bs, const bf16* A, const bf16* B, int M, int K, int N,
                                               int64_t bm, int64_t bn, int k0, bool async_a, bool async_b) {
#pragma unroll
  for (int rep = 0; rep < 2; rep++) {
    const int c = threadIdx.x + rep * kMmaThreads;
    if (!TA) {  // As[m][k] from A (M,K)
      const int m = c / 4, kc = (c % 4) * 8;
      load_chunk(As + m * kKRow + kc, A, bm + m, k0 + kc, M, K, async_a);
    } else {  // As[k][m] from A (K,M)
      const int k = c / 16, mc = (c % 16) * 8;
      load_chunk(As + k * kMNRow + mc, A, k0 + k, bm + mc, K, M, async_a);
    }
    if (TB) {  // Bs[n][k] from B (N,K)
      const int n = c / 4, kc = (c % 4) * 8;
      load_chunk(Bs + n * kKRow + kc, B, bn + n, k0 + kc, N, K, async_b);
    } else {  // Bs[k][n] from B (K,N)
      const int k = c / 16, nc = (c % 16) * 8;
      load_chunk(Bs + k * kMNRow + nc, B, k0 + k, bn + nc, K, N, async_b);
    }
  }
}

template <bool TA, bool TB>
__global__ void __launch_bounds__(kMmaThreads) matmul_mma_kernel(float* C32, bf16* C16, const bf16* A, const bf16* B,
                                                                 const bf16* bias, int M, int K, int N,
                                                                 bool accumulate, bool async_a, bool async_b,
                                                                 bool pair_ok) {
  extern __shared__ __align__(16) unsigned char mma_smem[];
  bf16* const As = reinterpret_cast<bf16*>(mma_smem);  // stage s at As + s·kStageElems
  bf16* const Bs = As + kMmaStages * kStageElems;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int wm = (warp / 4) * 64, wn = (warp % 4) * 32;  // the warp's 64×32 patch within the tile
  const int64_t bm = int64_t(blockIdx.y) * kMmaM, bn = int64_t(blockIdx.x) * kMmaN;

  float acc[4][4][4] = {};  // [m16 tile][n8 tile][fragment]
  const int n_slices = (K + kMmaK - 1) / kMmaK;
  // Prologue: slices 0 … kMmaStages−2 in flight. One commit group per slice, empty past the end,
  // so that "all but the newest kMmaStages−2 groups complete" always means "slice s has landed".
#pragma unroll
  for (int s = 0; s < kMmaStages - 1; s++) {
    if (s < n_slices) {
      mma_load_stage<TA, TB>(As + s * kStageElems, Bs + s * kStageElems, A, B, M, K, N, bm, bn, s * kMmaK, async_a,
                             async_b);
    }
    cp_async_commit();
  }
  // ldmatrix row addresses: lane gives row (lane%8) of matrix (lane/8).
  const int lrow = lane % 8, lmat = lane / 8;
  for (int s = 0; s < n_slices; s++) {
    cp_async_wait<kMmaStages - 2>();  // slice s has landed (this thread's copies)
    __syncthreads();                  // … everyone's; and everyone is done with slice s−1
    // Refill the stage slice s−1 used with slice s + kMmaStages − 1.
    const int next = s + kMmaStages - 1;
    if (next < n_slices) {
      const int st = next % kMmaStages;
      mma_load_stage<TA, TB>(As + st * kStageElems, Bs + st * kStageElems, A, B, M, K, N, bm, bn, next * kMmaK,
                             async_a, async_b);
    }
    cp_async_commit();
    const bf16* as = As + (s % kMmaStages) * kStageElems;
    const bf16* bs = Bs + (s % kMmaStages) * kStageElems;
#pragma unroll
    for (int kk = 0; kk < kMmaK; kk += 16) {
      uint32_t a[4][4], b[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; mi++) {
        const int m0 = wm + mi * 16;
        if (!TA) {  // matrices: (m0,kk) (m0+8,kk) (m0,kk+8) (m0+8,kk+8) of As[m][k]
          ldmatrix_x4(a[mi], as + (m0 + lrow + (lmat & 1) * 8) * kKRow + kk + (lmat >> 1) * 8);
        } else {  // the same four, stored transposed in As[k][m]
          ldmatrix_x4_trans(a[mi], as + (kk + lrow + (lmat >> 1) * 8) * kMNRow + m0 + (lmat & 1) * 8);
        }
      }
#pragma unroll
      for (int nj = 0; nj < 2; nj++) {  // two n8 tiles per ldmatrix.x4
        const int n0 = wn + nj * 16;
        uint32_t r[4];
        if (TB) {  // matrices: (n0,kk) (n0,kk+8) (n0+8,kk) (n0+8,kk+8) of Bs[n][k]
          ldmatrix_x4(r, bs + (n0 + lrow + (lmat >> 1) * 8) * kKRow + kk + (lmat & 1) * 8);
        } else {  // (kk,n0) (kk+8,n0) (kk,n0+8) (kk+8,n0+8) of Bs[k][n], transposed
          ldmatrix_x4_trans(r, bs + (kk + lrow + (lmat & 1) * 8) * kMNRow + n0 + (lmat >> 1) * 8);
        }
        b[2 * nj][0] = r[0], b[2 * nj][1] = r[1], b[2 * nj + 1][0] = r[2], b[2 * nj + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < 4; mi++) {
#pragma unroll
        for (int ni = 0; ni < 4; ni++) mma_bf16_16x8x16(acc[mi][ni], a[mi], b[ni]);
      }
    }
  }
  cp_async_wait<0>();  // no copy may still be writing shared memory when the block exits

  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int mi = 0; mi < 4; mi++) {
#pragma unroll
    for (int ni = 0; ni < 4; ni++) {
      const int64_t row = bm + wm + mi * 16 + g, col = bn + wn + ni * 8 + 2 * t;
      store_pair(C32, C16, bias, M, N, row, col, acc[mi][ni][0], acc[mi][ni][1], accumulate, pair_ok);
      store_pair(C32, C16, bias, M, N, row + 8, col, acc[mi][ni][2], acc[mi][ni][3], accumulate, pair_ok);
    }
  }
}

void check_bf16_output(const char* variant, const float* C32, const bf16* C16) {
  if ((C32 == nullptr) == (C16 == nullptr)) {
    throw std::invalid_argument(std::string("matmul ") + variant +
                                " (matmul.cu): exactly one of C32 and C16 must be non-null");
  }
}

void matmul_bf16_mma(float* C32, bf16* C16, const bf16* A, const bf16* B, const bf16* bias, int M, int K, int N,
                     bool trans_a, bool trans_b, bool accumulate, cudaStream_t stream) {
  check_shapes("mma_sync", M, K, N);
  check_bf16_output("mma_sync", C32, C16);
  if (M == 0 || N == 0) return;
  const bool async_a = aligned(A, 16) && (trans_a ? M : K) % 8 == 0;
  const bool async_b = aligned(B, 16) && (trans_b ? K : N) % 8 == 0;
  const bool pair_ok = N % 2 == 0 && (C32 ? aligned(C32, 8) : aligned(C16, 4));
  dim3 grid(ceil_div(N, kMmaN), ceil_div(M, kMmaM));
  if (grid.y > 65535) {
    throw std::invalid_argument("matmul mma_sync (matmul.cu): M = " + std::to_string(M) + " exceeds 65535·128 rows");
  }
  static const bool configured = [] {  // more than 48 KiB of shared memory must be asked for, per kernel
    for (auto kernel : {matmul_mma_kernel<false, false>, matmul_mma_kernel<false, true>,
                        matmul_mma_kernel<true, false>, matmul_mma_kernel<true, true>}) {
      cudaCheck(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kMmaSmemBytes));
    }
    return true;
  }();
  (void)configured;
  auto launch = [&](auto kernel) {
    kernel<<<grid, kMmaThreads, kMmaSmemBytes, stream>>>(C32, C16, A, B, bias, M, K, N, accumulate, async_a, async_b,
                                                         pair_ok);
  };
  if (!trans_a && !trans_b) launch(matmul_mma_kernel<false, false>);
  if (!trans_a && trans_b) launch(matmul_mma_kernel<false, true>);
  if (trans_a && !trans_b) launch(matmul_mma_kernel<true, false>);
  if (trans_a && trans_b) launch(matmul_mma_kernel<true, true>);
  cudaCheck(cudaGetLastError());
}

// ---- 5. wgmma (matmul_wgmma.cu) -----------------------------------------------------------------------
// The Linear forward's case (A K-contiguous, B stored (N,K)) on wgmma + TMA; every other case, and
// any device or binary without sm_90a, on the mma.sync rung.
void matmul_bf16_wgmma(float* C32, bf16* C16, const bf16* A, const bf16* B, const bf16* bias, int M, int K, int N,
                       bool trans_a, bool trans_b, bool accumulate, cudaStream_t stream) {
  check_shapes("wgmma", M, K, N);
  check_bf16_output("wgmma", C32, C16);
  if (!trans_a && trans_b && matmul_bf16_wgmma_nt(C32, C16, A, B, bias, M, K, N, accumulate, stream)) return;
  matmul_bf16_mma(C32, C16, A, B, bias, M, K, N, trans_a, trans_b, accumulate, stream);
}

// ================================= the Linear layer ===============================================

// dbias (OC) += Σ_rows dout (N,OC). Block (32,32) owns 32 columns: thread (x,y) sums rows y, y+32, …
// of column x in fp32, then the 32 partial sums of a column are added in a fixed order, so the
// result does not depend on timing (no atomics).
__global__ void bias_backward_kernel(float* dbias, const bf16* dout, int N, int OC) {
  __shared__ float partial[32][33];
  const int col = blockIdx.x * 32 + threadIdx.x;
  float sum = 0.0f;
  if (col < OC) {
    for (int64_t row = threadIdx.y; row < N; row += 32) sum += __bfloat162float(dout[row * OC + col]);
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < OC) {
    float total = 0.0f;
    for (int y = 0; y < 32; y++) total += partial[y][threadIdx.x];
    dbias[col] += total;
  }
}

// The bf16 variant of the Linear layer: the mma.sync rung, or the table entry named by the
// environment variable SOG_MATMUL_BF16 (e.g. "wgmma") when the device runs it. mma.sync stays the
// default until the wgmma rung has passed its tests on a Hopper device. Chosen once.
MatmulBf16Fn linear_bf16_variant() {
  static const MatmulBf16Fn chosen = [] {
    int device = 0, major = 0, minor = 0;
    cudaCheck(cudaGetDevice(&device));
    cudaCheck(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    cudaCheck(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    const int sm = major * 10 + minor;
    const char* wanted = std::getenv("SOG_MATMUL_BF16");
    const std::string name = wanted && *wanted ? wanted : "mma_sync";
    for (const auto& v : matmul_bf16_variants()) {
      if (name == v.name) {
        if (v.min_sm > sm) {
          throw std::runtime_error("matmul (matmul.cu): SOG_MATMUL_BF16=" + name + " needs sm_" +
                                   std::to_string(v.min_sm) + ", this device is sm_" + std::to_string(sm));
        }
        return v.fn;
      }
    }
    throw std::runtime_error("matmul (matmul.cu): SOG_MATMUL_BF16=" + name + " names no bf16 variant");
  }();
  return chosen;
}

}  // namespace

const std::vector<MatmulF32Variant>& matmul_f32_variants() {
  static const std::vector<MatmulF32Variant> variants = {
      {"naive", matmul_f32_naive, "one thread per output, operands from global memory"},
      {"tiled", matmul_f32_tiled, "32x32 shared-memory tiles, one output per thread"},
      {"regblock", matmul_f32_regblock, "128x128 block tile, 8x8 outputs per thread, float4 loads"},
  };
  return variants;
}

const std::vector<MatmulBf16Variant>& matmul_bf16_variants() {
  static const std::vector<MatmulBf16Variant> variants = {
      {"mma_sync", matmul_bf16_mma,
       "mma.sync m16n8k16 + ldmatrix, cp.async double buffering; register loads when a contiguous dim % 8 != 0",
       80},
      {"wgmma", matmul_bf16_wgmma,
       "wgmma m64n128k16 + TMA, producer/consumer warpgroups, 4 stages; A·Bt with K % 8 == 0 only, else mma_sync",
       90},
  };
  return variants;
}

void matmul_forward(bf16* out, const bf16* inp, const bf16* weight, const bf16* bias, int N, int C, int OC,
                    cudaStream_t stream) {
  linear_bf16_variant()(nullptr, out, inp, weight, bias, N, C, OC, false, true, false, stream);
}

void matmul_backward(bf16* dinp, float* dweight, float* dbias, const bf16* dout, const bf16* inp,
                     const bf16* weight, int N, int C, int OC, cudaStream_t stream) {
  const MatmulBf16Fn fn = linear_bf16_variant();
  if (dinp) fn(nullptr, dinp, dout, weight, nullptr, N, OC, C, false, false, false, stream);  // (N,OC)·(OC,C)
  if (dweight) fn(dweight, nullptr, dout, inp, nullptr, OC, N, C, true, false, true, stream);  // (N,OC)ᵀ·(N,C)
  if (dbias && OC > 0) {
    bias_backward_kernel<<<ceil_div(OC, 32), dim3(32, 32), 0, stream>>>(dbias, dout, N, OC);
    cudaCheck(cudaGetLastError());
  }
}

}  // namespace sog::cuda
