#include <gtest/gtest.h>

#include "common/autograd/tape.h"
#include "common/ops/gelu.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

// A two-input op written here so this file tests the tape alone: out = a + b, elementwise.
static Tensor pair_sum(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(a.shape());
  for (int64_t i = 0; i < a.numel(); i++) out.f32()[i] = a.f32()[i] + b.f32()[i];
  if (should_record({&a, &b})) {
    record("pair_sum", out, [a, b](const Tensor& dout) {
      for (const Tensor* t : {&a, &b}) {
        if (!t->requires_grad()) continue;
        float* g = t->grad_ref().f32();
        for (int64_t i = 0; i < t->numel(); i++) g[i] += dout.f32()[i];
      }
    });
  }
  return out;
}

// A value used twice receives the sum of both gradients.
TEST(Autograd, ValueUsedTwiceGetsTheSummedGradient) {
  Tensor x = random_input({5}, 1);
  Tensor ones = Tensor::full({5}, 1.0f);
  backward(pair_sum(x, x), ones);  // d(x + x)/dx = 2
  for (float g : x.grad().to_vector()) EXPECT_FLOAT_EQ(g, 2.0f);

  // Through two branches: d(gelu(x) + gelu(x))/dx = 2 gelu'(x).
  Tensor twice = random_input({5}, 2), once = twice.clone();
  once.set_requires_grad(true);
  backward(pair_sum(gelu(twice), gelu(twice)), ones);
  backward(gelu(once), Tensor::full({5}, 2.0f));
  EXPECT_EQ(twice.grad().to_vector(), once.grad().to_vector());
}

TEST(Autograd, GradientsAccumulateOnLeavesUntilZeroGrad) {
  Tensor x = random_input({3}, 2);
  backward(gelu(x), Tensor::full({3}, 1.0f));
  std::vector<float> g1 = x.grad().to_vector();
  backward(gelu(x), Tensor::full({3}, 1.0f));
  std::vector<float> g2 = x.grad().to_vector();
  for (int i = 0; i < 3; i++) EXPECT_FLOAT_EQ(g2[i], 2 * g1[i]);
  x.zero_grad();
  for (float v : x.grad().to_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = random_input({3}, 3);
  clear_tape();
  {
    NoGradGuard guard;
    Tensor y = gelu(x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(tape_size(), 0u);
  }
  Tensor y = gelu(x);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_EQ(tape_size(), 1u);
  clear_tape();
}

TEST(Autograd, InputsWithoutGradRecordNothing) {
  clear_tape();
  Tensor x = Tensor::randn({3}, 1.0f, 4);
  Tensor y = gelu(x);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(tape_size(), 0u);
}

// backward() consumes the tape; a second backward on the same graph is an error that says so.
TEST(Autograd, BackwardTwiceIsAnError) {
  Tensor x = random_input({1}, 5);
  Tensor y = gelu(x);
  y.backward();
  try {
    y.backward();
    FAIL() << "expected an exception";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("already freed"), std::string::npos) << e.what();
  }
}

TEST(Autograd, BackwardNeedsAScalarOrAnUpstreamGradient) {
  Tensor x = random_input({3}, 6);
  Tensor y = gelu(x);
  EXPECT_THROW(y.backward(), std::invalid_argument);
  EXPECT_THROW(backward(y, Tensor::full({4}, 1.0f)), std::invalid_argument);
  clear_tape();
}

TEST(Autograd, LossWithoutGradIsAnError) {
  Tensor y = Tensor::full({1}, 1.0f);
  EXPECT_THROW(y.backward(), std::logic_error);
}

// A chain of ops: backward walks the tape in reverse (gelu∘gelu against finite differences).
TEST(Autograd, ChainRuleThroughTwoOps) {
  expect_gradients_match([](auto& in) { return gelu(gelu(in[0])); }, {random_input({6}, 7)});
}
