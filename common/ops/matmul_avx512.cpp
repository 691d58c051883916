// Variants 3 and 4: a packed, register-blocked GEMM in the style of GotoBLAS / BLIS — the AVX-512
// micro-kernel and packing (x86-64-v4), the reference rung for the other instruction sets'
// (matmul_avx2.cpp, matmul_neon.cpp, matmul_generic.cpp). The loops around it are matmul_packed.h.
//
// The arithmetic intensity of a matmul is high (2·M·K·N flops on M·K + K·N + M·N numbers), but a
// CPU only reaches it if every number, once loaded, is used many times from the fastest level of
// memory. The design, from the inside out:
//
// 1. The micro-kernel computes one MR×NR = 14×32 tile of C over a slice of kc steps of K, holding
//    the tile in 28 of the 32 AVX-512 registers (14 rows × 2 vectors of 16 floats). At each step k
//    it loads 32 floats of op(B)'s row k (2 registers), broadcasts the 14 values of op(A)'s column
//    k one by one and issues 28 independent fused multiply-adds. Independent accumulators hide
//    the FMA latency: with a latency of 4 cycles and up to two 512-bit FMAs issued per cycle,
//    8 must be in flight; 28 leave slack. Per 28 FMAs it does 2 vector loads + 14 broadcasts,
//    which the load ports sustain. On the 2-core Zen 4 we measured, a register-only FMA loop peaks
//    at 113 GFLOP/s per core and this kernel runs single-threaded at ≈ 105 GFLOP/s.
//
// 2. Packing. The micro-kernel reads op(A) as "MR values of column k, for k = 0, 1, …" and op(B) as
//    "NR values of row k, for k = 0, 1, …". We copy them into exactly that order first (micro-
//    panels), so the micro-kernel reads both with unit stride, whatever the storage order of A and
//    B: the transposes are absorbed by the packing, and all four (trans_a, trans_b) run at the same
//    speed. Ragged edges are padded with zeros in the panels, so the micro-kernel always computes
//    a full tile and only the final store is masked.
//
// 3. Blocking for the caches:
//      for pc in K, step KC          slice of K: one pass adds op(A)[:, pc:pc+kc] · op(B)[pc:pc+kc, :]
//        for ic in M, step MC        pack the block of op(A) (MC×KC, ≤ ~6 MiB: stays in L3)
//          for jc in N, step NC      pack the block of op(B) (KC×NC = 1.1 MiB, half per thread: in L2)
//            for each A micro-panel (MR×KC = 21 KiB: stays in L1 while …)
//              for each B micro-panel: micro-kernel      (… the B micro-panels stream from L2)
//    Every packed number is then reused: an A micro-panel NC/NR = 24 times from L1, a B block
//    MC/MR times from L2. KC, MC and NC were chosen by measurement on GPT-2 shapes (KC 256…512 and
//    NC 256…1024 columns are within a few percent of each other; KC = 256 was clearly worse).
//    Before the k loop the micro-kernel prefetches its C tile: with K split into slices, C is read
//    back once per slice, and without the prefetch the large-K shapes lost 20–40%.
//
// 4. Threads (variant 4): all threads pack the A block together (one barrier), then each thread
//    takes an equal share of the block's B micro-panels, packs them into its own buffer and
//    multiplies them by every A micro-panel; a second barrier guards the A block before the next
//    one is packed. So the threads share the packed A block and work on disjoint columns of C,
//    each keeping its half of the B block in its own core's L2, and there are only two barriers
//    per (KC, MC) block — none per B block. A first version shared one packed B block and split
//    the tiles, with a barrier after each B block was packed and used: it matched OpenBLAS
//    on an idle machine, but was 3–4× slower than this one on the LM head (N = 50304, ~200 B blocks) when other
//    processes competed for the cores, since every barrier waits for a descheduled thread.
//    When a block has fewer B micro-panels than threads, the threads split the A panels instead.
//
// 5. A bf16 B operand (the _bf16b variants: a frozen weight kept only in bf16). Packing already
//    copies every element of op(B) once into the B micro-panels, so it is where the widening
//    happens: bf16 → f32 is a 16-bit shift, done in registers as the panel is written. The micro-
//    kernel, the blocking and the threads are the f32 ones (gemm_packed is a template on B's element
//    type), no f32 copy of the weight ever exists, and the result is exactly the f32 GEMM on the
//    bf16-rounded weight (widening is exact). Reading B costs half the bytes.
//
// The packing buffers come from the caching allocator (cpu_allocator()), so after the first call
// of a given size a call asks the OS for nothing.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "common/cpu/isa_kernels.h"
#include "common/ops/matmul_panels.h"

namespace sog::avx512 {
namespace {

// An in-register 16×16 transpose: r[j] holds 16 values of row j on entry, r[k] holds element k of
// each of the 16 rows on exit (row k of a packed panel).
__attribute__((always_inline)) inline void transpose_16x16(__m512 r[16]) {
  __m512 t[16];
  // Stage 1: interleave pairs of rows (32-bit), stage 2: 64-bit, stage 3/4: 128-bit lanes.
  for (int j = 0; j < 16; j += 2) {
    t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
    t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
  }
  for (int j = 0; j < 16; j += 4) {
    r[j] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[j]), _mm512_castps_pd(t[j + 2])));
    r[j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[j]), _mm512_castps_pd(t[j + 2])));
    r[j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[j + 1]), _mm512_castps_pd(t[j + 3])));
    r[j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[j + 1]), _mm512_castps_pd(t[j + 3])));
  }
  for (int j = 0; j < 4; j++) {
    t[j] = _mm512_shuffle_f32x4(r[j], r[j + 4], 0x88);
    t[j + 4] = _mm512_shuffle_f32x4(r[j], r[j + 4], 0xdd);
    t[j + 8] = _mm512_shuffle_f32x4(r[j + 8], r[j + 12], 0x88);
    t[j + 12] = _mm512_shuffle_f32x4(r[j + 8], r[j + 12], 0xdd);
  }
  for (int j = 0; j < 4; j++) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
    r[j + 4] = _mm512_shuffle_f32x4(t[j + 4], t[j + 12], 0x88);
    r[j + 12] = _mm512_shuffle_f32x4(t[j + 4], t[j + 12], 0xdd);
  }
}

// 16 floats of B for pack_b_panel_vectors (matmul_panels.h): loaded, or 16 bf16 values (32 bytes)
// widened, each the top half of a float32.
struct Vec16 {
  static constexpr int64_t W = 16;
  using V = __m512;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const uint16_t* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  static void store(float* p, V v) { _mm512_store_ps(p, v); }
  static void transpose(V r[16]) { transpose_16x16(r); }
};

}  // namespace

struct MicroKernel {
  static constexpr int64_t MR = 14, NR = 32;  // 28 accumulators in zmm registers
  static constexpr int64_t KC = 384;          // a B micro-panel is KC×NR×4 = 48 KiB, an A one 21 KiB
  static constexpr int64_t MC = 300 * MR;     // the A block: up to 4200 rows (6.2 MiB at KC = 384, in L3)
  static constexpr int64_t NC = 24 * NR;      // the B block: KC×NC×4 = 1.1 MiB, about one L2 (1 MiB)
  static constexpr bool kBPanelInL1 = false;

  __attribute__((always_inline)) static void pack_a_panel(float* dst, const float* A, int64_t M, int64_t K,
                                                          bool trans_a, int64_t i0, int64_t rows, int64_t k0,
                                                          int64_t kc) {
    // At the small shapes of a small model (K = 128 … 768) packing is a tenth of a matmul's time, so
    // both layouts move 16 floats per instruction. A panel row is MR = 14 floats: masked stores.
    const __mmask16 row_mask = static_cast<__mmask16>((1u << MR) - 1);
    if (trans_a) {  // A stored (K,M): the MR values of column k are contiguous
      // One cache line or two per k, M floats apart: ask for them kPrefetchAhead rows early.
      const __mmask16 src_mask = static_cast<__mmask16>((1u << rows) - 1);
      for (int64_t k = 0; k < kc; k++) {
        const float* src = A + (k0 + k) * M + i0;
        if (k + kPrefetchAhead < kc) {
          _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead * M), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead * M + MR - 1), _MM_HINT_T0);
        }
        _mm512_mask_storeu_ps(dst + k * MR, row_mask, _mm512_maskz_loadu_ps(src_mask, src));
      }
      return;
    }
    // A stored (M,K): 16 k-values of each row (rows beyond `rows` are zero), transposed in registers
    // so that r[k] holds column k of the panel.
    int64_t k = 0;
    for (; k + 16 <= kc; k += 16) {
      __m512 r[16];
      for (int64_t i = 0; i < 16; i++) r[i] = i < rows ? _mm512_loadu_ps(A + (i0 + i) * K + k0 + k) : _mm512_setzero_ps();
      transpose_16x16(r);
      for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(dst + (k + j) * MR, row_mask, r[j]);
    }
    if (k < kc) {  // the last kc % 16 columns
      const __mmask16 tail = static_cast<__mmask16>((1u << (kc - k)) - 1);
      __m512 r[16];
      for (int64_t i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(tail, A + (i0 + i) * K + k0 + k) : _mm512_setzero_ps();
      transpose_16x16(r);
      for (int64_t j = 0; j < kc - k; j++) _mm512_mask_storeu_ps(dst + (k + j) * MR, row_mask, r[j]);
    }
  }

  template <typename TB>
  static void pack_b_panel(float* dst, const TB* B, int64_t K, int64_t N, bool trans_b, int64_t j0, int64_t cols,
                           int64_t k0, int64_t kc) {
    pack_b_panel_vectors<NR, Vec16>(dst, B, K, N, trans_b, j0, cols, k0, kc);
  }

  static void micro_kernel(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int64_t rows,
                           int64_t cols, bool load_c, const float* bias) {
    // Bring the C tile toward L1 while the k loop runs (it is read, or written, at the end).
    for (int64_t i = 0; i < rows; i++) {
      _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + 16), _MM_HINT_T0);
    }
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
      const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
      for (int i = 0; i < MR; i++) {
        const __m512 ai = _mm512_set1_ps(a[i]);
        c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
        c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
      }
      a += MR;
      b += NR;
    }
    // Columns [0,16) use mask m0, [16,32) mask m1; a full tile has both masks all-ones.
    const __mmask16 m0 = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    const __mmask16 m1 = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    if (bias) {
      const __m512 bias0 = _mm512_maskz_loadu_ps(m0, bias), bias1 = _mm512_maskz_loadu_ps(m1, bias + 16);
#pragma GCC unroll 14
      for (int i = 0; i < MR; i++) {
        c0[i] = _mm512_add_ps(c0[i], bias0);
        c1[i] = _mm512_add_ps(c1[i], bias1);
      }
    }
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
      if (i >= rows) break;
      float* c = C + i * ldc;
      if (load_c) {
        c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, c));
        c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, c + 16));
      }
      _mm512_mask_storeu_ps(c, m0, c0[i]);
      _mm512_mask_storeu_ps(c + 16, m1, c1[i]);
    }
  }
};

}  // namespace sog::avx512

#include "common/ops/matmul_packed.h"  // the blocked loops and threads around MicroKernel
