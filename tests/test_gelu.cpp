#include <gtest/gtest.h>

#include <cmath>

#include "common/ops/gelu.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

TEST(Gelu, ForwardMatchesFloat64Reference) {
  Tensor x = Tensor::randn({3, 17}, 2.0f, 1);
  Tensor y = gelu(x);
  auto xv = x.to_vector(), yv = y.to_vector();
  for (size_t i = 0; i < xv.size(); i++) {
    double v = xv[i];
    double ref = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    EXPECT_NEAR(yv[i], ref, 1e-6) << i;
  }
}

TEST(Gelu, HandComputedValues) {
  // gelu(0) = 0, gelu(1) ≈ 0.841192, gelu(-1) ≈ -0.158808 (tanh form)
  Tensor y = gelu(Tensor::from_vector({3}, {0.0f, 1.0f, -1.0f}));
  EXPECT_FLOAT_EQ(y.to_vector()[0], 0.0f);
  EXPECT_NEAR(y.to_vector()[1], 0.841192f, 1e-5);
  EXPECT_NEAR(y.to_vector()[2], -0.158808f, 1e-5);
}

TEST(Gelu, GradientMatchesFiniteDifferences) {
  expect_gradients_match([](auto& in) { return gelu(in[0]); }, {random_input({4, 9}, 3)});
}
