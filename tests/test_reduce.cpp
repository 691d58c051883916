#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/reduce.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

static double sum_f64(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s;
}

TEST(Reduce, FullSumAndMeanMatchFloat64) {
  Tensor x = Tensor::randn({3, 5, 7}, 2.0f, 1);
  double ref = sum_f64(x.to_vector());
  Tensor s = sum(x), m = mean(x);
  EXPECT_EQ(s.shape(), Shape({1}));  // the documented choice: (1), not ()
  EXPECT_EQ(m.shape(), Shape({1}));
  EXPECT_NEAR(s.item(), ref, 1e-5 * std::fabs(ref) + 1e-6);
  EXPECT_NEAR(m.item(), ref / 105.0, 1e-6);
  EXPECT_EQ(sum(Tensor::zeros({0})).item(), 0.0f);
  EXPECT_THROW(mean(Tensor::zeros({0})), std::invalid_argument);
}

TEST(Reduce, LastDimSumAndMeanMatchFloat64) {
  Tensor x = Tensor::randn({2, 3, 4}, 1.0f, 2);
  Tensor s = sum(x, -1), m = mean(x, 2);  // -1 and ndim − 1 both name the last dimension
  EXPECT_EQ(s.shape(), Shape({2, 3}));
  EXPECT_EQ(m.shape(), Shape({2, 3}));
  std::vector<float> xv = x.to_vector(), sv = s.to_vector(), mv = m.to_vector();
  for (int r = 0; r < 6; r++) {
    double ref = 0;
    for (int c = 0; c < 4; c++) ref += xv[r * 4 + c];
    EXPECT_NEAR(sv[r], ref, 1e-6);
    EXPECT_NEAR(mv[r], ref / 4, 1e-6);
  }
  EXPECT_EQ(sum(Tensor::zeros({5, 7}), -1).shape(), Shape({5}));  // (B,T) → (B)
  Tensor v = Tensor::from_vector({3}, {1.0f, 2.0f, 4.5f});
  EXPECT_EQ(sum(v, -1).shape(), Shape({1}));  // (C) → (1)
  EXPECT_FLOAT_EQ(sum(v, -1).item(), 7.5f);
  EXPECT_FLOAT_EQ(mean(v, -1).item(), 2.5f);
}

TEST(Reduce, OnlyTheLastDimensionIsAccepted) {
  try {
    sum(Tensor::zeros({2, 3}), 0);
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("sum: dim"), std::string::npos) << m;
    EXPECT_NE(m.find("found 0"), std::string::npos) << m;
  }
  EXPECT_THROW(mean(Tensor::zeros({2, 3}), 3), std::invalid_argument);
  EXPECT_THROW(sum(Tensor::from_ids({2}, {1, 2})), std::invalid_argument);
}

TEST(Reduce, GradientsMatchFiniteDifferences) {
  expect_gradients_match([](auto& in) { return sum(in[0]); }, {random_input({3, 4}, 1)});
  expect_gradients_match([](auto& in) { return mean(in[0]); }, {random_input({3, 4}, 2)});
  expect_gradients_match([](auto& in) { return sum(in[0], -1); }, {random_input({2, 3, 5}, 3)});
  expect_gradients_match([](auto& in) { return mean(in[0], -1); }, {random_input({2, 3, 5}, 4)});
}

// A float accumulator stops growing at 2^24 (adding 1 rounds away); the double blocks do not.
TEST(Reduce, LongSumsAreAccurate) {
  const int64_t n = (int64_t{1} << 24) + 1000;
  Tensor ones = Tensor::full({n}, 1.0f);
  float naive = 0.0f;
  for (float v : std::vector<float>(ones.f32(), ones.f32() + n)) naive += v;
  EXPECT_EQ(naive, 16777216.0f) << "the float baseline this test guards against";
  EXPECT_EQ(sum(ones).item(), 16778216.0f);  // exactly representable (even, < 2^25)
  EXPECT_EQ(mean(ones).item(), 1.0f);
  // Random values of mixed sign against a float64 loop: relative error at float rounding level.
  Tensor x = Tensor::randn({4, 1 << 21}, 1.0f, 9);
  for (int64_t i = 0; i < x.numel(); i++) x.f32()[i] += 0.1f;  // a mean of 0.1 so the sum is ≫ 0
  double ref = sum_f64(x.to_vector());
  EXPECT_NEAR(sum(x).item(), ref, 1e-7 * std::fabs(ref));
  EXPECT_NEAR(mean(x).item(), ref / x.numel(), 1e-7 * std::fabs(ref / x.numel()));
  // A long last dimension: one row of 2^23.
  EXPECT_NEAR(sum(x.reshape({1, 1 << 23}), -1).item(), ref, 1e-7 * std::fabs(ref));
}

TEST(Reduce, FullSumDoesNotDependOnTheThreadCount) {
  Tensor x = Tensor::randn({1 << 20}, 1.0f, 3);
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  float one = sum(x).item();
  omp_set_num_threads(2);
  float two = sum(x).item();
  omp_set_num_threads(saved);
  EXPECT_EQ(one, two);
}
