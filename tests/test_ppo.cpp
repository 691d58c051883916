// PPO's arithmetic (common/rl/ppo.h), each piece on a hand-worked example: per-token rewards, the
// k1/k3 KL estimators (exact expectations and a Monte-Carlo run), the adaptive KL controller, GAE,
// masked whitening, the clipped policy and value losses (values, gradients on both sides of the
// clip, statistics, finite differences), the diagnostics and the safety rails.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/rl/ppo.h"
#include "common/tensor/random.h"
#include "test_util.h"

using namespace sog;
using namespace sog::testing;

namespace {

void expect_near_all(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); i++) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

Tensor leaf(const Shape& shape, const std::vector<float>& v) {
  Tensor t = Tensor::from_vector(shape, v);
  t.set_requires_grad(true);
  return t;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---- GAE and rewards ---------------------------------------------------------------------------

TEST(Gae, HandWorkedFourTokens) {
  // γ = 1, λ = 0.95, value after the last token 0:
  //   δ3 = 1.0 − 0.8 = 0.2              A3 = 0.2
  //   δ2 = 0.0 + 0.8 − 0.6 = 0.2        A2 = 0.2 + 0.95·0.2    = 0.39
  //   δ1 = −0.2 + 0.6 − 0.4 = 0         A1 = 0.95·0.39         = 0.3705
  //   δ0 = 0.1 + 0.4 − 0.5 = 0          A0 = 0.95·0.3705       = 0.351975
  //   returns = A + V = 0.851975, 0.7705, 0.99, 1.0
  const std::vector<float> rewards = {0.1f, -0.2f, 0.0f, 1.0f}, values = {0.5f, 0.4f, 0.6f, 0.8f};
  Advantages a = gae(rewards, values, 1.0f, 0.95f);
  expect_near_all(a.advantages, {0.351975, 0.3705, 0.39, 0.2}, 1e-6);
  expect_near_all(a.returns, {0.851975, 0.7705, 0.99, 1.0}, 1e-6);
}

TEST(Gae, LambdaOneGivesRewardToGo) {
  // γ = λ = 1: A_t = Σ_{s≥t} r_s − V_t, so the return is the reward-to-go 0.9, 0.8, 1.0, 1.0.
  const std::vector<float> rewards = {0.1f, -0.2f, 0.0f, 1.0f}, values = {0.5f, 0.4f, 0.6f, 0.8f};
  Advantages a = gae(rewards, values, 1.0f, 1.0f);
  expect_near_all(a.returns, {0.9, 0.8, 1.0, 1.0}, 1e-6);
  expect_near_all(a.advantages, {0.4, 0.4, 0.4, 0.2}, 1e-6);
}

TEST(Gae, MismatchedSizesThrow) {
  const std::vector<float> rewards = {0.1f, 0.2f, 0.3f}, values = {0.5f, 0.4f};
  EXPECT_THROW(gae(rewards, values, 1.0f, 0.95f), std::invalid_argument);
}

TEST(TokenRewards, KlPenaltyEveryTokenScoreAtTheLast) {
  // β = 0.1: −0.1·(−1 + 1.5) = −0.05; −0.1·(−2 + 1) = 0.1; −0.1·(−0.25 + 0.75) + 2 = 1.95.
  const std::vector<float> logp = {-1.0f, -2.0f, -0.25f}, ref = {-1.5f, -1.0f, -0.75f};
  expect_near_all(token_rewards(logp, ref, 0.1f, 2.0f), {-0.05, 0.1, 1.95}, 1e-6);
  // β = 0: only the score, at the last token.
  expect_near_all(token_rewards(logp, ref, 0.0f, 2.0f), {0.0, 0.0, 2.0}, 0.0);
  EXPECT_THROW(token_rewards({}, {}, 0.1f, 1.0f), std::invalid_argument);
  EXPECT_THROW(token_rewards(logp, std::vector<float>{-1.0f}, 0.1f, 1.0f), std::invalid_argument);
}

// ---- KL estimators -----------------------------------------------------------------------------

TEST(KlEstimators, ExactExpectationIsTheKl) {
  // p from float log-probabilities, q a permutation of p: then log p_i − log q_i is exactly the
  // difference of the float inputs (the normaliser cancels) and Σ q = Σ p, so E_p[k1] = KL and
  // E_p[k3] = Σ q − Σ p + KL = KL hold to double rounding.
  const std::vector<float> lp = {std::log(0.05f), std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.35f)};
  const std::vector<int> perm = {4, 2, 3, 0, 1};
  std::vector<double> p(5), q(5);
  for (int i = 0; i < 5; i++) p[i] = std::exp(static_cast<double>(lp[i]));
  const double z = std::accumulate(p.begin(), p.end(), 0.0);
  for (int i = 0; i < 5; i++) p[i] /= z;
  for (int i = 0; i < 5; i++) q[i] = p[perm[i]];
  double kl = 0, e1 = 0, e3 = 0;
  bool k1_negative_somewhere = false;
  for (int i = 0; i < 5; i++) {
    kl += p[i] * std::log(p[i] / q[i]);
    const double k1 = kl_k1(lp[i], lp[perm[i]]), k3 = kl_k3(lp[i], lp[perm[i]]);
    EXPECT_GE(k3, 0.0) << "outcome " << i;
    k1_negative_somewhere |= k1 < 0;
    e1 += p[i] * k1;
    e3 += p[i] * k3;
  }
  EXPECT_GT(kl, 0.1);  // far apart: a real test of the identities
  EXPECT_NEAR(e1, kl, 1e-9);
  EXPECT_NEAR(e3, kl, 1e-9);
  EXPECT_TRUE(k1_negative_somewhere);
  // Equal log-probabilities: both zero; k3 by hand at r = e^{−1}: (e^{−1} − 1) + 1 = e^{−1}.
  EXPECT_EQ(kl_k1(-1.0f, -1.0f), 0.0);
  EXPECT_EQ(kl_k3(-1.0f, -1.0f), 0.0);
  EXPECT_NEAR(kl_k1(0.0f, -1.0f), 1.0, 1e-12);
  EXPECT_NEAR(kl_k3(0.0f, -1.0f), std::exp(-1.0), 1e-12);
}

TEST(KlEstimators, MonteCarloMeansAndVariances) {
  // q close to p: KL(p‖q) ≈ 0.00194; Var k1 ≈ 3.9e-3 and Var k3 ≈ 1.2e-6 (computed exactly).
  const std::vector<double> p = {0.1, 0.2, 0.3, 0.25, 0.15}, q = {0.11, 0.19, 0.28, 0.26, 0.16};
  double kl = 0;
  for (size_t i = 0; i < p.size(); i++) kl += p[i] * std::log(p[i] / q[i]);
  Rng rng(2024);
  const int n = 200000;
  double s1 = 0, ss1 = 0, s3 = 0, ss3 = 0;
  for (int d = 0; d < n; d++) {
    double u = rng.uniform(), c = 0;
    size_t i = 0;
    while (i + 1 < p.size() && u >= (c += p[i])) i++;  // inverse CDF
    const float lp = static_cast<float>(std::log(p[i])), lq = static_cast<float>(std::log(q[i]));
    const double k1 = kl_k1(lp, lq), k3 = kl_k3(lp, lq);
    s1 += k1, ss1 += k1 * k1, s3 += k3, ss3 += k3 * k3;
  }
  const double m1 = s1 / n, m3 = s3 / n;
  const double v1 = (ss1 - n * m1 * m1) / (n - 1), v3 = (ss3 - n * m3 * m3) / (n - 1);
  EXPECT_NEAR(m1, kl, 4 * std::sqrt(v1 / n));
  EXPECT_NEAR(m3, kl, 4 * std::sqrt(v3 / n) + 1e-7);  // + the float inputs' rounding
  EXPECT_NEAR(v1, 3.868e-3, 2e-4);
  EXPECT_LT(v3, v1 / 100);
}

// ---- KL controller -----------------------------------------------------------------------------

TEST(KLControllerTest, FixedNeverChanges) {
  KLController fixed(0.1, 0.0, 10000);
  EXPECT_FALSE(fixed.adaptive());
  for (double kl : {0.0, 6.0, 100.0}) fixed.update(kl, 512);
  EXPECT_EQ(fixed.beta(), 0.1);
  fixed.set_beta(0.3);
  EXPECT_EQ(fixed.beta(), 0.3);
}

TEST(KLControllerTest, AdaptiveFollowsTheTarget) {
  // β = 0.1, target 6, horizon 10,000, n = 256: β·(1 + clip(kl/6 − 1, ±0.2)·0.0256).
  struct Case {
    double kl, beta_after;
  };
  const Case cases[] = {
      {0.0, 0.099488},   // far below: −1 clipped to −0.2: 0.1·(1 − 0.2·0.0256)
      {5.4, 0.099744},   // below: −0.1: 0.1·(1 − 0.1·0.0256)
      {6.3, 0.100128},   // near: +0.05: 0.1·(1 + 0.05·0.0256)
      {30.0, 0.100512},  // far above: +4 clipped to +0.2: 0.1·(1 + 0.2·0.0256)
  };
  for (const Case& c : cases) {
    KLController k(0.1, 6.0, 10000);
    EXPECT_TRUE(k.adaptive());
    k.update(c.kl, 256);
    EXPECT_NEAR(k.beta(), c.beta_after, 1e-12) << "kl " << c.kl;
  }
  // Updates compound: twice far above is β·1.00512².
  KLController k(0.1, 6.0, 10000);
  k.update(30.0, 256), k.update(30.0, 256);
  EXPECT_NEAR(k.beta(), 0.1 * 1.00512 * 1.00512, 1e-12);
  EXPECT_THROW(KLController(-0.1, 6.0, 10000), std::invalid_argument);
  EXPECT_THROW(KLController(0.1, 6.0, 0.0), std::invalid_argument);
}

// ---- whitening ---------------------------------------------------------------------------------

TEST(MaskedWhiten, HandExampleWithMask) {
  // Selected 1, 2, 3, 6: mean 3, deviations −2, −1, 0, 3, Σd² = 14, unbiased std √(14/3) = 2.1602469.
  const std::vector<float> x0 = {1, 100, 2, 3, -50, 6}, mask = {1, 0, 1, 1, 0, 1};
  std::vector<float> x = x0;
  const WhitenStats used = masked_whiten(x, mask);
  EXPECT_DOUBLE_EQ(used.mean, 3.0);
  EXPECT_NEAR(used.std, 2.1602469, 1e-7);
  expect_near_all(x, {-0.9258201, 100, -0.4629100, 0.0, -50, 1.3887301}, 1e-6);
  double mean = 0, sq = 0;
  for (int i : {0, 2, 3, 5}) mean += x[i] / 4.0;
  for (int i : {0, 2, 3, 5}) sq += (x[i] - mean) * (x[i] - mean);
  EXPECT_NEAR(mean, 0.0, 1e-7);
  EXPECT_NEAR(std::sqrt(sq / 3), 1.0, 1e-6);
  // shift_mean = false: the same scaling with the mean 3 added back.
  x = x0;
  masked_whiten(x, mask, false);
  expect_near_all(x, {2.0741799, 100, 2.5370900, 3.0, -50, 4.3887301}, 1e-6);
}

TEST(MaskedWhiten, FewerThanTwoEntriesLeaveXUnchanged) {
  const std::vector<float> x0 = {1, 2, 3};
  std::vector<float> x = x0;
  const WhitenStats one = masked_whiten(x, std::vector<float>{0, 1, 0});
  EXPECT_EQ(x, x0);
  EXPECT_EQ(one.mean, 2.0);
  EXPECT_EQ(one.std, 0.0);
  masked_whiten(x, std::vector<float>{0, 0, 0});
  EXPECT_EQ(x, x0);
  EXPECT_THROW(masked_whiten(x, std::vector<float>{1, 1}), std::invalid_argument);
}

// ---- policy loss -------------------------------------------------------------------------------

// (2,3), ε = 0.2, old log-probs −1, ratios and advantages:
//   a: r 1.5, A +1    clipped term −1.2 beats −1.5           → clipped, ∂ = 0
//   b: r 0.5, A −1    clipped term  0.8 beats  0.5           → clipped, ∂ = 0
//   c: r 0.5, A +2    unclipped −1.0 beats −1.6              → ∂ = −A·r/N = −1/5
//   d: r 2.0, A −0.5  unclipped  1.0 beats  0.6              → ∂ = +0.5·2/5 = 0.2
//   e: r 1.1, A +0.5  inside the range, −0.55                → ∂ = −0.55/5 = −0.11
//   f: masked out (ratio 50), no term, no gradient
// loss = (−1.2 + 0.8 − 1.0 + 1.0 − 0.55)/5 = −0.19.
struct PolicyCase {
  std::vector<float> logp, old, adv, mask;
  PolicyCase() {
    const double ratio[] = {1.5, 0.5, 0.5, 2.0, 1.1, 50.0};
    for (double r : ratio) old.push_back(-1.0f), logp.push_back(static_cast<float>(-1.0 + std::log(r)));
    adv = {1.0f, -1.0f, 2.0f, -0.5f, 0.5f, 3.0f};
    mask = {1, 1, 1, 1, 1, 0};
  }
};

TEST(PpoPolicyLoss, ValueGradientAndStatsByHand) {
  PolicyCase c;
  Tensor logp = leaf({2, 3}, c.logp);
  PolicyLossStats s;
  Tensor loss = ppo_policy_loss(logp, Tensor::from_vector({2, 3}, c.old), Tensor::from_vector({2, 3}, c.adv),
                                Tensor::from_vector({2, 3}, c.mask), 0.2f, &s);
  ASSERT_EQ(loss.shape(), Shape({1}));
  EXPECT_NEAR(loss.item(), -0.19, 1e-6);
  backward(loss);
  expect_near_all(logp.grad().to_vector(), {0.0, 0.0, -0.2, 0.2, -0.11, 0.0}, 1e-6);
  EXPECT_EQ(logp.grad().to_vector()[0], 0.0f);  // positive A, ratio > 1 + ε: exactly no push
  EXPECT_EQ(logp.grad().to_vector()[1], 0.0f);  // negative A, ratio < 1 − ε
  EXPECT_EQ(logp.grad().to_vector()[5], 0.0f);  // masked
  // clip fraction 2/5; approx KL ½·mean log r² = (ln²1.5 + 2 ln²0.5 + ln²2 + ln²1.1)/10 = 0.16148450;
  // ratio mean 5.6/5 = 1.12, max 2 (the masked 50 not counted).
  EXPECT_NEAR(s.clip_fraction, 0.4, 1e-12);
  EXPECT_NEAR(s.approx_kl, 0.16148450, 1e-6);
  EXPECT_NEAR(s.ratio_mean, 1.12, 1e-6);
  EXPECT_NEAR(s.ratio_max, 2.0, 1e-6);
  EXPECT_EQ(s.tokens, 5);
}

TEST(PpoPolicyLoss, MatchesFiniteDifferencesAwayFromTheClip) {
  // Every ratio is at least 8% from a clip edge, far beyond the step h = 0.01 in log-probability;
  // central differences of the float loss (~0.2) are good to ~1e-5 there.
  PolicyCase c;
  const Tensor old = Tensor::from_vector({2, 3}, c.old), adv = Tensor::from_vector({2, 3}, c.adv),
               mask = Tensor::from_vector({2, 3}, c.mask);
  Tensor logp = leaf({2, 3}, c.logp);
  backward(ppo_policy_loss(logp, old, adv, mask, 0.2f));
  const std::vector<float> analytic = logp.grad().to_vector();
  const float h = 0.01f;
  for (size_t i = 0; i < c.logp.size(); i++) {
    auto loss_at = [&](float dx) {
      std::vector<float> x = c.logp;
      x[i] += dx;
      return static_cast<double>(ppo_policy_loss(Tensor::from_vector({2, 3}, x), old, adv, mask, 0.2f).item());
    };
    const double numeric = (loss_at(h) - loss_at(-h)) / (2.0 * h);
    EXPECT_NEAR(analytic[i], numeric, 1e-4) << "token " << i;
  }
}

TEST(PpoPolicyLoss, BadInputsThrow) {
  PolicyCase c;
  const Tensor lp = Tensor::from_vector({2, 3}, c.logp), old = Tensor::from_vector({2, 3}, c.old),
               adv = Tensor::from_vector({2, 3}, c.adv), mask = Tensor::from_vector({2, 3}, c.mask);
  EXPECT_THROW(ppo_policy_loss(lp, Tensor::from_vector({3, 2}, c.old), adv, mask, 0.2f), std::invalid_argument);
  EXPECT_THROW(ppo_policy_loss(lp, old, Tensor::zeros({2, 2}), mask, 0.2f), std::invalid_argument);
  EXPECT_THROW(ppo_policy_loss(lp, old, adv, Tensor::zeros({2, 3}), 0.2f), std::invalid_argument);
  EXPECT_THROW(ppo_policy_loss(lp, old, adv, mask, 0.0f), std::invalid_argument);
  EXPECT_THROW(ppo_policy_loss(lp, old, adv, mask, -0.1f), std::invalid_argument);
  EXPECT_TRUE(contains(error_of([&] { ppo_policy_loss(lp, old, adv, Tensor::zeros({2, 3}), 0.2f); }),
                       "no response token"));
}

// ---- value loss --------------------------------------------------------------------------------

TEST(PpoValueLoss, ValueGradientAndClipFractionByHand) {
  // ε_v = 0.2, (1,4):
  //   a: v 1.0, old 0.5, R 1.2: v_c = 0.7, e = −0.2, e_c = −0.5: clipped wins, ½·0.25 = 0.125, ∂ 0
  //   b: v 1.0, old 0.5, R 0.0: v_c = 0.7, e = 1.0, e_c = 0.7: unclipped, ½·1 = 0.5, ∂ = 1/3
  //   c: v 0.4, old 0.5, R 0.0: inside, ½·0.16 = 0.08, ∂ = 0.4/3
  //   d: masked out
  // loss = (0.125 + 0.5 + 0.08)/3 = 0.235; clip fraction 1/3; mean value (1 + 1 + 0.4)/3 = 0.8.
  Tensor v = leaf({1, 4}, {1.0f, 1.0f, 0.4f, 9.0f});
  ValueLossStats s;
  Tensor loss = ppo_value_loss(v, Tensor::from_vector({1, 4}, {0.5f, 0.5f, 0.5f, 0.0f}),
                               Tensor::from_vector({1, 4}, {1.2f, 0.0f, 0.0f, -3.0f}),
                               Tensor::from_vector({1, 4}, {1, 1, 1, 0}), 0.2f, &s);
  EXPECT_NEAR(loss.item(), 0.235, 1e-6);
  backward(loss);
  const std::vector<float> g = v.grad().to_vector();
  expect_near_all(g, {0.0, 1.0 / 3, 0.4 / 3, 0.0}, 1e-6);
  EXPECT_EQ(g[0], 0.0f);
  EXPECT_EQ(g[3], 0.0f);
  EXPECT_NEAR(s.clip_fraction, 1.0 / 3, 1e-12);
  EXPECT_NEAR(s.mean_value, 0.8, 1e-6);
  EXPECT_THROW(ppo_value_loss(v, Tensor::zeros({1, 4}), Tensor::zeros({4}), Tensor::full({1, 4}, 1), 0.2f),
               std::invalid_argument);
}

// ---- diagnostics -------------------------------------------------------------------------------

TEST(Diagnostics, ExplainedVariance) {
  const std::vector<float> returns = {1, 2, 3, 4};
  EXPECT_NEAR(explained_variance(returns, returns), 1.0, 1e-12);
  EXPECT_NEAR(explained_variance(std::vector<float>(4, 2.5f), returns), 0.0, 1e-12);  // the mean
  // Errors 0, 0, 0, −1: Var = 0.25; Var(returns) = 5/3 → 1 − 0.15 = 0.85.
  EXPECT_NEAR(explained_variance(std::vector<float>{1, 2, 3, 5}, returns), 0.85, 1e-12);
  EXPECT_TRUE(std::isnan(explained_variance(returns, std::vector<float>(4, 7.0f))));
  EXPECT_TRUE(std::isnan(explained_variance(std::vector<float>{1}, std::vector<float>{2})));
  EXPECT_THROW(explained_variance(std::vector<float>{1, 2}, returns), std::invalid_argument);
}

TEST(Diagnostics, DistinctNgrams) {
  const std::vector<std::vector<int32_t>> samples = {{1, 2, 3, 1, 2}, {1, 2, 4}, {7}};
  // Bigrams (1,2) (2,3) (3,1) (1,2) | (1,2) (2,4) | none: 4 distinct of 6.
  EXPECT_NEAR(distinct_ngrams(samples, 2), 4.0 / 6, 1e-12);
  // Unigrams: 9 tokens, distinct {1, 2, 3, 4, 7}.
  EXPECT_NEAR(distinct_ngrams(samples, 1), 5.0 / 9, 1e-12);
  // 4-grams only in the first sample, both distinct; 6-grams nowhere.
  EXPECT_EQ(distinct_ngrams(samples, 4), 1.0);
  EXPECT_EQ(distinct_ngrams(samples, 6), 0.0);
  EXPECT_EQ(distinct_ngrams({}, 2), 0.0);
  EXPECT_THROW(distinct_ngrams(samples, 0), std::invalid_argument);
}

TEST(Diagnostics, BestOfNKl) {
  EXPECT_EQ(best_of_n_kl(1), 0.0);
  EXPECT_NEAR(best_of_n_kl(16), 1.8350887222397811, 1e-12);  // log 16 − 15/16
  EXPECT_NEAR(best_of_n_kl(2), std::log(2.0) - 0.5, 1e-12);
  EXPECT_THROW(best_of_n_kl(0), std::invalid_argument);
}

// ---- rails -------------------------------------------------------------------------------------

TEST(Rails, PassOnGoodNumbers) {
  RailCheck ok;
  ok.finite = {{"policy_loss", -0.02}, {"value_loss", 0.4}};
  ok.kl_k1_mean = -0.005, ok.kl_k1_stderr = 0.001;  // floor −0.013: slightly negative is noise
  ok.ratio_max = 3.0;
  EXPECT_NO_THROW(check_rails(5, ok));
  ok.ratio_max = 10.0;  // at the limit, not above
  EXPECT_NO_THROW(check_rails(5, ok));
}

TEST(Rails, NameTheStepAndTheMetric) {
  auto message = [](int64_t step, const RailCheck& c) {
    try {
      check_rails(step, c);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  RailCheck nan;
  nan.finite = {{"policy_loss", -0.02}, {"value_loss", std::numeric_limits<double>::quiet_NaN()}};
  std::string m = message(42, nan);
  EXPECT_TRUE(contains(m, "step 42: value_loss = ") && contains(m, "not finite")) << m;
  nan.finite = {{"reward_mean", std::numeric_limits<double>::infinity()}};
  m = message(3, nan);
  EXPECT_TRUE(contains(m, "step 3: reward_mean = inf")) << m;

  RailCheck k1;
  k1.kl_k1_mean = -0.5, k1.kl_k1_stderr = 0.1;  // floor −0.31
  m = message(7, k1);
  EXPECT_TRUE(contains(m, "step 7: kl_k1 = -0.5") && contains(m, "negative")) << m;

  RailCheck ratio;
  ratio.ratio_max = 12.5;
  m = message(9, ratio);
  EXPECT_TRUE(contains(m, "step 9: ratio_max = 12.5")) << m;
  ratio.ratio_max = 4.0;
  EXPECT_THROW(check_rails(9, ratio, 3.0), std::runtime_error);  // a lower limit of the caller's
}

}  // namespace
