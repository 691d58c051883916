// Matmul with a bf16 B operand (a frozen weight): every variant of matmul_bf16b_variants() and the
// default for a few rows (products by dot rows when trans_b) against a float64 reference on the
// widened weight, on shapes that cross every tile edge; linear / matmul with a bf16 weight
// (forward, dx-only backward, argument errors).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
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

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> b(v.size());
  for (size_t i = 0; i < v.size(); i++) b[i] = float_to_bf16(v[i]);
  return b;
}

// The kernel against a float64 reference computed on the widened bf16 B (widening is exact, so the
// only differences are float32 summation errors). The tolerance is tests/test_matmul.cpp's:
// 2·(√K + 1)·eps·(S + |bias| + |C₀|) with S = Σ_k |op(A)·op(B)| — an indexing bug, or a missed or
// mis-widened element (which changes a product by about its own size), lands far above it.
void expect_matches_reference(MatmulBf16BFn fn, const Problem& p, uint64_t seed) {
  const int64_t M = p.M, K = p.K, N = p.N;
  std::vector<float> A = random_vector(M * K, seed);
  std::vector<uint16_t> B = to_bf16(random_vector(K * N, seed + 1));
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
        const double b = bf16_to_float(p.trans_b ? B[j * K + k] : B[k * N + j]);
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

// Odd shapes, and shapes built from the packed blocking so K spans several KC slices, N several NC
// blocks and M several MC blocks (as tests/test_matmul.cpp), plus full 32-column panels with
// K a multiple of 16 (the vectorised widen-and-transpose path of the packing).
std::vector<std::array<int64_t, 3>> test_shapes() {
  const MatmulBlocking b = matmul_packed_blocking();  // the active instruction set's
  return {{1, 1, 1},
          {7, 13, 5},
          {1, 1000, 1},
          {33, 65, 17},
          {129, 300, 97},
          {2 * b.mr + 1, 64, 2 * b.nr},                  // only full panels, K a multiple of 16
          {2 * b.mr + 3, 2 * b.kc + 7, b.nc + b.nr + 5},  // ragged KC slices and NC blocks
          {b.mc + b.mr + 1, 9, 2 * b.nr - 1}};            // a second MC block with a ragged tile
}

class MatmulBf16Test : public ::testing::TestWithParam<size_t> {};

TEST_P(MatmulBf16Test, MatchesFloat64ReferenceOnEveryEdge) {
  const MatmulBf16BVariant& v = matmul_bf16b_variants()[GetParam()];
  uint64_t seed = 300;
  // The packed variants once per instruction set this CPU runs (matmul_<isa>.cpp), each on shapes
  // built from its own blocking; the naive and blocked rungs do not depend on it.
  const bool per_isa = std::string(v.name).find("packed") != std::string::npos;
  for (Isa isa : per_isa ? runnable_isas() : std::vector<Isa>{active_isa()}) {
    ScopedIsa use(isa);
    for (const auto& [M, K, N] : test_shapes()) {
      const bool big = M * K * N > 2'000'000;
      for (int flags = 0; flags < 16; flags++) {
        Problem p{M, K, N, bool(flags & 1), bool(flags & 2), bool(flags & 4), bool(flags & 8)};
        if (big && GetParam() == 0 && (flags & 12) != 12) continue;  // the naive variant is slow there
        SCOPED_TRACE(std::string(v.name) + " " + isa_name(isa) + " " + describe(p));
        expect_matches_reference(v.fn, p, seed++);
      }
    }
  }
}

TEST_P(MatmulBf16Test, EmptyKGivesBias) {
  const MatmulBf16BVariant& v = matmul_bf16b_variants()[GetParam()];
  std::vector<float> C = {9, 9, 9, 9, 9, 9}, bias = {1, 2, 3};
  v.fn(C.data(), nullptr, nullptr, bias.data(), 2, 0, 3, false, false, false);
  EXPECT_EQ(C, std::vector<float>({1, 2, 3, 1, 2, 3}));
}

INSTANTIATE_TEST_SUITE_P(AllVariants, MatmulBf16Test, ::testing::Range<size_t>(0, matmul_bf16b_variants().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return std::string(matmul_bf16b_variants()[info.param].name);
                         });

TEST(MatmulBf16, FewRowsPathMatchesFloat64Reference) {
  uint64_t seed = 700;
  for (int64_t M : {1, 3, 8}) {
    for (const auto& [K, N] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {37, 129}, {300, 200}}) {
      for (int flags = 0; flags < 8; flags++) {
        Problem p{M, K, N, false, bool(flags & 1), bool(flags & 2), bool(flags & 4)};
        SCOPED_TRACE("matmul_forward_bf16b (few rows: dot rows when trans_b) " + describe(p));
        expect_matches_reference(matmul_forward_bf16b, p, seed++);
      }
    }
  }
}

// The bf16 GEMM must equal the f32 GEMM on the widened weight exactly when both take the same
// path: packing widens exactly, and everything after packing is shared.
TEST(MatmulBf16, EqualsTheF32KernelOnTheWidenedWeightBitwise) {
  const int64_t M = 45, K = 70, N = 50;
  std::vector<float> A = random_vector(M * K, 1);
  std::vector<uint16_t> B = to_bf16(random_vector(K * N, 2));
  std::vector<float> Bw(B.size());
  for (size_t i = 0; i < B.size(); i++) Bw[i] = bf16_to_float(B[i]);
  for (bool tb : {false, true}) {
    std::vector<float> C1(M * N), C2(M * N);
    matmul_forward_bf16b(C1.data(), A.data(), B.data(), nullptr, M, K, N, false, tb, false);
    matmul_forward(C2.data(), A.data(), Bw.data(), nullptr, M, K, N, false, tb, false);
    EXPECT_EQ(C1, C2) << "trans_b=" << tb;
  }
}

// ---- the differentiable ops with a frozen bf16 weight --------------------------------------------

Tensor bf16_weight(const Shape& shape, uint64_t seed) { return Tensor::randn(shape, 1.0f, seed).to(DType::bf16); }

// Up to float32 summation order (the two kernels sum in different orders):
// values of size ~3 from 8 products of N(0,1) numbers agree to 1e-5.
void expect_close(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i++) EXPECT_NEAR(a[i], b[i], 1e-5f * (1.0f + std::fabs(b[i]))) << i;
}

TEST(LinearBf16, ForwardAndInputGradientEqualTheF32OpOnTheWidenedWeight) {
  Tensor w = bf16_weight({5, 8}, 2), wf = w.to(DType::f32), bias = Tensor::randn({5}, 1.0f, 3);
  for (int64_t rows : {3, 40}) {  // products by dot rows (≤ kMatmulDotRowsMaxM rows) and the packed GEMM
    SCOPED_TRACE("rows " + std::to_string(rows));
    Tensor x = random_input({rows, 8}, 1), xf = random_input({rows, 8}, 1);
    Tensor dy = Tensor::randn({rows, 5}, 1.0f, 4);
    Tensor y = linear(x, w, bias);
    backward(y, dy);
    Tensor yf = linear(xf, wf, bias);
    backward(yf, dy);
    expect_close(y.to_vector(), yf.to_vector());
    expect_close(x.grad().to_vector(), xf.grad().to_vector());
    EXPECT_FALSE(w.grad().defined());
  }
}

TEST(LinearBf16, InputGradientMatchesFiniteDifferences) {
  Tensor w = bf16_weight({7, 6}, 5);
  expect_gradients_match([w](auto& in) { return linear(in[0], w, in[1]); },
                         {random_input({5, 6}, 4), random_input({7}, 6)});
}

TEST(MatmulBf16Op, LmHeadShapeForwardAndGradient) {
  // The tied LM head: xf (B,T,C) · wteᵀ with wte (Vp,C) in bf16.
  Tensor wte = bf16_weight({11, 4}, 7), wtef = wte.to(DType::f32);
  Tensor x = random_input({2, 3, 4}, 8);
  expect_close(matmul(x, wte, false, true).to_vector(), matmul(x, wtef, false, true).to_vector());
  EXPECT_EQ(matmul(x, wte, false, true).shape(), Shape({2, 3, 11}));
  expect_gradients_match([wte](auto& in) { return matmul(in[0], wte, false, true); }, {random_input({2, 3, 4}, 9)});
  expect_gradients_match([](auto& in) { return matmul(in[0], in[1].to(DType::bf16)); },
                         {random_input({3, 4}, 10), Tensor::randn({4, 5}, 1.0f, 11)});
}

void expect_invalid(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    for (const auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(LinearBf16, ErrorsNameTheOpAndTheReason) {
  Tensor trainable = bf16_weight({4, 3}, 1);
  trainable.set_requires_grad(true);
  expect_invalid([&] { linear(Tensor::zeros({2, 3}), trainable); }, {"linear", "weight", "bf16", "must not require grad"});
  expect_invalid([&] { matmul(Tensor::zeros({3, 2}), bf16_weight({3, 4}, 2), true); },
                 {"matmul", "bf16 b must be 2-D and a not transposed"});
  expect_invalid([&] { matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({2, 4, 5}).to(DType::bf16)); },
                 {"matmul", "bf16 b must be 2-D"});
  expect_invalid([&] { linear(Tensor::zeros({2, 3}).to(DType::bf16), bf16_weight({4, 3}, 3)); },
                 {"linear", "x", "dtype f32"});
}

}  // namespace
