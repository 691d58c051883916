// Scalar pieces of panel packing that every instruction set's micro-kernel file shares (the
// ragged edges, and the whole of the plain C++ rung): included at the top of matmul_<isa>.cpp.
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

}  // namespace
}  // namespace sog::SOG_ISA
