// The packed GEMM's micro-kernel and packing for AVX2 + FMA (x86-64-v3: Intel Haswell and later,
// AMD Zen 1–3, and the AVX-512 CPUs too). The loops around it are matmul_packed.h; the design is
// that of the AVX-512 rung (matmul_avx512.cpp) with half-width registers and half as many:
//
// - The tile is MR×NR = 6×16: 12 accumulators (6 rows × 2 vectors of 8 floats) in 12 of the 16 ymm
//   registers, 2 for the row of op(B), 1 for the broadcast value of op(A). Per k: 2 loads, 6
//   broadcasts (loads too), 12 independent FMAs. An FMA has a latency of 4–5 cycles and two issue
//   per cycle, so 8–10 must be in flight: 12 cover it. (This is BLIS's Haswell sgemm shape.)
// - Packing moves 8 floats per instruction: an in-register 8×8 transpose for the strided layouts,
//   straight copies for the contiguous ones; bf16 B is widened (a 16-bit shift) as it is packed.
// - Edge tiles are computed whole (the panels are zero-padded) and stored through a small buffer:
//   AVX2's masked stores are slow on AMD CPUs, and edge tiles are few.
// - The loop order is the other way round from AVX-512's (kBPanelInL1): a B micro-panel (KC×16)
//   stays in L1 while the A micro-panels (6×KC) stream past it, as BLIS does on Haswell. Per k
//   that streams 24 bytes of A for 12 FMAs instead of 64 bytes of B: with the AVX-512 order (an A
//   panel in L1, B panels from L2) this kernel ran at 69 GFLOP/s on one Zen 4 core, with this one
//   at 105–110, the AVX-512 kernel's speed (the two have the same peak there: Zen 4 executes a
//   512-bit FMA as two 256-bit halves).
// - KC = 512 makes the B micro-panel 32 KiB, a whole L1 of a Zen 4, Zen 2 or Haswell core; measured
//   on Zen 4 with 2 threads, the slowest GPT-2 shape ran at 161 GFLOP/s with KC = 256, 177 with 384
//   and 204 with 512 (the large-K shapes read C back once per K slice: fewer slices, less traffic).
//   Not measured on a CPU whose AVX2 is its widest (bench/matmul_table.sh reproduces the figures).
// - The A block (MC×KC, 1.9 MiB) is shared by the threads from L3, each thread's B panels from L2.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "common/cpu/isa_kernels.h"
#include "common/ops/matmul_panels.h"

namespace sog::avx2 {
namespace {

// An in-register 8×8 transpose: r[j] holds 8 values of row j on entry, r[k] holds element k of
// each of the 8 rows on exit.
__attribute__((always_inline)) inline void transpose_8x8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int j = 0; j < 8; j += 2) {  // t[j] = r_j[0] r_j+1[0] r_j[1] r_j+1[1] | the same for [4], [5]
    t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
    t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
  }
  for (int j = 0; j < 8; j += 4) {  // u[j + c] = column c of rows j..j+3 | column c + 4 of them
    u[j] = _mm256_shuffle_ps(t[j], t[j + 2], 0x44);
    u[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], 0xEE);
    u[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0x44);
    u[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0xEE);
  }
  for (int c = 0; c < 4; c++) {  // join the halves of rows 0..3 and 4..7
    r[c] = _mm256_permute2f128_ps(u[c], u[c + 4], 0x20);
    r[c + 4] = _mm256_permute2f128_ps(u[c], u[c + 4], 0x31);
  }
}

// 8 floats of B for pack_b_panel_vectors (matmul_panels.h): loaded, or 8 bf16 values widened, each
// the top half of a float32.
struct Vec8 {
  static constexpr int64_t W = 8;
  using V = __m256;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static void store(float* p, V v) { _mm256_store_ps(p, v); }
  static void transpose(V r[8]) { transpose_8x8(r); }
};

// The first 6 floats of v to dst (4 + 2: no masked store).
__attribute__((always_inline)) inline void store6(float* dst, __m256 v) {
  _mm_storeu_ps(dst, _mm256_castps256_ps128(v));
  _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), _mm256_extractf128_ps(v, 1));
}

}  // namespace

struct MicroKernel {
  static constexpr int64_t MR = 6, NR = 16;  // 12 accumulators in ymm registers
  static constexpr int64_t KC = 512;         // a B micro-panel is 32 KiB (in L1), an A one 12 KiB
  static constexpr int64_t MC = 160 * MR;    // the A block: up to 960 rows (1.9 MiB, in L3)
  static constexpr int64_t NC = 24 * NR;     // the B block: KC×NC×4 = 768 KiB, half per thread
  static constexpr bool kBPanelInL1 = true;

  static void pack_a_panel(float* dst, const float* A, int64_t M, int64_t K, bool trans_a, int64_t i0, int64_t rows,
                           int64_t k0, int64_t kc) {
    if (trans_a) {  // A stored (K,M): the MR values of column k are contiguous
      for (int64_t k = 0; k < kc; k++) {
        const float* src = A + (k0 + k) * M + i0;
        float* d = dst + k * MR;
        if (k + kPrefetchAhead < kc) _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead * M), _MM_HINT_T0);
        if (rows == MR) {
          _mm_storeu_ps(d, _mm_loadu_ps(src));
          _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), _mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(src + 4)));
          continue;
        }
        pack_a_column<MR>(d, A, M, K, trans_a, i0, rows, k0 + k);
      }
      return;
    }
    // A stored (M,K): 8 k-values of each row (rows beyond `rows`, and the 7th and 8th, are zero),
    // transposed in registers so that r[k] holds column k of the panel.
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
      __m256 r[8];
      for (int64_t i = 0; i < 8; i++) r[i] = i < rows ? _mm256_loadu_ps(A + (i0 + i) * K + k0 + k) : _mm256_setzero_ps();
      transpose_8x8(r);
      for (int j = 0; j < 8; j++) store6(dst + (k + j) * MR, r[j]);
    }
    for (; k < kc; k++) pack_a_column<MR>(dst + k * MR, A, M, K, trans_a, i0, rows, k0 + k);  // the last kc % 8
  }

  template <typename TB>
  static void pack_b_panel(float* dst, const TB* B, int64_t K, int64_t N, bool trans_b, int64_t j0, int64_t cols,
                           int64_t k0, int64_t kc) {
    pack_b_panel_vectors<NR, Vec8>(dst, B, K, N, trans_b, j0, cols, k0, kc);
  }

  static void micro_kernel(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int64_t rows,
                           int64_t cols, bool load_c, const float* bias) {
    // Bring the C tile toward L1 while the k loop runs (it is read, or written, at the end).
    for (int64_t i = 0; i < rows; i++) {
      _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + NR - 1), _MM_HINT_T0);
    }
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; k++) {
      const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
      for (int i = 0; i < MR; i++) {
        const __m256 ai = _mm256_broadcast_ss(a + i);
        c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
        c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
      }
      a += MR;
      b += NR;
    }
    if (bias && cols == NR) {  // (an edge tile's bias is added below, column by column)
      const __m256 bias0 = _mm256_loadu_ps(bias), bias1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 6
      for (int i = 0; i < MR; i++) {
        c0[i] = _mm256_add_ps(c0[i], bias0);
        c1[i] = _mm256_add_ps(c1[i], bias1);
      }
    }
    if (rows == MR && cols == NR) {
#pragma GCC unroll 6
      for (int i = 0; i < MR; i++) {
        float* c = C + i * ldc;
        if (load_c) {
          c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(c));
          c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(c + 8));
        }
        _mm256_storeu_ps(c, c0[i]);
        _mm256_storeu_ps(c + 8, c1[i]);
      }
      return;
    }
    alignas(32) float tile[MR][NR];  // an edge tile: through memory, then the part that exists
    for (int i = 0; i < MR; i++) {
      _mm256_store_ps(tile[i], c0[i]);
      _mm256_store_ps(tile[i] + 8, c1[i]);
    }
    for (int64_t i = 0; i < rows; i++) {
      float* c = C + i * ldc;
      for (int64_t j = 0; j < cols; j++) {
        const float v = tile[i][j] + (bias && cols < NR ? bias[j] : 0.0f);
        c[j] = load_c ? c[j] + v : v;
      }
    }
  }
};

}  // namespace sog::avx2

#include "common/ops/matmul_packed.h"  // the blocked loops and threads around MicroKernel
