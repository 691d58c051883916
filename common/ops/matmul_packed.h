// The loops of the packed GEMM around a micro-kernel (variants 3 and 4 of the matmul ladder):
// blocking for the caches, packing into micro-panels, threads. Written once, used by every
// instruction set's micro-kernel file (matmul_avx512.cpp, matmul_avx2.cpp, matmul_neon.cpp,
// matmul_generic.cpp), each of which defines, before including this header,
//
//   namespace sog::SOG_ISA { struct MicroKernel {
//     static constexpr int64_t MR, NR;   // the register tile of C
//     static constexpr int64_t KC, MC, NC;  // the cache blocks (K slice, rows of A, columns of B)
//     static void pack_a_panel(float* dst, const float* A, int64_t M, int64_t K, bool trans_a,
//                              int64_t i0, int64_t rows, int64_t k0, int64_t kc);
//     template <typename TB> static void pack_b_panel(float* dst, const TB* B, int64_t K, int64_t N,
//                              bool trans_b, int64_t j0, int64_t cols, int64_t k0, int64_t kc);
//     static void micro_kernel(int64_t kc, const float* a, const float* b, float* C, int64_t ldc,
//                              int64_t rows, int64_t cols, bool load_c, const float* bias);
//   }; }
//
// and gets sog::SOG_ISA::matmul_packed, matmul_packed_parallel, their _bf16b twins and
// gemm_blocking (cpu/isa_kernels.h). How the loops work: matmul_kernels.h and the comment at the
// top of matmul_avx512.cpp, the ladder's reference rung.
//
// Panels: an A micro-panel holds rows [i0, i0+rows) of op(A) over columns [k0, k0+kc), k-major:
// dst[k·MR + r], rows beyond `rows` zero. A B micro-panel holds rows [k0, k0+kc) of op(B) over
// columns [j0, j0+cols), k-major: dst[k·NR + j], columns beyond `cols` zero; TB is B's element type,
// float or uint16_t (bf16, widened to f32 as the panel is written: exact). The micro-kernel
// computes C[0:rows, 0:cols] (row stride ldc) = a · b over kc steps (+ bias[0:cols]) (+ C if load_c).
#pragma once
#ifndef SOG_ISA
#error "matmul_packed.h belongs to the per-instruction-set matmul sources (CMake defines SOG_ISA)"
#endif
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "common/cpu/isa_kernels.h"
#include "common/tensor/allocator.h"

namespace sog::SOG_ISA {

// Internal to each instruction set's file (cpu/kernels.h: nothing compiled with its flags is
// shared).
namespace {

// A packing buffer from the caching allocator, returned to it at the end of the call.
struct PackBuffer {
  float* data;
  size_t bytes;
  explicit PackBuffer(size_t floats)
      : data(static_cast<float*>(cpu_allocator().allocate(floats * sizeof(float)))), bytes(floats * sizeof(float)) {}
  ~PackBuffer() { cpu_allocator().release(data, bytes); }
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
};

// TB: B's element type, float or uint16_t (bf16); only pack_b_panel's loads differ between the two.
template <typename TB>
void gemm_packed(float* C, const float* A, const TB* B, const float* bias, int64_t M, int64_t K, int64_t N,
                        bool trans_a, bool trans_b, bool accumulate, bool parallel) {
  constexpr int64_t MR = MicroKernel::MR, NR = MicroKernel::NR;
  constexpr int64_t KC = MicroKernel::KC, MC = MicroKernel::MC, NC = MicroKernel::NC;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // an empty sum: C = bias (or 0), or C += bias
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * N + j] = (accumulate ? C[i * N + j] : 0.0f) + (bias ? bias[j] : 0.0f);
    return;
  }
  // Threads pay off above ~1 MFLOP (a parallel region costs a few microseconds).
  const bool use_threads = parallel && 2.0 * double(M) * double(K) * double(N) > 1e6;
  const int max_threads = use_threads ? omp_get_max_threads() : 1;
  const int64_t kc_max = std::min(K, KC);
  const int64_t mc_max = (std::min(M, MC) + MR - 1) / MR * MR;
  const int64_t nc_max = (std::min(N, NC) + NR - 1) / NR * NR;
  // One shared A block; one private B block per thread.
  PackBuffer a_pack(static_cast<size_t>(mc_max * kc_max)), b_pack(static_cast<size_t>(max_threads * kc_max * nc_max));
  float* Ap = a_pack.data;

#pragma omp parallel num_threads(max_threads) if (use_threads)
  {
    const int64_t threads = omp_get_num_threads(), tid = omp_get_thread_num();
    float* Bp = b_pack.data + tid * kc_max * nc_max;  // this thread's B panels
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const bool first_slice = pc == 0;
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        const int64_t a_panels = (mc + MR - 1) / MR;
#pragma omp for schedule(static)
        for (int64_t p = 0; p < a_panels; p++)
          MicroKernel::pack_a_panel(Ap + p * MR * kc, A, M, K, trans_a, ic + p * MR, std::min(MR, mc - p * MR), pc, kc);
        // (implicit barrier: the A block is packed)
        for (int64_t jc = 0; jc < N; jc += NC) {
          const int64_t nc = std::min(NC, N - jc);
          const int64_t b_panels = (nc + NR - 1) / NR;
          // This thread's rectangle of the block's tile grid: a share of the B panels against every
          // A panel, or — when there are fewer B panels than threads — a share of the A panels.
          int64_t p0 = 0, p1 = a_panels, q0 = 0, q1 = b_panels;
          if (b_panels >= threads) {
            q0 = b_panels * tid / threads, q1 = b_panels * (tid + 1) / threads;
          } else {
            p0 = a_panels * tid / threads, p1 = a_panels * (tid + 1) / threads;
          }
          if (p0 >= p1) continue;
          for (int64_t q = q0; q < q1; q++)
            MicroKernel::pack_b_panel(Bp + (q - q0) * NR * kc, B, K, N, trans_b, jc + q * NR, std::min(NR, nc - q * NR), pc, kc);
          auto tile = [&](int64_t p, int64_t q) {
            const int64_t i = ic + p * MR, j = jc + q * NR;
            MicroKernel::micro_kernel(kc, Ap + p * MR * kc, Bp + (q - q0) * NR * kc, C + i * N + j, N,
                                      std::min(MR, M - i), std::min(NR, N - j), accumulate || !first_slice,
                                      first_slice && bias ? bias + j : nullptr);
          };
          if constexpr (MicroKernel::kBPanelInL1) {  // a B micro-panel stays in L1, the A ones stream
            for (int64_t q = q0; q < q1; q++)
              for (int64_t p = p0; p < p1; p++) tile(p, q);
          } else {  // an A micro-panel stays in L1, the B ones stream from L2
            for (int64_t p = p0; p < p1; p++)
              for (int64_t q = q0; q < q1; q++) tile(p, q);
          }
        }
#pragma omp barrier
        // (nobody still reads the A block when the next one is packed)
      }
    }
  }
}

}  // namespace

MatmulBlocking gemm_blocking() {
  return {MicroKernel::MR, MicroKernel::NR, MicroKernel::KC, MicroKernel::MC, MicroKernel::NC};
}

void matmul_packed(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                   bool trans_a, bool trans_b, bool accumulate) {
  gemm_packed(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate, /*parallel=*/false);
}

void matmul_packed_parallel(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K,
                            int64_t N, bool trans_a, bool trans_b, bool accumulate) {
  gemm_packed(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate, /*parallel=*/true);
}

void matmul_packed_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                         int64_t N, bool trans_a, bool trans_b, bool accumulate) {
  gemm_packed(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate, /*parallel=*/false);
}

void matmul_packed_parallel_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                                  int64_t N, bool trans_a, bool trans_b, bool accumulate) {
  gemm_packed(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate, /*parallel=*/true);
}

}  // namespace sog::SOG_ISA
