// The pieces of panel packing that every instruction set's micro-kernel file shares — the scalar
// ragged edges (and the whole of the plain C++ rung) and the vector packing of B, written once
// over a vector type each file supplies: included at the top of matmul_<isa>.cpp.
// The panel layouts are matmul_packed.h's. Internal to each file that includes it (cpu/kernels.h:
// nothing compiled with an instruction set's flags is shared).
#pragma once
#ifndef SOG_ISA
#error "matmul_panels.h belongs to the per-instruction-set matmul sources (CMake defines SOG_ISA)"
#endif
#include <bit>
#include <cstdint>

namespace sog::SOG_ISA {
namespace {

constexpr int64_t kPrefetchAhead = 8;  // packing: rows of a strided operand requested early

// An element of B as a float: itself, or a bf16 widened (exact: bf16 is the top half of a float32).
inline float to_f32(float b) { return b; }
inline float to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// Column k of an A micro-panel: d[r] = op(A)[i0 + r][k] for r < rows, 0 up to MR.
template <int64_t MR>
inline void pack_a_column(float* d, const float* A, int64_t M, int64_t K, bool trans_a, int64_t i0, int64_t rows,
                          int64_t k) {
  for (int64_t r = 0; r < rows; r++) d[r] = trans_a ? A[k * M + i0 + r] : A[(i0 + r) * K + k];
  for (int64_t r = rows; r < MR; r++) d[r] = 0.0f;
}

// Row k of a B micro-panel from B stored (K,N): d[j] = src[j] for j < cols, 0 up to NR.
template <int64_t NR, typename TB>
inline void pack_b_row(float* d, const TB* src, int64_t cols) {
  for (int64_t j = 0; j < cols; j++) d[j] = to_f32(src[j]);
  for (int64_t j = cols; j < NR; j++) d[j] = 0.0f;
}

// Rows [k0, k0+kn) of a B micro-panel from B stored (N,K), written to dst[k·NR + j] for k < kn:
// column j of the panel is row j0 + j of B; columns beyond `cols` are zero.
template <int64_t NR, typename TB>
inline void pack_b_rows_transposed(float* dst, const TB* B, int64_t K, int64_t j0, int64_t cols, int64_t k0,
                                   int64_t kn) {
  for (int64_t j = 0; j < cols; j++) {
    const TB* src = B + (j0 + j) * K + k0;
    for (int64_t k = 0; k < kn; k++) dst[k * NR + j] = to_f32(src[k]);
  }
  for (int64_t j = cols; j < NR; j++)
    for (int64_t k = 0; k < kn; k++) dst[k * NR + j] = 0.0f;
}

// A B micro-panel (rows [k0, k0+kc) of op(B), columns [j0, j0+cols), stored dst[k·NR + j]) packed
// W floats per instruction, with Vec an instruction set's vector of W floats:
//   struct Vec { static constexpr int64_t W; using V = …;
//                static V load(const float*); static V load(const uint16_t*);  // bf16: widened
//                static void store(float* aligned, V); static void transpose(V r[W]); };
// B stored (K,N): row k of the panel is a contiguous copy, its source rows N apart prefetched
// kPrefetchAhead rows early. B stored (N,K): a transpose in slices of W k, so the W destination
// rows stay in L1, each W×W block transposed in registers. Ragged panels take the scalar helpers.
template <int64_t NR, class Vec, typename TB>
inline void pack_b_panel_vectors(float* dst, const TB* B, int64_t K, int64_t N, bool trans_b, int64_t j0,
                                 int64_t cols, int64_t k0, int64_t kc) {
  constexpr int64_t W = Vec::W;
  static_assert(NR % W == 0, "a panel row is whole vectors");
  if (!trans_b) {
    for (int64_t k = 0; k < kc; k++) {
      const TB* src = B + (k0 + k) * N + j0;
      float* d = dst + k * NR;
      if (k + kPrefetchAhead < kc) {
        __builtin_prefetch(src + kPrefetchAhead * N);
        if constexpr (NR > 16) __builtin_prefetch(src + kPrefetchAhead * N + NR - 1);  // a row past one line
      }
      if (cols == NR) {
        for (int64_t j = 0; j < NR; j += W) Vec::store(d + j, Vec::load(src + j));
        continue;
      }
      pack_b_row<NR>(d, src, cols);
    }
    return;
  }
  for (int64_t ks = 0; ks < kc; ks += W) {
    const int64_t kn = kc - ks < W ? kc - ks : W;
    if (kn == W && cols == NR) {
      for (int64_t c = 0; c < NR; c += W) {  // NR / W transposes: columns c..c+W−1 of the panel
        typename Vec::V r[W];
        for (int64_t j = 0; j < W; j++) r[j] = Vec::load(B + (j0 + c + j) * K + k0 + ks);
        Vec::transpose(r);  // r[k] holds element k of each of the W rows: row ks + k of the panel
        for (int64_t k = 0; k < W; k++) Vec::store(dst + (ks + k) * NR + c, r[k]);
      }
      continue;
    }
    pack_b_rows_transposed<NR>(dst + ks * NR, B, K, j0, cols, k0 + ks, kn);
  }
}

}  // namespace
}  // namespace sog::SOG_ISA
