#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "common/autograd/tape.h"
#include "common/ops/gelu.h"
#include "common/ops/shape.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

TEST(Reshape, IsAViewWithTheSameNumbers) {
  Tensor x = Tensor::randn({2, 3, 4}, 1.0f, 1);
  Tensor y = reshape(x, {6, 4});
  EXPECT_EQ(y.shape(), (Shape{6, 4}));
  EXPECT_EQ(y.to_vector(), x.to_vector());
  y.f32()[5] = 42.0f;  // shares storage: writing through the view writes x
  EXPECT_EQ(x.f32()[5], 42.0f);
}

TEST(Reshape, RecordsOnlyWhenTheInputRequiresGrad) {
  clear_tape();
  Tensor plain = Tensor::randn({4, 3}, 1.0f, 2);
  EXPECT_FALSE(reshape(plain, {12}).requires_grad());
  EXPECT_EQ(tape_size(), 0u);
  Tensor p = random_input({4, 3}, 3);
  EXPECT_TRUE(reshape(p, {2, 2, 3}).requires_grad());
  EXPECT_EQ(tape_size(), 1u);
  clear_tape();
}

TEST(Reshape, GradientIsTheUpstreamGradientReshaped) {
  Tensor x = random_input({2, 3, 4}, 4);
  Tensor dout = Tensor::randn({4, 6}, 1.0f, 5);
  backward(reshape(x, {4, 6}), dout);
  EXPECT_EQ(x.grad().shape(), x.shape());
  EXPECT_EQ(x.grad().to_vector(), dout.to_vector());
}

TEST(Reshape, GradientMatchesFiniteDifferences) {
  expect_gradients_match([](auto& in) { return reshape(in[0], {3, 10}); }, {random_input({5, 6}, 6)});
  // Inside a chain: gelu(reshape(x)) reshaped back.
  expect_gradients_match([](auto& in) { return reshape(gelu(reshape(in[0], {2, 2, 5})), {20}); },
                         {random_input({4, 5}, 7)});
}

TEST(Reshape, WrongElementCountIsAnErrorNamingBothShapes) {
  Tensor x = Tensor::zeros({2, 3});
  try {
    reshape(x, {4, 2});
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("reshape"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(2, 3)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(4, 2)"), std::string::npos) << msg;
  }
}
