#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/cross_entropy.h"
#include "common/ops/elementwise.h"
#include "common/ops/reduce.h"
#include "common/ops/softmax.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

// Float64 log p_{i,t} over the first V of Vp columns.
static double log_prob_f64(const std::vector<float>& x, int64_t i, int64_t t, int64_t V, int64_t Vp) {
  double m = -INFINITY, s = 0;
  for (int64_t v = 0; v < V; v++) m = std::max(m, (double)x[i * Vp + v]);
  for (int64_t v = 0; v < V; v++) s += std::exp(x[i * Vp + v] - m);
  return x[i * Vp + t] - m - std::log(s);
}

// The message of entropy(logits, V)'s error, or "" when it throws none.
static std::string error_of_entropy(const Tensor& logits, int64_t V) {
  try {
    entropy(logits, V);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

// Float64 reference of the loss: Σ w_i · (−log p_{i,t_i}) / Σ w_i over rows with t_i ≠ ignore.
static double loss_f64(const Tensor& logits, const std::vector<int32_t>& t, const std::vector<float>& w, int32_t ignore,
                       int64_t V) {
  const int64_t Vp = logits.shape().last();
  std::vector<float> x = logits.to_vector();
  double num = 0, den = 0;
  for (size_t i = 0; i < t.size(); i++) {
    if (t[i] == ignore) continue;
    double wi = w.empty() ? 1.0 : w[i];
    num += wi * -log_prob_f64(x, i, t[i], V, Vp);
    den += wi;
  }
  return den > 0 ? num / den : 0.0;
}

TEST(CrossEntropy, ForwardMatchesFloat64Reference) {
  Tensor logits = Tensor::randn({2, 3, 11}, 2.0f, 1);  // (B,T,Vp)
  std::vector<int32_t> t = {0, 5, 10, 3, 3, 7};
  Tensor targets = Tensor::from_ids({2, 3}, t);
  Tensor loss = cross_entropy(logits, targets);
  EXPECT_EQ(loss.shape(), Shape({1}));
  EXPECT_NEAR(loss.item(), loss_f64(logits, t, {}, -1, 11), 1e-6);
  // (N,Vp) with (N) targets is the same loss.
  EXPECT_FLOAT_EQ(cross_entropy(logits.reshape({6, 11}), targets.reshape({6})).item(), loss.item());
}

TEST(CrossEntropy, UniformLogitsGiveLnV) {
  for (int64_t V : {2, 10, 50257}) {
    Tensor logits = Tensor::zeros({4, V});
    Tensor targets = Tensor::from_ids({4}, {0, 1, 1, static_cast<int32_t>(V - 1)});
    EXPECT_EQ(cross_entropy(logits, targets).item(), static_cast<float>(std::log(static_cast<double>(V)))) << V;
  }
}

TEST(CrossEntropy, WeightsAndIgnoreIndex) {
  Tensor logits = Tensor::randn({2, 4, 9}, 1.5f, 2);
  std::vector<int32_t> t = {1, -100, 8, 0, 4, 4, -100, 2};
  std::vector<float> w = {1.0f, 1.0f, 0.0f, 0.5f, 2.0f, 1.0f, 3.0f, 0.25f};
  Tensor targets = Tensor::from_ids({2, 4}, t), weights = Tensor::from_vector({2, 4}, w);
  EXPECT_NEAR(cross_entropy(logits, targets, weights, -100).item(), loss_f64(logits, t, w, -100, 9), 1e-6);
  EXPECT_NEAR(cross_entropy(logits, targets, Tensor(), -100).item(), loss_f64(logits, t, {}, -100, 9), 1e-6);
  // The gradient with weights and ignored rows, against finite differences.
  expect_gradients_match([&](auto& in) { return cross_entropy(in[0], targets, weights, -100); },
                         {random_input({2, 4, 9}, 3, 1.5f)});
  // Ignored rows and zero-weight rows get no gradient at all.
  Tensor x = random_input({2, 4, 9}, 4);
  cross_entropy(x, targets, weights, -100).backward();
  std::vector<float> g = x.grad().to_vector();
  for (int row : {1, 2, 6})
    for (int v = 0; v < 9; v++) EXPECT_EQ(g[row * 9 + v], 0.0f) << "row " << row;
}

TEST(CrossEntropy, AllRowsIgnoredGiveZeroLossAndZeroGradient) {
  Tensor x = random_input({3, 5}, 5);
  Tensor loss = cross_entropy(x, Tensor::from_ids({3}, {-1, -1, -1}));
  EXPECT_EQ(loss.item(), 0.0f);
  loss.backward();
  for (float g : x.grad().to_vector()) EXPECT_EQ(g, 0.0f);
  Tensor zero_w = Tensor::zeros({3});
  EXPECT_EQ(cross_entropy(x, Tensor::from_ids({3}, {0, 1, 2}), zero_w).item(), 0.0f);
}

TEST(CrossEntropy, PaddedVocabularyIsInvisible) {
  // V = 7 real columns of Vp = 12; the padded 5 hold huge values that would dominate the softmax.
  const int64_t V = 7, Vp = 12;
  Tensor padded = random_input({5, Vp}, 6), real = Tensor::empty({5, V});
  for (int i = 0; i < 5; i++)
    for (int v = 0; v < Vp; v++) {
      if (v >= V) padded.f32()[i * Vp + v] = 50.0f;
      else real.f32()[i * V + v] = padded.f32()[i * Vp + v];
    }
  Tensor targets = Tensor::from_ids({5}, {0, 6, 3, 3, 1});
  Tensor loss = cross_entropy(padded, targets, Tensor(), -1, V);
  EXPECT_EQ(loss.item(), cross_entropy(real, targets).item());
  loss.backward();
  std::vector<float> g = padded.grad().to_vector();
  for (int i = 0; i < 5; i++)
    for (int v = V; v < Vp; v++) EXPECT_EQ(g[i * Vp + v], 0.0f);
  expect_gradients_match([&](auto& in) { return cross_entropy(in[0], targets, Tensor(), -1, V); },
                         {random_input({5, Vp}, 7)});
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  Tensor targets = Tensor::from_ids({2, 3}, {0, 4, 2, 1, 1, 3});
  expect_gradients_match([&](auto& in) { return cross_entropy(in[0], targets); }, {random_input({2, 3, 5}, 8)});
}

// 64 rows × 1024 columns: the parallel path, gradient checked against (p − onehot)/N in float64.
TEST(CrossEntropy, LargeBatchBackwardMatchesFloat64) {
  const int64_t N = 64, V = 1000, Vp = 1024;
  Tensor x = random_input({N, Vp}, 9, 3.0f);
  std::vector<int32_t> t(N);
  for (int64_t i = 0; i < N; i++) t[i] = static_cast<int32_t>((i * 37) % V);
  Tensor loss = cross_entropy(x, Tensor::from_ids({N}, t), Tensor(), -1, V);
  EXPECT_NEAR(loss.item(), loss_f64(x, t, {}, -1, V), 1e-5);
  loss.backward();
  std::vector<float> xv = x.to_vector(), g = x.grad().to_vector();
  for (int64_t i = 0; i < N; i++) {
    double lse = xv[i * Vp + t[i]] - log_prob_f64(xv, i, t[i], V, Vp);
    for (int64_t v = 0; v < V; v++) {
      double ref = (std::exp(xv[i * Vp + v] - lse) - (v == t[i])) / N;
      ASSERT_NEAR(g[i * Vp + v], ref, 1e-7) << i << "," << v;
    }
  }
}

TEST(CrossEntropy, BadTargetNamesPositionAndValue) {
  Tensor logits = Tensor::zeros({2, 3, 10});
  try {
    cross_entropy(logits, Tensor::from_ids({2, 3}, {1, 2, 3, 4, 10, 5}));
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cross_entropy: targets"), std::string::npos) << m;
    EXPECT_NE(m.find("[0, 10)"), std::string::npos) << m;
    EXPECT_NE(m.find("found 10 at position (1, 1)"), std::string::npos) << m;
  }
  // A target in the padding (≥ V, < Vp) is out of range too.
  EXPECT_THROW(cross_entropy(logits, Tensor::from_ids({2, 3}, {1, 2, 3, 4, 8, 5}), Tensor(), -1, 8),
               std::invalid_argument);
  EXPECT_THROW(cross_entropy(logits, Tensor::from_ids({2, 3}, {1, 2, 3, 4, -2, 5})), std::invalid_argument);
  // Shapes, dtypes, V and weights.
  EXPECT_THROW(cross_entropy(logits, Tensor::from_ids({3, 2}, {0, 0, 0, 0, 0, 0})), std::invalid_argument);
  EXPECT_THROW(cross_entropy(logits, Tensor::zeros({2, 3})), std::invalid_argument);
  EXPECT_THROW(cross_entropy(logits, Tensor::from_ids({2, 3}, {0, 0, 0, 0, 0, 0}), Tensor(), -1, 11),
               std::invalid_argument);
  EXPECT_THROW(cross_entropy(logits, Tensor::from_ids({2, 3}, {0, 0, 0, 0, 0, 0}), Tensor::full({2, 3}, -1.0f)),
               std::invalid_argument);
}

TEST(GatherLogprobs, ForwardMatchesFloat64AndPaddingIsInvisible) {
  const int64_t V = 9, Vp = 16;
  Tensor logits = Tensor::randn({2, 3, Vp}, 2.0f, 10);
  std::vector<int32_t> ids = {0, 8, 4, 4, 1, 7};
  Tensor out = gather_logprobs(logits, Tensor::from_ids({2, 3}, ids), V);
  EXPECT_EQ(out.shape(), Shape({2, 3}));
  std::vector<float> xv = logits.to_vector(), ov = out.to_vector();
  for (int i = 0; i < 6; i++) EXPECT_NEAR(ov[i], log_prob_f64(xv, i, ids[i], V, Vp), 1e-6) << i;
  // Agrees with the loss: mean(−logprob) = cross_entropy.
  double mean_nll = 0;
  for (float v : ov) mean_nll -= v / 6.0;
  EXPECT_NEAR(cross_entropy(logits, Tensor::from_ids({2, 3}, ids), Tensor(), -1, V).item(), mean_nll, 1e-6);
  EXPECT_THROW(gather_logprobs(logits, Tensor::from_ids({2, 3}, {0, 9, 0, 0, 0, 0}), V), std::invalid_argument);
}

TEST(GatherLogprobs, GradientMatchesFiniteDifferences) {
  Tensor ids = Tensor::from_ids({2, 3}, {0, 4, 2, 1, 1, 5});
  expect_gradients_match([&](auto& in) { return gather_logprobs(in[0], ids); }, {random_input({2, 3, 6}, 11)});
  // V < Vp: the padded columns get exactly zero.
  Tensor x = random_input({2, 3, 8}, 12);
  backward(gather_logprobs(x, ids, 6), Tensor::full({2, 3}, 1.0f));
  std::vector<float> g = x.grad().to_vector();
  for (int i = 0; i < 6; i++)
    for (int v = 6; v < 8; v++) EXPECT_EQ(g[i * 8 + v], 0.0f);
  expect_gradients_match([&](auto& in) { return gather_logprobs(in[0], ids, 6); }, {random_input({2, 3, 8}, 13)});
}

// Float64 −Σ p log p over the first V of Vp columns of row i.
static double entropy_f64(const std::vector<float>& x, int64_t i, int64_t V, int64_t Vp) {
  double h = 0;
  for (int64_t v = 0; v < V; v++) {
    const double lp = log_prob_f64(x, i, v, V, Vp);
    h -= std::exp(lp) * lp;
  }
  return h;
}

TEST(Entropy, ForwardMatchesFloat64AndPaddingIsInvisible) {
  const int64_t V = 9, Vp = 16;
  Tensor logits = Tensor::randn({2, 3, Vp}, 2.0f, 20);
  std::vector<float> x = logits.to_vector();
  for (int64_t v = V; v < Vp; v++) x[v] = 1e4f;  // padded columns of row 0: never part of the distribution
  x[1 * Vp + 2] += 1000.0f;                       // row 1: one token dominates, H → 0
  for (int64_t v = 0; v < Vp; v++) x[2 * Vp + v] = 0.5f;            // row 2: flat, H = log V
  for (int64_t v = 0; v < Vp; v++) x[3 * Vp + v] += 3000.0f;        // row 3: large logits, shifted
  logits = Tensor::from_vector({2, 3, Vp}, x);
  Tensor h = entropy(logits, V);
  ASSERT_EQ(h.shape(), Shape({2, 3}));
  std::vector<float> hv = h.to_vector();
  for (int i = 0; i < 6; i++) EXPECT_NEAR(hv[i], entropy_f64(x, i, V, Vp), 2e-5) << i;
  EXPECT_NEAR(hv[1], 0.0, 1e-6);
  EXPECT_NEAR(hv[2], std::log(double(V)), 1e-5);
  EXPECT_NE(error_of_entropy(logits, Vp + 1).find("entropy: V: expected 0 (= Vp) or 1 <= V <= Vp = 16, found 17"),
            std::string::npos);
}

TEST(Entropy, GradientMatchesFiniteDifferences) {
  expect_gradients_match([](auto& in) { return entropy(in[0]); }, {random_input({2, 3, 6}, 21)});
  expect_gradients_match([](auto& in) { return entropy(in[0], 5); }, {random_input({4, 7}, 22)});
  // V < Vp: the padded columns get exactly zero.
  Tensor x = random_input({2, 3, 8}, 23);
  backward(entropy(x, 6), Tensor::full({2, 3}, 1.0f));
  std::vector<float> g = x.grad().to_vector();
  for (int i = 0; i < 6; i++)
    for (int v = 6; v < 8; v++) EXPECT_EQ(g[i * 8 + v], 0.0f);
}

// The fused op against the composition it replaces: −Σ_v softmax(x)·log_softmax(x), forward and
// backward, on rows of a GPT-sized vocabulary.
TEST(Entropy, EqualsMinusSumOfSoftmaxTimesLogSoftmax) {
  const int64_t B = 3, T = 5, V = 2048;
  Tensor x1 = Tensor::randn({B, T, V}, 3.0f, 24), x2 = Tensor::from_vector({B, T, V}, x1.to_vector());
  x1.set_requires_grad(true);
  x2.set_requires_grad(true);
  Tensor dout = Tensor::randn({B, T}, 1.0f, 25);
  Tensor fused = entropy(x1);
  backward(fused, dout);  // (one graph per backward: it clears the tape)
  Tensor direct = scale(sum(mul(softmax(x2), log_softmax(x2)), -1), -1.0f);
  backward(direct, dout);
  ASSERT_EQ(direct.shape(), fused.shape());
  std::vector<float> f = fused.to_vector(), d = direct.to_vector();
  for (size_t i = 0; i < f.size(); i++) EXPECT_NEAR(f[i], d[i], 2e-5 * std::log(double(V))) << i;
  std::vector<float> g1 = x1.grad().to_vector(), g2 = x2.grad().to_vector();
  double worst = 0, largest = 0;  // float roundings of terms p·(lse − x − H) with |lse − x| up to ~20
  for (size_t i = 0; i < g1.size(); i++) {
    worst = std::max(worst, std::fabs(double(g1[i]) - g2[i]));
    largest = std::max(largest, std::fabs(double(g2[i])));
  }
  EXPECT_GT(largest, 0.05);
  EXPECT_LT(worst, 1e-5);
}
