// The packed GEMM's micro-kernel and packing for AArch64's Advanced SIMD (NEON: every arm64 CPU,
// Apple Silicon, AWS Graviton, Ampere, Cortex-A). The loops around it are matmul_packed.h; the
// design is that of the AVX-512 rung (matmul_avx512.cpp) with 4-float registers, but more of them
// (32) and an FMA that takes its multiplier from a lane of another register:
//
// - The tile is MR×NR = 8×12: 24 accumulators (8 rows × 3 vectors of 4 floats) in 24 of the 32
//   q registers, 3 for the row of op(B) and 2 for the 8 values of op(A)'s column: 29 of 32. Per k:
//   5 loads and 24 independent FMAs. `vfmaq_laneq_f32(c, b, a, lane)` multiplies b by lane `lane`
//   of a, so A's column needs no broadcast: two loads bring its 8 values, one per lane. An FMA has
//   a latency of 4 cycles and two to four issue per cycle (Neoverse N1: 2, Apple Firestorm and
//   Neoverse V1: 4), so 8–16 must be in flight: 24 cover it. (This is BLIS's and OpenBLAS's
//   ARMv8 sgemm shape.)
// - Packing moves 4 floats per instruction: an in-register 4×4 transpose for the strided layouts
//   (op(A) from A stored (M,K), op(B) from B stored (N,K)), straight copies for the contiguous
//   ones; bf16 B is widened (a 16-bit shift left, vshll_n_u16) as it is packed.
// - Edge tiles are computed whole (the panels are zero-padded) and stored through a small buffer,
//   as matmul_avx2.cpp does: NEON has no masked store, and edge tiles are few.
// - The blocking, for a core with 64 KiB of L1d (Neoverse N1/V1 in Graviton 2/3; Apple's cores have
//   128 KiB) and 1 MiB of private L2 (Graviton; Apple's 12–16 MiB L2 is shared by a cluster):
//   KC = 256 makes an A micro-panel (8×KC) 8 KiB and a B micro-panel (KC×12) 12 KiB, so the A
//   micro-panel and the B micro-panels streaming past it use a third of a 64 KiB L1; KC = 512
//   would fill it. NC = 32·NR = 384 columns make the B block (KC×NC) 384 KiB, under half of a
//   1 MiB L2, and 384 divides GPT-2's widths (768, 2304, 3072), so no B block is ragged there. The
//   A block (MC = 1024 rows × KC: 1 MiB) is shared by the threads from the last-level cache.
//   The loop order is the AVX-512 rung's (kBPanelInL1 = false): the A micro-panel stays in L1 while
//   the B micro-panels stream from L2, which a 64 KiB L1 and a private L2 afford; the AVX2 rung
//   needed the other order on 32 KiB L1s. Chosen from the cache sizes, not measured on arm64
//   hardware: the tests run under emulation.
#include <arm_neon.h>

#include <algorithm>
#include <cstdint>

#include "common/cpu/isa_kernels.h"
#include "common/ops/matmul_panels.h"

namespace sog::neon {
namespace {

// An in-register 4×4 transpose: r[j] holds 4 values of row j on entry, r[k] holds element k of
// each of the 4 rows on exit.
__attribute__((always_inline)) inline void transpose_4x4(float32x4_t r[4]) {
  const float32x4_t t0 = vtrn1q_f32(r[0], r[1]);  // r0[0] r1[0] r0[2] r1[2]
  const float32x4_t t1 = vtrn2q_f32(r[0], r[1]);  // r0[1] r1[1] r0[3] r1[3]
  const float32x4_t t2 = vtrn1q_f32(r[2], r[3]);  // r2[0] r3[0] r2[2] r3[2]
  const float32x4_t t3 = vtrn2q_f32(r[2], r[3]);  // r2[1] r3[1] r2[3] r3[3]
  // Join 64-bit halves: the low pair of t0 with the low pair of t2 is column 0, and so on.
  r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
  r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
  r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
  r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

// 4 floats of B for pack_b_panel_vectors (matmul_panels.h): loaded, or 4 bf16 values widened, each
// the top half of a float32.
struct Vec4 {
  static constexpr int64_t W = 4;
  using V = float32x4_t;
  static V load(const float* p) { return vld1q_f32(p); }
  static V load(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static void transpose(V r[4]) { transpose_4x4(r); }
};

// One row of the tile, one k: c[j] += b[j] · a[lane] for the 3 vectors of the row. The lane must
// be a compile-time constant (it is encoded in the instruction), hence the template.
template <int lane>
__attribute__((always_inline)) inline void fma_row(float32x4_t c[3], float32x4_t b0, float32x4_t b1, float32x4_t b2,
                                                   float32x4_t a) {
  c[0] = vfmaq_laneq_f32(c[0], b0, a, lane);
  c[1] = vfmaq_laneq_f32(c[1], b1, a, lane);
  c[2] = vfmaq_laneq_f32(c[2], b2, a, lane);
}

}  // namespace

struct MicroKernel {
  static constexpr int64_t MR = 8, NR = 12;  // 24 accumulators in q registers
  static constexpr int64_t KC = 256;         // an A micro-panel is 8 KiB, a B one 12 KiB
  static constexpr int64_t MC = 128 * MR;    // the A block: up to 1024 rows (1 MiB, in the last-level cache)
  static constexpr int64_t NC = 32 * NR;     // the B block: KC×NC×4 = 384 KiB, in L2
  static constexpr bool kBPanelInL1 = false;  // an A micro-panel stays in L1, the B ones stream past it

  static void pack_a_panel(float* dst, const float* A, int64_t M, int64_t K, bool trans_a, int64_t i0, int64_t rows,
                           int64_t k0, int64_t kc) {
    if (trans_a) {  // A stored (K,M): the MR values of column k are contiguous
      for (int64_t k = 0; k < kc; k++) {
        const float* src = A + (k0 + k) * M + i0;
        float* d = dst + k * MR;
        if (k + kPrefetchAhead < kc) __builtin_prefetch(src + kPrefetchAhead * M);
        if (rows == MR) {
          vst1q_f32(d, vld1q_f32(src));
          vst1q_f32(d + 4, vld1q_f32(src + 4));
          continue;
        }
        pack_a_column<MR>(d, A, M, K, trans_a, i0, rows, k0 + k);
      }
      return;
    }
    // A stored (M,K): 4 k-values of each of the 8 rows (rows beyond `rows` are zero), transposed
    // in registers, rows 0..3 and 4..7 apart, so that lo[k], hi[k] hold column k of the panel.
    int64_t k = 0;
    for (; k + 4 <= kc; k += 4) {
      float32x4_t lo[4], hi[4];
      for (int64_t i = 0; i < 4; i++) {
        lo[i] = i < rows ? vld1q_f32(A + (i0 + i) * K + k0 + k) : vdupq_n_f32(0.0f);
        hi[i] = i + 4 < rows ? vld1q_f32(A + (i0 + i + 4) * K + k0 + k) : vdupq_n_f32(0.0f);
      }
      transpose_4x4(lo);
      transpose_4x4(hi);
      for (int j = 0; j < 4; j++) {
        vst1q_f32(dst + (k + j) * MR, lo[j]);
        vst1q_f32(dst + (k + j) * MR + 4, hi[j]);
      }
    }
    for (; k < kc; k++) pack_a_column<MR>(dst + k * MR, A, M, K, trans_a, i0, rows, k0 + k);  // the last kc % 4
  }

  template <typename TB>
  static void pack_b_panel(float* dst, const TB* B, int64_t K, int64_t N, bool trans_b, int64_t j0, int64_t cols,
                           int64_t k0, int64_t kc) {
    pack_b_panel_vectors<NR, Vec4>(dst, B, K, N, trans_b, j0, cols, k0, kc);
  }

  static void micro_kernel(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int64_t rows,
                           int64_t cols, bool load_c, const float* bias) {
    // Bring the C tile toward L1 while the k loop runs (it is read, or written, at the end).
    for (int64_t i = 0; i < rows; i++) {
      __builtin_prefetch(C + i * ldc);
      __builtin_prefetch(C + i * ldc + NR - 1);
    }
    float32x4_t c[MR][3];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) c[i][0] = c[i][1] = c[i][2] = vdupq_n_f32(0.0f);
    for (int64_t k = 0; k < kc; k++) {
      const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
      const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);  // column k of op(A): rows 0..3, 4..7
      fma_row<0>(c[0], b0, b1, b2, a0);
      fma_row<1>(c[1], b0, b1, b2, a0);
      fma_row<2>(c[2], b0, b1, b2, a0);
      fma_row<3>(c[3], b0, b1, b2, a0);
      fma_row<0>(c[4], b0, b1, b2, a1);
      fma_row<1>(c[5], b0, b1, b2, a1);
      fma_row<2>(c[6], b0, b1, b2, a1);
      fma_row<3>(c[7], b0, b1, b2, a1);
      a += MR;
      b += NR;
    }
    if (bias && cols == NR) {  // (an edge tile's bias is added below, column by column)
      const float32x4_t bias0 = vld1q_f32(bias), bias1 = vld1q_f32(bias + 4), bias2 = vld1q_f32(bias + 8);
#pragma GCC unroll 8
      for (int i = 0; i < MR; i++) {
        c[i][0] = vaddq_f32(c[i][0], bias0);
        c[i][1] = vaddq_f32(c[i][1], bias1);
        c[i][2] = vaddq_f32(c[i][2], bias2);
      }
    }
    if (rows == MR && cols == NR) {
#pragma GCC unroll 8
      for (int i = 0; i < MR; i++) {
        float* ci = C + i * ldc;
        if (load_c) {
          c[i][0] = vaddq_f32(c[i][0], vld1q_f32(ci));
          c[i][1] = vaddq_f32(c[i][1], vld1q_f32(ci + 4));
          c[i][2] = vaddq_f32(c[i][2], vld1q_f32(ci + 8));
        }
        vst1q_f32(ci, c[i][0]);
        vst1q_f32(ci + 4, c[i][1]);
        vst1q_f32(ci + 8, c[i][2]);
      }
      return;
    }
    alignas(16) float tile[MR][NR];  // an edge tile: through memory, then the part that exists
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      vst1q_f32(tile[i], c[i][0]);
      vst1q_f32(tile[i] + 4, c[i][1]);
      vst1q_f32(tile[i] + 8, c[i][2]);
    }
    for (int64_t i = 0; i < rows; i++) {
      float* ci = C + i * ldc;
      for (int64_t j = 0; j < cols; j++) {
        const float v = tile[i][j] + (bias && cols < NR ? bias[j] : 0.0f);
        ci[j] = load_c ? ci[j] + v : v;
      }
    }
  }
};

}  // namespace sog::neon

#include "common/ops/matmul_packed.h"  // the blocked loops and threads around MicroKernel
