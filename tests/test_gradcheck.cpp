// The gradient checker itself (tests/gradcheck.h), with negative controls: every op test trusts it,
// so it must fail on a wrong backward — a gradient scaled by a few percent, one computed with B
// where Bᵀ belongs, one that is all zeros, one on the wrong input — and pass on the right one.
#include <gtest/gtest.h>

#include "common/autograd/tape.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

namespace {

enum class Backward { right, scaled_by_1_05, b_untransposed, zeros, swapped_inputs };

// out = A·B for square (n,n) matrices, written out here so that its backward can be broken on
// purpose. The right backward: dA = dout·Bᵀ, dB = Aᵀ·dout.
Tensor square_matmul(const Tensor& a, const Tensor& b, Backward kind) {
  const int64_t n = a.shape()[0];
  Tensor out = Tensor::zeros({n, n});
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++)
      for (int64_t k = 0; k < n; k++) out.f32()[i * n + k] += a.f32()[i * n + j] * b.f32()[j * n + k];
  if (should_record({&a, &b})) {
    record("square_matmul", out, [a, b, n, kind](const Tensor& dout) {
      if (kind == Backward::zeros) {
        a.grad_ref();  // the gradients exist, and stay zero
        b.grad_ref();
        return;
      }
      const float* g = dout.f32();
      const float scale = kind == Backward::scaled_by_1_05 ? 1.05f : 1.0f;
      float* da = (kind == Backward::swapped_inputs ? b : a).grad_ref().f32();
      float* db = (kind == Backward::swapped_inputs ? a : b).grad_ref().f32();
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
          for (int64_t k = 0; k < n; k++) {
            // dA[i,j] += dout[i,k]·B[j,k] (that is Bᵀ); the bug reads B[k,j]
            const float bjk = kind == Backward::b_untransposed ? b.f32()[k * n + j] : b.f32()[j * n + k];
            da[i * n + j] += scale * g[i * n + k] * bjk;
            db[j * n + k] += scale * a.f32()[i * n + j] * g[i * n + k];
          }
    });
  }
  return out;
}

GradCheckReport check(Backward kind) {
  return check_gradients([kind](auto& in) { return square_matmul(in[0], in[1], kind); },
                         {random_input({4, 4}, 1), random_input({4, 4}, 2)});
}

bool mentions(const GradCheckReport& r, const std::string& what) {
  for (const std::string& m : r.mismatches)
    if (m.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(GradCheck, PassesTheRightBackward) {
  GradCheckReport r = check(Backward::right);
  EXPECT_TRUE(r.ok()) << r.summary();
  EXPECT_EQ(r.checked, 32);
  EXPECT_GT(r.max_abs_numeric, 10 * GradCheckOptions{}.atol);  // the comparisons had something to compare
}

TEST(GradCheck, FailsAGradientFivePercentOff) {
  GradCheckReport r = check(Backward::scaled_by_1_05);
  EXPECT_FALSE(r.ok());
  EXPECT_GT(r.mismatches.size(), 16u) << r.summary();  // most of the 32 elements, on both inputs
  EXPECT_TRUE(mentions(r, "input 0") && mentions(r, "input 1")) << r.summary();
}

TEST(GradCheck, FailsBWhereBTransposedBelongs) {
  GradCheckReport r = check(Backward::b_untransposed);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "input 0")) << r.summary();
  EXPECT_FALSE(mentions(r, "input 1")) << r.summary();  // dB was right: only A's elements are named
}

TEST(GradCheck, FailsAZeroGradient) {
  GradCheckReport r = check(Backward::zeros);
  EXPECT_FALSE(r.ok());
  EXPECT_GT(r.mismatches.size(), 24u) << r.summary();
}

TEST(GradCheck, FailsGradientsSentToTheWrongInput) {
  EXPECT_FALSE(check(Backward::swapped_inputs).ok());
}

TEST(GradCheck, FailsAnOpThatRecordsNothing) {
  GradCheckReport r = check_gradients([](auto& in) { return in[0].clone(); }, {random_input({3}, 3)});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "recorded nothing")) << r.summary();
}

// The sampled whole-model check: the same rule, per named tensor of a flat buffer. A loss
// L(p) = Σ c_i·p_i² over two "tensors"; its gradient 2·c_i·p_i, and wrong ones.
TEST(GradCheck, SampledCheckNamesTheTensorThatIsWrong) {
  std::vector<float> p(12), c(12);
  Rng rng(4);
  for (size_t i = 0; i < p.size(); i++) p[i] = 1.0f + rng.uniform(), c[i] = 1.0f + static_cast<float>(i);
  auto loss = [&] {
    double s = 0;
    for (size_t i = 0; i < p.size(); i++) s += double(c[i]) * p[i] * p[i];
    return s;
  };
  const std::vector<CheckedTensor> segments = {{"first", 0, 8, -1}, {"second", 8, 4, -1}};
  const std::vector<NumericSample> samples = sample_numeric_gradients(loss, p.data(), segments, 4, 1e-2f, 5);
  ASSERT_EQ(samples.size(), 8u);
  std::vector<float> right(12);
  for (size_t i = 0; i < p.size(); i++) right[i] = 2 * c[i] * p[i];
  for (const GradCheckReport& r : compare_gradients(samples, right, segments, {})) EXPECT_TRUE(r.ok()) << r.summary();

  std::vector<float> wrong = right;
  for (size_t i = 8; i < 12; i++) wrong[i] = 0.0f;  // the second tensor's backward forgot to write
  std::vector<GradCheckReport> reports = compare_gradients(samples, wrong, segments, {});
  EXPECT_TRUE(reports[0].ok()) << reports[0].summary();
  EXPECT_FALSE(reports[1].ok());
  EXPECT_EQ(reports[1].mismatches.size(), 4u) << reports[1].summary();
  EXPECT_NE(reports[1].mismatches[0].find("second element"), std::string::npos) << reports[1].summary();
}
