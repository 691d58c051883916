// The packed GEMM's micro-kernel and packing in plain C++: the reference rung every instruction
// set's micro-kernel is tested against, and what runs on a CPU with none of them. Same panels, same
// blocking loops (matmul_packed.h) as the vector versions; the tile is 4×8, small enough that the
// compiler keeps its 32 accumulators in the baseline's vector registers (8 of SSE2's sixteen on
// x86-64, 4 floats each; Advanced SIMD's on arm64) and vectorises the j loop. Measured on a Zen 4
// core with the x86-64 baseline (SSE2, no FMA), one thread: 4×8 runs at 30 GFLOP/s, 6×8 at 27,
// 6×16 and 4×16 at 7–10 (their accumulators no longer fit and spill to memory every step).
#include <cstdint>

#include "common/cpu/isa_kernels.h"
#include "common/ops/matmul_panels.h"

namespace sog::generic {

struct MicroKernel {
  static constexpr int64_t MR = 4, NR = 8;
  static constexpr int64_t KC = 256, MC = 256 * MR, NC = 32 * NR;
  static constexpr bool kBPanelInL1 = false;

  static void pack_a_panel(float* dst, const float* A, int64_t M, int64_t K, bool trans_a, int64_t i0, int64_t rows,
                           int64_t k0, int64_t kc) {
    for (int64_t k = 0; k < kc; k++) pack_a_column<MR>(dst + k * MR, A, M, K, trans_a, i0, rows, k0 + k);
  }

  template <typename TB>
  static void pack_b_panel(float* dst, const TB* B, int64_t K, int64_t N, bool trans_b, int64_t j0, int64_t cols,
                           int64_t k0, int64_t kc) {
    if (trans_b) {
      pack_b_rows_transposed<NR>(dst, B, K, j0, cols, k0, kc);
      return;
    }
    for (int64_t k = 0; k < kc; k++) pack_b_row<NR>(dst + k * NR, B + (k0 + k) * N + j0, cols);
  }

  static void micro_kernel(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int64_t rows,
                           int64_t cols, bool load_c, const float* bias) {
    float acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; k++) {
      for (int64_t i = 0; i < MR; i++)
        for (int64_t j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
      a += MR;
      b += NR;
    }
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) {
        const float v = acc[i][j] + (bias ? bias[j] : 0.0f);
        C[i * ldc + j] = load_c ? C[i * ldc + j] + v : v;
      }
  }
};

}  // namespace sog::generic

#include "common/ops/matmul_packed.h"  // the blocked loops and threads around MicroKernel
