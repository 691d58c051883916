#include <gtest/gtest.h>

#include <cmath>

#include "common/tensor/cuda.h"
#include "common/tensor/random.h"
#include "common/tensor/tensor.h"

using namespace sog;

TEST(Tensor, ShapeAndNumel) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.ndim(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.shape().rows(), 6);
  EXPECT_EQ(t.shape().str(), "(2, 3, 4)");
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_THROW(Tensor::zeros({1, 2, 3, 4, 5}), std::invalid_argument);
}

TEST(Tensor, AllocationIsAligned) {
  Tensor t = Tensor::empty({3});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
}

TEST(Tensor, RowsIsAViewSharingStorage) {
  Tensor t = Tensor::from_vector({3, 2}, {0, 1, 2, 3, 4, 5});
  Tensor r = t.rows(1, 2);
  EXPECT_EQ(r.shape(), Shape({2, 2}));
  EXPECT_EQ(r.to_vector(), (std::vector<float>{2, 3, 4, 5}));
  r.f32()[0] = 42;
  EXPECT_EQ(t.f32()[2], 42);
  EXPECT_THROW(t.rows(2, 2), std::out_of_range);
}

TEST(Tensor, ReshapeSharesStorageAndChecksNumel) {
  Tensor t = Tensor::from_vector({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor r = t.reshape({3, 2});
  r.f32()[5] = -1;
  EXPECT_EQ(t.f32()[5], -1);
  EXPECT_THROW(t.reshape({4, 2}), std::invalid_argument);
}

TEST(Tensor, Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_float(float_to_bf16(3.140625f)), 3.140625f);  // exactly representable
  // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1+2^-7: ties to even → 1.
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 1.0f / 256)), 1.0f);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
  Tensor t = Tensor::from_vector({3}, {1.5f, -2.25f, 1e-3f});
  std::vector<float> back = t.to(DType::bf16).to(DType::f32).to_vector();
  EXPECT_EQ(back[0], 1.5f);
  EXPECT_EQ(back[1], -2.25f);
  EXPECT_NEAR(back[2], 1e-3f, 1e-3f / 128);  // 8 bits of mantissa
}

TEST(Tensor, DtypeChecksNameExpectedAndFound) {
  Tensor t = Tensor::zeros({2}, DType::i32);
  try {
    t.f32();
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("expected f32, found i32"), std::string::npos) << e.what();
  }
}

TEST(Tensor, RandnIsDeterministicAndNormal) {
  Tensor a = Tensor::randn({10000}, 2.0f, 5), b = Tensor::randn({10000}, 2.0f, 5);
  EXPECT_EQ(a.to_vector(), b.to_vector());
  double mean = 0, var = 0;
  for (float v : a.to_vector()) mean += v;
  mean /= 10000;
  for (float v : a.to_vector()) var += (v - mean) * (v - mean);
  var /= 10000;
  EXPECT_NEAR(mean, 0.0, 0.06);           // 3 standard errors: 3 · 2/√10000
  EXPECT_NEAR(std::sqrt(var), 2.0, 0.05);
}

TEST(Rng, StateRoundTripResumesTheSequence) {
  Rng a(11);
  for (int i = 0; i < 5; i++) a.next_u64();
  Rng b(0);
  b.set_state(a.state());
  for (int i = 0; i < 5; i++) EXPECT_EQ(a.next_u64(), b.next_u64());
}

TEST(Tensor, CudaRoundTrip) {
  if (!cuda_available()) GTEST_SKIP() << "needs a CUDA device: " << cuda_unavailable_reason();
  Tensor h = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
  Tensor d = h.to(Device::cuda);
  EXPECT_EQ(d.device(), Device::cuda);
  EXPECT_EQ(d.to(Device::cpu).to_vector(), h.to_vector());
  EXPECT_THROW(d.f32(), std::invalid_argument);  // no host access to device memory
}

TEST(Tensor, CudaUnavailableIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present; this checks the CPU-only error path";
  try {
    Tensor::empty({4}, DType::f32, Device::cuda);
    FAIL() << "expected an exception";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
}

TEST(Tensor, ViewAtAnOffsetSharesStorage) {
  Tensor flat = Tensor::from_vector({6}, {0, 1, 2, 3, 4, 5});
  Tensor v = flat.view(2, {2, 2});
  EXPECT_EQ(v.to_vector(), (std::vector<float>{2, 3, 4, 5}));
  v.f32()[0] = 9;
  EXPECT_EQ(flat.f32()[2], 9);
  EXPECT_THROW(flat.view(3, {2, 2}), std::out_of_range);
}

TEST(Tensor, SetGradPointsTheGradientIntoAGivenBuffer) {
  Tensor grads = Tensor::zeros({4});
  Tensor p = Tensor::zeros({2});
  p.set_requires_grad(true);
  p.set_grad(grads.view(2, {2}));
  p.grad_ref().f32()[1] += 3;
  EXPECT_EQ(grads.f32()[3], 3);
  EXPECT_THROW(p.set_grad(Tensor::zeros({3})), std::invalid_argument);
}
