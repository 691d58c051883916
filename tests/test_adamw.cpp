#include <gtest/gtest.h>
#include <omp.h>

#include <bit>
#include <cmath>

#include "common/optim/adamw.h"
#include "common/optim/schedule.h"
#include "common/tensor/random.h"

using namespace sog;

// Three AdamW steps against a float64 transcription of PyTorch's torch.optim.AdamW update
// (p ← p(1 − lr λ) − lr m̂/(√v̂ + ε)), with decay on the first segment only.
TEST(AdamW, MatchesAFloat64ReferenceOfPyTorchsUpdate) {
  const int64_t N = 10;
  AdamWConfig cfg{0.9f, 0.95f, 1e-8f, 0.1f};
  AdamW opt(N, {{0, 6, true}, {6, 4, false}}, cfg);
  Tensor p = Tensor::randn({N}, 1.0f, 1);
  const std::vector<float> p0 = p.to_vector();
  std::vector<double> ref(p0.begin(), p0.end()), m(N, 0), v(N, 0);
  const float lr = 1e-2f;
  for (int t = 1; t <= 3; t++) {
    Tensor g = Tensor::randn({N}, 1.0f, 10 + t);
    std::vector<float> gv = g.to_vector();
    opt.step(p, g, lr);
    for (int i = 0; i < N; i++) {
      double wd = i < 6 ? 0.1 : 0.0;
      m[i] = 0.9 * m[i] + 0.1 * gv[i];
      v[i] = 0.95 * v[i] + 0.05 * gv[i] * gv[i];
      double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.95, t));
      ref[i] = ref[i] * (1 - lr * wd) - lr * mh / (std::sqrt(vh) + 1e-8);
    }
  }
  std::vector<float> got = p.to_vector();
  for (int i = 0; i < N; i++) EXPECT_NEAR(got[i], ref[i], 1e-6) << i;
  EXPECT_EQ(opt.steps_taken(), 3);
}

TEST(AdamW, FirstStepMovesEachParameterByAboutLr) {
  // With bias correction, step 1 is lr · g/|g| (+ decay): the sign of the gradient, scaled.
  AdamW opt(3, {{0, 3, false}}, AdamWConfig{});
  Tensor p = Tensor::zeros({3});
  opt.step(p, Tensor::from_vector({3}, {0.5f, -2.0f, 1e-3f}), 0.1f);
  EXPECT_NEAR(p.to_vector()[0], -0.1f, 1e-5);
  EXPECT_NEAR(p.to_vector()[1], 0.1f, 1e-5);
  EXPECT_NEAR(p.to_vector()[2], -0.1f, 1e-4);
}

TEST(AdamW, SegmentsMustTileTheBuffer) {
  EXPECT_THROW(AdamW(10, {{0, 5, true}}, AdamWConfig{}), std::invalid_argument);
  EXPECT_THROW(AdamW(10, {{0, 5, true}, {6, 4, false}}, AdamWConfig{}), std::invalid_argument);
}

TEST(GradClip, ScalesToTheMaxNormAndReportsTheNormBefore) {
  Tensor g = Tensor::from_vector({2}, {3.0f, 4.0f});
  EXPECT_FLOAT_EQ(global_grad_norm(g), 5.0f);
  float before = clip_grad_norm(g, 1.0f);
  EXPECT_FLOAT_EQ(before, 5.0f);
  EXPECT_NEAR(global_grad_norm(g), 1.0f, 1e-5);
  Tensor small = Tensor::from_vector({2}, {0.3f, 0.4f});
  clip_grad_norm(small, 1.0f);
  EXPECT_EQ(small.to_vector(), (std::vector<float>{0.3f, 0.4f}));  // untouched below the limit
}

TEST(LrSchedule, WarmupThenCosineToTheFloor) {
  LrSchedule s{1e-3f, 1e-4f, 100, 2000};
  EXPECT_FLOAT_EQ(s.at(0), 1e-5f);
  EXPECT_FLOAT_EQ(s.at(99), 1e-3f);
  EXPECT_FLOAT_EQ(s.at(100), 1e-3f);
  EXPECT_NEAR(s.at(1050), 5.5e-4f, 1e-8);  // halfway down the cosine
  EXPECT_FLOAT_EQ(s.at(2000), 1e-4f);
  EXPECT_FLOAT_EQ(s.at(5000), 1e-4f);
}

// The gradient norm sums fixed chunks in order: the same bits on one thread and on two (it decides
// clipping, so a thread-dependent last bit would make a whole run depend on the thread count).
TEST(GradNorm, SameBitsOnOneAndTwoThreads) {
  Tensor g = Tensor::randn({(1 << 20) + 12345}, 1.0f, 7);
  for (int64_t i = 0; i < g.numel(); i += 1000) g.f32()[i] *= 1e4f;  // terms of very different sizes
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const float one = global_grad_norm(g);
  omp_set_num_threads(2);
  const float two = global_grad_norm(g);
  omp_set_num_threads(before);
  EXPECT_EQ(std::bit_cast<uint32_t>(one), std::bit_cast<uint32_t>(two)) << one << " vs " << two;
  double ref = 0;
  for (int64_t i = 0; i < g.numel(); i++) ref += double(g.f32()[i]) * g.f32()[i];
  EXPECT_NEAR(one, std::sqrt(ref), 1e-6 * std::sqrt(ref));
}
