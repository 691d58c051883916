// Matmul: every kernel variant against a float64 reference on shapes that cross every tile edge,
// the differentiable matmul / linear against references and finite differences, and shape errors.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "common/ops/matmul.h"
#include "common/cpu/isa.h"
#include "common/ops/matmul_kernels.h"
#include "common/tensor/random.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

namespace {

struct Problem {
  int64_t M, K, N;
  bool trans_a, trans_b, with_bias, accumulate;
};

std::string describe(const Problem& p) {
  return std::to_string(p.M) + "x" + std::to_string(p.K) + "x" + std::to_string(p.N) + (p.trans_a ? " trans_a" : "") +
         (p.trans_b ? " trans_b" : "") + (p.with_bias ? " bias" : "") + (p.accumulate ? " accumulate" : "");
}

std::vector<float> random_vector(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = rng.normal();
  return v;
}

// Runs `fn` on random operands and compares every element with a float64 reference.
//
// Tolerance. With S = Σ_k |op(A)[i][k]·op(B)[k][j]|, a float32 sum of K products in any order
// (sequential, blocked by KC, split across FMA accumulators) has |error| ≤ γ_K·S with
// γ_K ≈ K·eps in the worst case; rounding errors of random sign grow like √K·eps·S instead, and
// blocking makes them smaller still. We allow 2·(√K + 1)·eps·(S + |bias| + |C₀|): the √K law with a
// margin of 2, plus one rounding of each final addition (bias, the accumulated C₀). An indexing
// bug (a wrong element, a missed k, a stale tile) produces errors of order |a||b| ≈ S/K·√K, far
// above this bound once K > 4, and for tiny K the bound is below one product.
void expect_matches_reference(MatmulFn fn, const Problem& p, uint64_t seed) {
  const int64_t M = p.M, K = p.K, N = p.N;
  std::vector<float> A = random_vector(M * K, seed), B = random_vector(K * N, seed + 1);
  std::vector<float> bias = random_vector(N, seed + 2), C = random_vector(M * N, seed + 3);
  const std::vector<float> C0 = C;
  fn(C.data(), A.data(), B.data(), p.with_bias ? bias.data() : nullptr, M, K, N, p.trans_a, p.trans_b, p.accumulate);

  const double eps = std::numeric_limits<float>::epsilon();
  int failures = 0;
  for (int64_t i = 0; i < M && failures < 5; i++) {
    for (int64_t j = 0; j < N && failures < 5; j++) {
      double ref = 0, S = 0;
      for (int64_t k = 0; k < K; k++) {
        const double a = p.trans_a ? A[k * M + i] : A[i * K + k];
        const double b = p.trans_b ? B[j * K + k] : B[k * N + j];
        ref += a * b;
        S += std::fabs(a * b);
      }
      double extra = 0;
      if (p.with_bias) ref += bias[j], extra += std::fabs(bias[j]);
      if (p.accumulate) ref += C0[i * N + j], extra += std::fabs(C0[i * N + j]);
      const double tol = 2.0 * (std::sqrt(double(K)) + 1.0) * eps * (S + extra);
      const double err = std::fabs(C[i * N + j] - ref);
      if (!(err <= tol)) {  // also catches NaN
        ADD_FAILURE() << describe(p) << ": C[" << i << "][" << j << "] = " << C[i * N + j] << ", reference " << ref
                      << ", error " << err << " > tolerance " << tol;
        failures++;
      }
    }
  }
}

// Odd shapes (non-multiples of every tile size) and shapes built from the packed variants'
// blocking so that K spans several KC slices, N several NC blocks and M several MC blocks.
std::vector<std::array<int64_t, 3>> test_shapes() {
  const MatmulBlocking b = matmul_packed_blocking();  // the active instruction set's
  return {{1, 1, 1},
          {7, 13, 5},
          {1, 1000, 1},
          {33, 65, 17},
          {129, 300, 97},
          {2 * b.mr + 3, 2 * b.kc + 7, b.nc + b.nr + 5},  // ragged KC slices and NC blocks
          {b.mc + b.mr + 1, 9, 2 * b.nr - 1}};            // a second MC block with a ragged tile
}

class MatmulVariantTest : public ::testing::TestWithParam<size_t> {};

TEST_P(MatmulVariantTest, MatchesFloat64ReferenceOnEveryEdge) {
  const MatmulVariant& v = matmul_variants()[GetParam()];
  uint64_t seed = 100;
  // The packed variants once per instruction set this CPU runs (matmul_<isa>.cpp), each on shapes
  // built from its own blocking; the naive and blocked rungs do not depend on it.
  const bool per_isa = std::string(v.name).find("packed") != std::string::npos;
  for (Isa isa : per_isa ? runnable_isas() : std::vector<Isa>{active_isa()}) {
    ScopedIsa use(isa);
    for (const auto& [M, K, N] : test_shapes()) {
      // The naive variant is slow on the largest shapes; it is the definition, a few cases suffice.
      const bool big = M * K * N > 2'000'000;
      for (int flags = 0; flags < 16; flags++) {
        Problem p{M, K, N, bool(flags & 1), bool(flags & 2), bool(flags & 4), bool(flags & 8)};
        if (big && GetParam() == 0 && (flags & 12) != 12) continue;
        SCOPED_TRACE(std::string(v.name) + " " + isa_name(isa) + " " + describe(p));
        expect_matches_reference(v.fn, p, seed++);
      }
    }
  }
}

TEST_P(MatmulVariantTest, EmptyKGivesBias) {
  const MatmulVariant& v = matmul_variants()[GetParam()];
  std::vector<float> C = {9, 9, 9, 9, 9, 9}, bias = {1, 2, 3};
  v.fn(C.data(), nullptr, nullptr, bias.data(), 2, 0, 3, false, false, false);
  EXPECT_EQ(C, std::vector<float>({1, 2, 3, 1, 2, 3}));
  v.fn(C.data(), nullptr, nullptr, bias.data(), 2, 0, 3, true, true, true);
  EXPECT_EQ(C, std::vector<float>({2, 4, 6, 2, 4, 6}));
}

INSTANTIATE_TEST_SUITE_P(AllVariants, MatmulVariantTest, ::testing::Range<size_t>(0, matmul_variants().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return std::string(matmul_variants()[info.param].name);
                         });

TEST(MatmulKernels, DefaultIsTheLastVariant) {
  // matmul_forward must compute exactly what the last (fastest) variant computes (beyond the rows
  // of a decoding step, which take matmul_dot_rows).
  const int64_t M = kMatmulDotRowsMaxM + 5, K = 70, N = 50;
  std::vector<float> A = random_vector(M * K, 1), B = random_vector(K * N, 2);
  std::vector<float> C1(M * N), C2(M * N);
  matmul_forward(C1.data(), A.data(), B.data(), nullptr, M, K, N, false, true, false);
  matmul_variants().back().fn(C2.data(), A.data(), B.data(), nullptr, M, K, N, false, true, false);
  EXPECT_EQ(C1, C2);
}

// A decoding step (a trans_b product of at most kMatmulDotRowsMaxM rows) takes matmul_dot_rows
// inside matmul_forward; it must agree with the reference like every variant, across register
// blocks of rows and columns, the threads' column chunks and a ragged K (K mod 16 ≠ 0).
TEST(MatmulKernels, DotRowsPathMatchesFloat64Reference) {
  uint64_t seed = 900;
  for (Isa isa : runnable_isas()) {
    ScopedIsa use(isa);
    for (int64_t M : {int64_t(1), int64_t(2), int64_t(5), int64_t(8), kMatmulDotRowsMaxM}) {
      for (const auto& [K, N] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {37, 129}, {300, 200}}) {
        for (int flags = 0; flags < 4; flags++) {
          Problem p{M, K, N, false, true, bool(flags & 1), bool(flags & 2)};
          SCOPED_TRACE(std::string("matmul_forward (dot rows) ") + isa_name(isa) + " " + describe(p));
          expect_matches_reference(matmul_forward, p, seed++);
        }
      }
    }
  }
}

// Row i of C depends on row i of op(A) alone, bit for bit, whatever M is (within each regime of
// matmul_forward: trans_b products of ≤ kMatmulDotRowsMaxM rows, and the packed GEMM): what lets a
// batch of sequences decode to exactly the numbers of each sequence decoded alone. For every
// instruction set, with K across KC slices and a ragged tail, N across tiles and column chunks.
TEST(MatmulKernels, EachRowOfCIsTheSameWhateverM) {
  for (Isa isa : runnable_isas()) {
    ScopedIsa use(isa);
    const MatmulBlocking b = matmul_packed_blocking();
    const int64_t K = b.kc + 37, N = 2 * b.nr + 45;
    for (bool tb : {true, false}) {
      // (the largest M of a regime, the smaller M whose rows must match its first rows)
      std::vector<std::pair<int64_t, std::vector<int64_t>>> regimes;
      if (tb) regimes.push_back({kMatmulDotRowsMaxM, {1, 2, 3, 5, 17, kMatmulDotRowsMaxM - 1}});
      regimes.push_back({kMatmulDotRowsMaxM + 3 * b.mr + 2,
                         tb ? std::vector<int64_t>{kMatmulDotRowsMaxM + 1, kMatmulDotRowsMaxM + b.mr + 1}
                            : std::vector<int64_t>{1, 2, b.mr - 1, b.mr + 1, 2 * b.mr + 3}});
      for (const auto& [big, smaller] : regimes) {
        std::vector<float> A = random_vector(big * K, 7), B = random_vector(K * N, 8), bias = random_vector(N, 9);
        std::vector<float> all(big * N);
        matmul_forward(all.data(), A.data(), B.data(), bias.data(), big, K, N, false, tb, false);
        for (int64_t M : smaller) {
          std::vector<float> some(M * N);
          matmul_forward(some.data(), A.data(), B.data(), bias.data(), M, K, N, false, tb, false);
          EXPECT_EQ(some, std::vector<float>(all.begin(), all.begin() + M * N))
              << isa_name(isa) << (tb ? " trans_b" : "") << ": the first " << M << " rows of " << big;
        }
      }
    }
  }
}

TEST(MatmulKernels, BiasBackwardIsColumnSums) {
  const int64_t M = 301, N = 150;  // N crosses the 64-column chunks
  std::vector<float> dC = random_vector(M * N, 5), dbias(N, 1.0f);
  bias_backward(dbias.data(), dC.data(), M, N);
  for (int64_t j = 0; j < N; j++) {
    double ref = 1.0, S = 1.0;
    for (int64_t i = 0; i < M; i++) ref += dC[i * N + j], S += std::fabs(dC[i * N + j]);
    EXPECT_NEAR(dbias[j], ref, 2.0 * std::sqrt(double(M)) * 1.2e-7 * S) << j;
  }
}

// ---- the differentiable op -------------------------------------------------------------------

// (M,N) reference of op(a)·op(b) for 2-D tensors, in float64.
std::vector<double> reference_2d(const std::vector<float>& a, const std::vector<float>& b, int64_t M, int64_t K,
                                 int64_t N, bool ta, bool tb, int64_t a_off = 0, int64_t b_off = 0) {
  std::vector<double> c(M * N, 0.0);
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++)
      for (int64_t k = 0; k < K; k++)
        c[i * N + j] += double(a[a_off + (ta ? k * M + i : i * K + k)]) * b[b_off + (tb ? j * K + k : k * N + j)];
  return c;
}

void expect_near_all(const std::vector<float>& got, const std::vector<double>& ref, double tol, int64_t offset = 0) {
  for (size_t i = 0; i < ref.size(); i++) ASSERT_NEAR(got[offset + i], ref[i], tol) << "element " << offset + i;
}

TEST(Matmul, TwoDimensionalEveryTranspose) {
  const int64_t M = 5, K = 7, N = 3;
  for (int flags = 0; flags < 4; flags++) {
    const bool ta = flags & 1, tb = flags & 2;
    Tensor a = Tensor::randn(ta ? Shape{K, M} : Shape{M, K}, 1.0f, 1);
    Tensor b = Tensor::randn(tb ? Shape{N, K} : Shape{K, N}, 1.0f, 2);
    Tensor c = matmul(a, b, ta, tb);
    EXPECT_EQ(c.shape(), Shape({M, N}));
    expect_near_all(c.to_vector(), reference_2d(a.to_vector(), b.to_vector(), M, K, N, ta, tb), 1e-5);
  }
}

TEST(Matmul, BatchedAndSharedWeights) {
  // Batched: (2,3,4,5) · (2,3,5,6) → (2,3,4,6); attention-style with trans_b: q·kᵀ.
  Tensor a = Tensor::randn({2, 3, 4, 5}, 1.0f, 1), b = Tensor::randn({2, 3, 5, 6}, 1.0f, 2);
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), Shape({2, 3, 4, 6}));
  for (int64_t i = 0; i < 6; i++)
    expect_near_all(c.to_vector(), reference_2d(a.to_vector(), b.to_vector(), 4, 5, 6, false, false, i * 20, i * 30),
                    1e-5, i * 24);
  Tensor q = Tensor::randn({2, 2, 8, 4}, 1.0f, 3), k = Tensor::randn({2, 2, 8, 4}, 1.0f, 4);
  Tensor att = matmul(q, k, false, true);
  EXPECT_EQ(att.shape(), Shape({2, 2, 8, 8}));
  for (int64_t i = 0; i < 4; i++)
    expect_near_all(att.to_vector(), reference_2d(q.to_vector(), k.to_vector(), 8, 4, 8, false, true, i * 32, i * 32),
                    1e-5, i * 64);
  // A 2-D b shared by every leading index: (3,4,5)·(5,6), and with trans_a (3,5,4)ᵀ·(5,6).
  Tensor w = Tensor::randn({5, 6}, 1.0f, 5);
  for (bool ta : {false, true}) {
    Tensor x = Tensor::randn(ta ? Shape{3, 5, 4} : Shape{3, 4, 5}, 1.0f, 6);
    Tensor y = matmul(x, w, ta, false);
    EXPECT_EQ(y.shape(), Shape({3, 4, 6}));
    for (int64_t i = 0; i < 3; i++)
      expect_near_all(y.to_vector(), reference_2d(x.to_vector(), w.to_vector(), 4, 5, 6, ta, false, i * 20, 0), 1e-5,
                      i * 24);
  }
}

TEST(Matmul, GradientEveryTranspose) {
  const int64_t M = 4, K = 6, N = 5;  // K crosses no tile, but every flag combination of the backward
  for (int flags = 0; flags < 4; flags++) {
    const bool ta = flags & 1, tb = flags & 2;
    SCOPED_TRACE("trans_a=" + std::to_string(ta) + " trans_b=" + std::to_string(tb));
    expect_gradients_match([ta, tb](auto& in) { return matmul(in[0], in[1], ta, tb); },
                           {random_input(ta ? Shape{K, M} : Shape{M, K}, 10 + flags),
                            random_input(tb ? Shape{N, K} : Shape{K, N}, 20 + flags)});
  }
}

TEST(Matmul, GradientBatchedAndShared) {
  // Batched, both inputs per batch (attention scores q·kᵀ).
  expect_gradients_match([](auto& in) { return matmul(in[0], in[1], false, true); },
                         {random_input({2, 2, 3, 4}, 1), random_input({2, 2, 5, 4}, 2)});
  // Shared 2-D b: folded (no trans_a) and per-matrix with trans_a (its gradient sums the batch).
  expect_gradients_match([](auto& in) { return matmul(in[0], in[1]); },
                         {random_input({2, 3, 4}, 3), random_input({4, 5}, 4)});
  expect_gradients_match([](auto& in) { return matmul(in[0], in[1], true, true); },
                         {random_input({3, 4, 2}, 5), random_input({5, 4}, 6)});
}

TEST(Matmul, GradientThroughManySmallMatrices) {
  // Enough small matrices that the batch runs across threads, large enough to use full tiles.
  Tensor a = random_input({16, 20, 18}, 7), b = random_input({16, 18, 33}, 8);
  Tensor c = matmul(a, b);
  Tensor dc = Tensor::randn(c.shape(), 1.0f, 9);
  backward(c, dc);
  // dA_i = dC_i · B_iᵀ, dB_i = A_iᵀ · dC_i, per matrix.
  auto av = a.to_vector(), bv = b.to_vector(), dcv = dc.to_vector(), da = a.grad().to_vector(),
       db = b.grad().to_vector();
  for (int64_t i = 0; i < 16; i++) {
    expect_near_all(da, reference_2d(dcv, bv, 20, 33, 18, false, true, i * 660, i * 594), 1e-4, i * 360);
    expect_near_all(db, reference_2d(av, dcv, 18, 20, 33, true, false, i * 360, i * 660), 1e-4, i * 594);
  }
}

TEST(Linear, ForwardMatchesReference) {
  Tensor x = Tensor::randn({2, 3, 8}, 1.0f, 1), w = Tensor::randn({5, 8}, 1.0f, 2), bias = Tensor::randn({5}, 1.0f, 3);
  Tensor y = linear(x, w, bias), y0 = linear(x, w);
  EXPECT_EQ(y.shape(), Shape({2, 3, 5}));
  std::vector<double> ref = reference_2d(x.to_vector(), w.to_vector(), 6, 8, 5, false, true);
  expect_near_all(y0.to_vector(), ref, 1e-5);
  for (size_t i = 0; i < ref.size(); i++) ref[i] += bias.to_vector()[i % 5];
  expect_near_all(y.to_vector(), ref, 1e-5);
}

TEST(Linear, GradientWithAndWithoutBias) {
  expect_gradients_match([](auto& in) { return linear(in[0], in[1], in[2]); },
                         {random_input({2, 3, 6}, 1), random_input({4, 6}, 2), random_input({4}, 3)});
  expect_gradients_match([](auto& in) { return linear(in[0], in[1]); },
                         {random_input({5, 6}, 4), random_input({7, 6}, 5)});
}

TEST(Linear, FrozenWeightGetsNoGradient) {
  Tensor x = random_input({3, 4}, 1), w = Tensor::randn({2, 4}, 1.0f, 2), bias = Tensor::randn({2}, 1.0f, 3);
  backward(linear(x, w, bias), Tensor::randn({3, 2}, 1.0f, 4));
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(bias.grad().defined());
}

// The message must name the op and both shapes.
void expect_error_mentions(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    for (const auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(Matmul, ShapeErrorsNameTheOpAndBothShapes) {
  Tensor a = Tensor::zeros({3, 4}), b = Tensor::zeros({5, 6});
  expect_error_mentions([&] { matmul(a, b); }, {"matmul", "(3, 4)", "(5, 6)", "K = 4", "K = 5"});
  expect_error_mentions([&] { matmul(a, b, true); }, {"matmul", "(3, 4) (transposed)", "(5, 6)"});
  expect_error_mentions(
      [&] {
        matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 2}));
      },
      {"matmul", "(2, 3, 4)", "(3, 4, 2)", "batch"});
  expect_error_mentions([&] { matmul(Tensor::zeros({4}), Tensor::zeros({4, 2})); }, {"matmul", "(4)", "2-D"});
  expect_error_mentions(
      [&] {
        linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 5}));
      },
      {"linear", "(2, 3)", "(4, 5)", "(OC, 3)"});
  expect_error_mentions(
      [&] {
        linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 3}), Tensor::zeros({3}));
      },
      {"linear", "bias (3)", "expected bias (4)"});
}

}  // namespace
