#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "common/generate/sampler.h"

using namespace sog;

TEST(Sampler, TemperatureZeroIsGreedyAndDeterministic) {
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f, 0.5f};
  Sampler s({0.0f, 0, 1.0f}, 1);
  for (int i = 0; i < 10; i++) EXPECT_EQ(s.sample(logits.data(), 5), 1);  // tie → lowest id
}

TEST(Sampler, OnlyTheFirstVLogitsAreCandidates) {
  std::vector<float> logits = {0.0f, 1.0f, 100.0f};  // the last is a padded column
  Sampler s({1.0f, 0, 1.0f}, 2);
  for (int i = 0; i < 200; i++) EXPECT_LT(s.sample(logits.data(), 2), 2);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  Sampler s({1.0f, 0, 1.0f}, 3);
  std::map<int, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; i++) counts[s.sample(logits.data(), 3)]++;
  // Binomial standard error at n = 20000 is ≤ 0.0036; allow 4 of them.
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.015);
  EXPECT_NEAR(counts[1] / double(n), 0.3, 0.015);
  EXPECT_NEAR(counts[2] / double(n), 0.2, 0.015);
}

TEST(Sampler, TopKAndTopPRestrictTheCandidates) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  Sampler k2({1.0f, 2, 1.0f}, 4);
  Sampler p07({1.0f, 0, 0.7f}, 5);  // 0.5 + 0.3 reaches 0.7: only ids 0 and 1
  std::map<int, int> ck, cp;
  for (int i = 0; i < 5000; i++) ck[k2.sample(logits.data(), 4)]++, cp[p07.sample(logits.data(), 4)]++;
  EXPECT_EQ(ck.count(2) + ck.count(3), 0u);
  EXPECT_EQ(cp.count(2) + cp.count(3), 0u);
  EXPECT_NEAR(ck[0] / 5000.0, 0.5 / 0.8, 0.03);  // renormalised over the kept mass
}

TEST(Sampler, SameSeedSameSequence) {
  std::vector<float> logits = {0.0f, 0.5f, 1.0f, 1.5f};
  Sampler a({0.8f, 3, 0.9f}, 9), b({0.8f, 3, 0.9f}, 9);
  for (int i = 0; i < 100; i++) EXPECT_EQ(a.sample(logits.data(), 4), b.sample(logits.data(), 4));
}

TEST(Sampler, BadSettingsAreErrors) {
  std::vector<float> logits = {0.0f};
  Sampler neg({-1.0f, 0, 1.0f});
  EXPECT_THROW(neg.sample(logits.data(), 1), std::invalid_argument);
  Sampler bad_p({1.0f, 0, 0.0f});
  EXPECT_THROW(bad_p.sample(logits.data(), 1), std::invalid_argument);
}
