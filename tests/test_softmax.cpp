#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "common/autograd/tape.h"
#include "common/cpu/kernels.h"
#include "common/ops/softmax.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

// Row-wise float64 log-softmax of (rows, C).
static std::vector<double> log_softmax_f64(const std::vector<float>& x, int64_t C) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / C; r++) {
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < C; c++) m = std::max(m, (double)x[r * C + c]);
    for (int64_t c = 0; c < C; c++) s += std::exp(x[r * C + c] - m);
    for (int64_t c = 0; c < C; c++) y[r * C + c] = x[r * C + c] - m - std::log(s);
  }
  return y;
}

TEST(ExpPoly, WithinTwoUlpOfStdExpAndExactAtZero) {
  EXPECT_EQ(exp_poly(0.0f), 1.0f);
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.001173f) {
    double ref = std::exp((double)x);
    double ulp = std::nextafter((float)ref, INFINITY) - (float)ref;
    worst = std::max(worst, std::fabs(exp_poly(x) - ref) / ulp);
  }
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(exp_poly(89.0f), INFINITY);
  EXPECT_EQ(exp_poly(INFINITY), INFINITY);
  EXPECT_LE(exp_poly(-200.0f), 1.5e-45f);  // underflows to 0 (or the smallest denormal)
  EXPECT_GE(exp_poly(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_TRUE(std::isnan(exp_poly(NAN)));
  EXPECT_NEAR(exp_poly(-100.0f), std::exp(-100.0), 2e-45);  // the denormal range
}

// Every instruction set's row kernels (softmax_simd.cpp: AVX-512, AVX2, NEON, plain C++) against
// float64, over every tail length 0..80 (the vector loops take 64 or 32 at a time, then a tail).
TEST(RowKernels, EveryInstructionSetOnEveryTailLength) {
  Tensor x = Tensor::randn({200}, 4.0f, 3);
  const float* xv = x.f32();
  std::vector<float> y(200);
  for (Isa isa : runnable_isas()) {
    SCOPED_TRACE(isa_name(isa));
    const CpuKernels& k = cpu_kernels(isa);
    for (int64_t n = 0; n <= 200; n += (n < 80 ? 1 : 40)) {
      double m = -INFINITY, s = 0;
      for (int64_t i = 0; i < n; i++) m = std::max(m, (double)xv[i]);
      EXPECT_EQ(k.row_max(xv, n), (float)m) << n;
      float shift = n ? (float)m : 0.0f;
      // The kernels exponentiate the float x − shift; the reference does too (its rounding is not exp's).
      for (int64_t i = 0; i < n; i++) s += std::exp((double)(xv[i] - shift));
      const float a = k.row_sum_exp(y.data(), xv, n, shift);
      EXPECT_NEAR(a, s, 1e-6 * s) << n;
      EXPECT_EQ(k.row_sum_exp(nullptr, xv, n, shift), a) << "y = nullptr sums the same, n = " << n;
      for (int64_t i = 0; i < n; i++) {
        double ref = std::exp((double)(xv[i] - shift));
        ASSERT_NEAR(y[i], ref, 3e-7 * ref) << n << " " << i;
      }
    }
  }
}

// Special values go through every vector exp like the scalar one: −∞ → 0, +∞ → +∞, NaN → NaN.
TEST(RowKernels, SpecialValuesOnEveryInstructionSet) {
  for (Isa isa : runnable_isas()) {
    SCOPED_TRACE(isa_name(isa));
    const CpuKernels& k = cpu_kernels(isa);
    std::vector<float> y1(8);
    std::vector<float> special = {-INFINITY, 0.0f, INFINITY, -200.0f, 100.0f};
    EXPECT_EQ(k.row_sum_exp(y1.data(), special.data(), 5, 0.0f), INFINITY);
    EXPECT_EQ(y1[0], 0.0f);
    EXPECT_EQ(y1[1], 1.0f);
    EXPECT_EQ(y1[2], INFINITY);
    EXPECT_LE(y1[3], 1.5e-45f);
    EXPECT_EQ(y1[4], INFINITY);
    // The same values where the vector loop (not a scalar tail) meets them: 40 of them.
    std::vector<float> many(40, 0.0f), y40(40);
    many[3] = -INFINITY, many[17] = -200.0f, many[33] = 100.0f;
    EXPECT_EQ(k.row_sum_exp(y40.data(), many.data(), 40, 0.0f), INFINITY);
    EXPECT_EQ(y40[3], 0.0f);
    EXPECT_LE(y40[17], 1.5e-45f);
    EXPECT_EQ(y40[33], INFINITY);
    float nan_in = NAN;
    EXPECT_TRUE(std::isnan(k.row_sum_exp(y1.data(), &nan_in, 1, 0.0f)));
    many[5] = NAN;
    EXPECT_TRUE(std::isnan(k.row_sum_exp(y40.data(), many.data(), 40, 0.0f)));
    EXPECT_TRUE(std::isnan(y40[5]));
  }
}

TEST(Softmax, ForwardMatchesFloat64Reference) {
  Tensor x = Tensor::randn({2, 3, 37}, 3.0f, 1);
  std::vector<double> ref = log_softmax_f64(x.to_vector(), 37);
  std::vector<float> p = softmax(x).to_vector(), lp = log_softmax(x).to_vector();
  for (size_t i = 0; i < ref.size(); i++) {
    EXPECT_NEAR(p[i], std::exp(ref[i]), 1e-6 + 1e-6 * std::exp(ref[i])) << i;
    EXPECT_NEAR(lp[i], ref[i], 2e-6 * (1 + std::fabs(ref[i]))) << i;
  }
}

TEST(Softmax, StableForHugeLogitsAndMaskedEntries) {
  // Naive exp(1000) overflows; max subtraction keeps it exact. −inf (a masked position) gives 0.
  const float ninf = -std::numeric_limits<float>::infinity();
  Tensor x = Tensor::from_vector({2, 3}, {1000.0f, 1001.0f, 1002.0f, 0.0f, ninf, 0.0f});
  std::vector<float> p = softmax(x).to_vector(), lp = log_softmax(x).to_vector();
  double z = 1 + std::exp(-1.0) + std::exp(-2.0);
  EXPECT_NEAR(p[2], 1 / z, 1e-6);
  EXPECT_NEAR(p[0], std::exp(-2.0) / z, 1e-6);
  EXPECT_NEAR(lp[2], -std::log(z), 1e-6);
  EXPECT_FLOAT_EQ(p[3], 0.5f);
  EXPECT_EQ(p[4], 0.0f);
  EXPECT_FLOAT_EQ(p[5], 0.5f);
  EXPECT_EQ(lp[4], ninf);
}

TEST(Softmax, LargeRowsRunInParallelAndSumToOne) {
  Tensor x = Tensor::randn({8, 50304}, 2.0f, 5);
  std::vector<float> p = softmax(x).to_vector();
  std::vector<double> ref = log_softmax_f64(x.to_vector(), 50304);
  for (int r = 0; r < 8; r++) {
    double s = 0;
    for (int c = 0; c < 50304; c++) s += p[r * 50304 + c];
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
  double worst = 0;
  for (size_t i = 0; i < p.size(); i++) worst = std::max(worst, std::fabs(p[i] - std::exp(ref[i])) / std::exp(ref[i]));
  EXPECT_LT(worst, 1e-5);
}

TEST(Softmax, GradientsMatchFiniteDifferences) {
  expect_gradients_match([](auto& in) { return softmax(in[0]); }, {random_input({3, 7}, 1, 2.0f)});
  expect_gradients_match([](auto& in) { return log_softmax(in[0]); }, {random_input({3, 7}, 2, 2.0f)});
  expect_gradients_match([](auto& in) { return softmax(in[0]); }, {random_input({2, 2, 5}, 3)});
}
