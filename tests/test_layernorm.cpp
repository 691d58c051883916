#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/layernorm.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

// The float64 reference: out = (x − mean)/√(var + eps) · w + b, row by row.
static std::vector<double> layernorm_reference(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  const int64_t C = x.shape().last(), N = x.shape().rows();
  std::vector<double> out(N * C);
  for (int64_t n = 0; n < N; n++) {
    const float* r = x.f32() + n * C;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < C; i++) mean += r[i];
    mean /= C;
    for (int64_t i = 0; i < C; i++) var += (r[i] - mean) * (r[i] - mean);
    var /= C;
    for (int64_t i = 0; i < C; i++)
      out[n * C + i] = (r[i] - mean) / std::sqrt(var + eps) * w.f32()[i] + b.f32()[i];
  }
  return out;
}

TEST(LayerNorm, RowsHaveMeanZeroAndVarianceOneBeforeTheAffine) {
  const int64_t C = 37;  // not a multiple of 16
  Tensor x = Tensor::randn({3, 4, C}, 3.0f, 1);
  for (int64_t i = 0; i < x.numel(); i++) x.f32()[i] += 5.0f;  // an offset the mean must remove
  Tensor y = layernorm(x, Tensor::full({C}, 1.0f), Tensor::zeros({C}));
  for (int64_t n = 0; n < 12; n++) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < C; i++) mean += y.f32()[n * C + i];
    mean /= C;
    for (int64_t i = 0; i < C; i++) var += (y.f32()[n * C + i] - mean) * (y.f32()[n * C + i] - mean);
    var /= C;
    EXPECT_NEAR(mean, 0.0, 1e-6) << "row " << n;
    EXPECT_NEAR(var, 1.0, 1e-4) << "row " << n;  // 1 − eps/var, var ≈ 9
  }
}

TEST(LayerNorm, ForwardMatchesFloat64Reference) {
  for (int64_t C : {1, 5, 64, 200}) {
    Tensor x = Tensor::randn({2, 3, C}, 2.0f, 2), w = Tensor::randn({C}, 1.0f, 3), b = Tensor::randn({C}, 1.0f, 4);
    Tensor y = layernorm(x, w, b);
    ASSERT_EQ(y.shape(), x.shape());
    std::vector<double> ref = layernorm_reference(x, w, b, 1e-5);
    for (int64_t i = 0; i < y.numel(); i++) EXPECT_NEAR(y.f32()[i], ref[i], 1e-5) << "C=" << C << " i=" << i;
  }
  // A single row (T = 1) of a 1-D input.
  Tensor x = Tensor::randn({9}, 1.0f, 5), w = Tensor::randn({9}, 1.0f, 6), b = Tensor::randn({9}, 1.0f, 7);
  std::vector<double> ref = layernorm_reference(x, w, b, 1e-3);
  Tensor y = layernorm(x, w, b, 1e-3f);
  for (int64_t i = 0; i < 9; i++) EXPECT_NEAR(y.f32()[i], ref[i], 1e-5);
}

TEST(LayerNorm, GradientMatchesFiniteDifferences) {
  for (int64_t C : {7, 20}) {
    expect_gradients_match([](auto& in) { return layernorm(in[0], in[1], in[2]); },
                           {random_input({2, 3, C}, 8), random_input({C}, 9), random_input({C}, 10)});
  }
}

TEST(LayerNorm, OnlyInputsThatRequireGradReceiveIt) {
  Tensor x = Tensor::randn({4, 6}, 1.0f, 11);
  Tensor w = random_input({6}, 12), b = Tensor::zeros({6});
  backward(layernorm(x, w, b), Tensor::randn({4, 6}, 1.0f, 13));
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  expect_gradients_match([x](auto& in) { return layernorm(x, in[0], in[1]); },
                         {random_input({6}, 14), random_input({6}, 15)});
}

TEST(LayerNorm, ParameterGradientsAreBitwiseTheSameOnOneThreadAndOnMany) {
  const int64_t N = 12 * 64 + 5, C = 128;  // a ragged last chunk; large enough for the parallel path
  Tensor x = Tensor::randn({N, C}, 1.0f, 16), w = Tensor::randn({C}, 1.0f, 17), b = Tensor::randn({C}, 1.0f, 18);
  Tensor dout = Tensor::randn({N, C}, 1.0f, 19), out = Tensor::empty({N, C});
  Tensor mean = Tensor::empty({N}), rstd = Tensor::empty({N});
  layernorm_forward(out.f32(), mean.f32(), rstd.f32(), x.f32(), w.f32(), b.f32(), N, C, 1e-5f);
  auto run = [&](int threads) {
    omp_set_num_threads(threads);
    std::vector<float> g(N * C + 2 * C, 0.0f);  // dinp, dweight, dbias
    layernorm_backward(g.data(), g.data() + N * C, g.data() + N * C + C, dout.f32(), x.f32(), w.f32(), mean.f32(),
                       rstd.f32(), N, C);
    return g;
  };
  const int threads = omp_get_max_threads();
  std::vector<float> one = run(1), many = run(std::max(threads, 2));
  omp_set_num_threads(threads);
  EXPECT_EQ(one, many);
  // dbias is Σ_rows dout: check against float64.
  for (int64_t i = 0; i < C; i++) {
    double ref = 0;
    for (int64_t n = 0; n < N; n++) ref += dout.f32()[n * C + i];
    EXPECT_NEAR(many[N * C + C + i], ref, 1e-3);
  }
}

TEST(LayerNorm, WrongShapesAreErrorsNamingTheArgument) {
  Tensor x = Tensor::zeros({2, 8});
  try {
    layernorm(x, Tensor::zeros({7}), Tensor::zeros({8}));
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("layernorm: weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(8)"), std::string::npos) << msg;
  }
  EXPECT_THROW(layernorm(x, Tensor::zeros({8}), Tensor::zeros({2, 8})), std::invalid_argument);
  EXPECT_THROW(layernorm(x, Tensor::zeros({8}), Tensor::zeros({8}), 0.0f), std::invalid_argument);
}
