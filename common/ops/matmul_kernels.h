// Matrix multiplication kernels on raw float32 buffers, from a naive triple loop to a packed,
// register-blocked, multi-threaded GEMM in the style of GotoBLAS/BLIS.
//
//   C (M,N) = op(A) · op(B)  [+ bias broadcast over rows]  [+ C if accumulate]
//     op(A) (M,K) = A stored (M,K) row-major, or Aᵀ with A stored (K,M) when trans_a
//     op(B) (K,N) = B stored (K,N) row-major, or Bᵀ with B stored (N,K) when trans_b
//     C[i][j] = Σ_k op(A)[i][k] · op(B)[k][j]  (+ bias[j])  (+ C[i][j])
//
// A PyTorch / llm.c Linear layer, y = x Wᵀ + b with W stored (OC,C), is trans_b with bias; its
// backward reuses the same kernels through the flags (see matmul.h), so nothing is ever
// transposed by a copy. FLOPs per call: 2·M·K·N.
//
// The variants form a ladder; each one is tested against a float64 reference
// (tests/test_matmul.cpp) and timed against OpenBLAS (bench/bench_matmul.cpp):
//   1 naive    the definition, one dot product per output
//   2 blocked  loop tiling so the working set stays in cache; inner loop left to the compiler
//   3 packed   copy op(A) and op(B) into micro-panels laid out in the order the micro-kernel reads
//              them, and compute register tiles of C: 14×32 in 28 AVX-512 registers
//              (matmul_avx512.cpp), 6×16 in 12 AVX2 ones (matmul_avx2.cpp), 8×12 in 24 NEON ones
//              (matmul_neon.cpp), 6×16 in plain C++ (matmul_generic.cpp); the loops around the
//              micro-kernel are shared (matmul_packed.h), the instruction set is picked at run time
//              (cpu/kernels.h)
//   4 parallel the same, with OpenMP threads sharing the packed A block and splitting B (the default)
#pragma once
#include <cstdint>
#include <vector>

namespace sog {

using MatmulFn = void (*)(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                          bool trans_a, bool trans_b, bool accumulate);

struct MatmulVariant {
  const char* name;
  MatmulFn fn;
  const char* note;
};

// Naive → fast; the table is the documentation. The last entry is the default.
const std::vector<MatmulVariant>& matmul_variants();

void matmul_naive(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                  bool trans_a, bool trans_b, bool accumulate);
void matmul_blocked(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                    bool trans_a, bool trans_b, bool accumulate);
void matmul_packed(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                   bool trans_a, bool trans_b, bool accumulate);
void matmul_packed_parallel(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K,
                            int64_t N, bool trans_a, bool trans_b, bool accumulate);

// The blocking of the packed variants of the active instruction set (matmul_<isa>.cpp), for tests that must cross every edge:
// C is computed in mr×nr register tiles; K in slices of kc; op(A) in blocks of mc rows and op(B)
// in blocks of nc columns.
struct MatmulBlocking {
  int64_t mr, nr, kc, mc, nc;
};
MatmulBlocking matmul_packed_blocking();

// C (M,N) = A (M,K) · Bᵀ with B stored (N,K) — a Linear layer's product, y = x·Wᵀ, in a decoding
// step — as dot products of rows, without packing: each thread streams its rows of B once. The sum
// of every element is in one fixed order that depends on K alone (matmul_simd.cpp), so a row of C
// has the same bits whatever M is: a sequence decoded alone and the same sequence in a batch get the
// same numbers. matmul_forward picks it for trans_b products of at most kMatmulDotRowsMaxM rows:
// measured on one AVX-512 core at the small preset's shapes (K = 192, 768), it runs at 30–45 GFLOP/s
// for one row (the few-rows path it replaced: 13–25) and 60–95 from 4 rows on, where the packed
// GEMM, which packs the whole weight for few rows, runs at 5–50; the two are even near M = 32.
constexpr int64_t kMatmulDotRowsMaxM = 32;
void matmul_dot_rows(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                     bool accumulate);

// C[j] = A · B[rows[j]] for j < n: one row A (K) against n rows of B (stored (N,K)) picked by index,
// each product in matmul_dot_rows' order (the same bits for the same pair). One thread; the rows
// are prefetched a few ahead. The scores of an HNSW search (common/retrieval/hnsw.cpp).
void matmul_dot_rows_gather(float* C, const float* A, const float* B, const int32_t* rows, int64_t n, int64_t K);

// The default: matmul_dot_rows for a trans_b product of at most kMatmulDotRowsMaxM rows, otherwise
// the fastest variant (packed, parallel).
//
// Row by row, the result does not depend on M within each of the two regimes: the packed GEMM sums
// every element in one order too (K slices in order, one micro-kernel chain per slice, whatever the
// element's tile, thread or block), and so does matmul_dot_rows. So for M, M' both ≤
// kMatmulDotRowsMaxM (or neither trans_b), row i of A gives row i of C bit for bit alike
// (tests/test_matmul.cpp checks it for every instruction set).
void matmul_forward(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                    bool trans_a, bool trans_b, bool accumulate);

// ---- a bf16 B operand ------------------------------------------------------------------------
// The same product with B stored in bf16 (uint16_t: the top half of an IEEE float32) — a frozen
// weight kept at half the memory. Compute stays float32: the packed variants widen op(B) to f32 as
// they copy it into their micro-panels (matmul_packed.cpp, point 5), so no f32 copy of the weight
// is ever made, and the result equals the f32 GEMM on the bf16-rounded weight up to summation
// order (widening is exact). A stays f32. Tested against a float64 reference on the widened B
// (tests/test_matmul_bf16.cpp), timed against the f32 GEMM in bench/bench_lora.cpp.
using MatmulBf16BFn = void (*)(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                               int64_t N, bool trans_a, bool trans_b, bool accumulate);

struct MatmulBf16BVariant {
  const char* name;
  MatmulBf16BFn fn;
  const char* note;
};

// Naive → fast, as matmul_variants(); the last entry is the default of matmul_forward_bf16b.
const std::vector<MatmulBf16BVariant>& matmul_bf16b_variants();

void matmul_naive_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K, int64_t N,
                        bool trans_a, bool trans_b, bool accumulate);
void matmul_packed_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                         int64_t N, bool trans_a, bool trans_b, bool accumulate);
void matmul_packed_parallel_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                                  int64_t N, bool trans_a, bool trans_b, bool accumulate);
// The products by dot rows with a bf16 B, widened as it is read.
void matmul_dot_rows_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                           int64_t N, bool accumulate);
// The default: matmul_dot_rows_bf16b as matmul_forward picks matmul_dot_rows, else the packed
// parallel bf16 variant.
void matmul_forward_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                          int64_t N, bool trans_a, bool trans_b, bool accumulate);

// dbias (N) += column sums of dC (M,N): the bias gradient of a Linear layer. Threads split the
// columns and each sums its columns over the rows in order, so the result does not depend on the
// number of threads.
void bias_backward(float* dbias, const float* dC, int64_t M, int64_t N);

}  // namespace sog
