#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/dropout.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

TEST(Dropout, KeepsTheMeanAndScalesKeptValues) {
  const int64_t n = 1 << 20;
  const float p = 0.3f;
  Rng rng(42);
  std::vector<float> y = dropout(Tensor::full({n}, 1.0f), p, rng, true).to_vector();
  double mean = 0;
  int64_t kept = 0;
  for (float v : y) {
    ASSERT_TRUE(v == 0.0f || v == 1.0f / (1.0f - p)) << v;
    kept += v != 0.0f;
    mean += v;
  }
  mean /= n;
  // The mean of n i.i.d. values with std √(p/(1−p)) ≈ 0.65: ±5 standard errors is ±0.0032.
  EXPECT_NEAR(mean, 1.0, 5 * std::sqrt(p / (1 - p) / n));
  EXPECT_NEAR(static_cast<double>(kept) / n, 1.0 - p, 5 * std::sqrt(p * (1 - p) / n));
}

TEST(Dropout, SameSeedSameMaskDifferentSeedDifferentMask) {
  Tensor x = Tensor::randn({64, 100}, 1.0f, 1);
  Rng r1(7), r2(7), r3(8);
  std::vector<float> a = dropout(x, 0.5f, r1, true).to_vector();
  std::vector<float> b = dropout(x, 0.5f, r2, true).to_vector();
  std::vector<float> c = dropout(x, 0.5f, r3, true).to_vector();
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // The generator advanced by one draw per element: the next call draws a fresh mask.
  EXPECT_NE(dropout(x, 0.5f, r1, true).to_vector(), a);
}

TEST(Dropout, IdentityWhenNotTrainingOrPIsZero) {
  Tensor x = random_input({4, 5}, 2);
  Rng rng(1);
  auto before = rng.state();
  EXPECT_TRUE(dropout(x, 0.5f, rng, false).same_as(x));
  EXPECT_TRUE(dropout(x, 0.0f, rng, true).same_as(x));
  EXPECT_EQ(rng.state(), before) << "no mask was drawn";
}

TEST(Dropout, BackwardAppliesTheSavedMask) {
  Tensor x = random_input({32, 33}, 3);
  Rng rng(5);
  Tensor y = dropout(x, 0.25f, rng, true);
  backward(y, Tensor::full(y.shape(), 1.0f));
  std::vector<float> xv = x.to_vector(), yv = y.to_vector(), g = x.grad().to_vector();
  for (size_t i = 0; i < g.size(); i++) {
    bool kept = yv[i] != 0.0f;
    EXPECT_EQ(g[i], kept ? 1.0f / 0.75f : 0.0f) << i;
    if (kept) EXPECT_FLOAT_EQ(yv[i], xv[i] / 0.75f);
  }
  // Finite differences with a fixed mask: each evaluation reseeds its own generator.
  expect_gradients_match([](auto& in) {
    Rng r(9);
    return dropout(in[0], 0.4f, r, true);
  }, {random_input({6, 7}, 4)});
}

TEST(Dropout, ProbabilityOutsideZeroOneIsAnError) {
  Tensor x = Tensor::zeros({3});
  Rng rng(1);
  for (float p : {1.0f, -0.1f, 1.5f, NAN}) {
    try {
      dropout(x, p, rng, true);
      FAIL() << "expected an exception for p = " << p;
    } catch (const std::invalid_argument& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("dropout: p: expected a probability in [0, 1)"), std::string::npos) << m;
    }
  }
  EXPECT_THROW(dropout(x, 1.0f, rng, false), std::invalid_argument);  // checked even when not training
}
