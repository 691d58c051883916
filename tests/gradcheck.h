// One helper checks the backward of any op against central finite differences.
//
//   expect_gradients_match([](auto& in) { return gelu(in[0]); }, {x});
//
// It draws a fixed random upstream gradient R (same shape as the output), runs the op once with
// the tape and backward(out, R), then for every element x_i of every input that requires grad
// computes (L(x_i + h) − L(x_i − h)) / 2h with L = Σ out·R accumulated in double, and compares.
//
// Tolerances: the op runs in float32, so L carries a relative rounding error of ~1e-7·√n; divided
// by 2h = 2e-2 that is ~1e-5·|L| — well below the default atol 2e-3 + rtol 2e-2 · |analytic|.
// The truncation error of central differences is O(h²·f''') ≈ 1e-4 for the smooth ops here.
// Ops with kinks (clamp, min/max) keep test points away from the kink.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/tensor/random.h"
#include "common/tensor/tensor.h"

namespace sog::testing {

using OpFn = std::function<Tensor(std::vector<Tensor>&)>;

struct GradCheckOptions {
  float h = 1e-2f;
  float atol = 2e-3f;
  float rtol = 2e-2f;
  uint64_t seed = 7;
};

inline double weighted_sum(const Tensor& out, const std::vector<float>& r) {
  std::vector<float> v = out.to_vector();
  double s = 0;
  for (size_t i = 0; i < v.size(); i++) s += static_cast<double>(v[i]) * r[i];
  return s;
}

inline void expect_gradients_match(const OpFn& f, std::vector<Tensor> inputs, GradCheckOptions opt = {}) {
  for (auto& t : inputs) t.reset_grad();
  clear_tape();
  Tensor out = f(inputs);
  ASSERT_TRUE(out.requires_grad()) << "the op recorded nothing on the tape";
  Rng rng(opt.seed);
  std::vector<float> r(out.numel());
  for (auto& v : r) v = rng.normal();
  backward(out, Tensor::from_vector(out.shape(), r));

  NoGradGuard no_grad;
  for (size_t k = 0; k < inputs.size(); k++) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    Tensor g = x.grad();
    ASSERT_TRUE(g.defined()) << "input " << k << " received no gradient";
    std::vector<float> analytic = g.to_vector();
    float* p = x.f32();
    for (int64_t i = 0; i < x.numel(); i++) {
      float saved = p[i];
      p[i] = saved + opt.h;
      double lp = weighted_sum(f(inputs), r);
      p[i] = saved - opt.h;
      double lm = weighted_sum(f(inputs), r);
      p[i] = saved;
      double numeric = (lp - lm) / (2.0 * opt.h);
      double tol = opt.atol + opt.rtol * std::fabs(numeric);
      EXPECT_NEAR(analytic[i], numeric, tol) << "input " << k << " element " << i;
    }
  }
}

// A tensor of the given shape, N(0, std), that requires grad.
inline Tensor random_input(const Shape& shape, uint64_t seed, float std = 1.0f) {
  Tensor t = Tensor::randn(shape, std, seed);
  t.set_requires_grad(true);
  return t;
}

inline std::string source_path(const std::string& rel) { return std::string(SOG_SOURCE_DIR) + "/" + rel; }

}  // namespace sog::testing
