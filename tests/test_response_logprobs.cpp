// response_logprobs: the (B,T) layout of (prompt, response) pairs, and per-token log-probabilities
// and entropies of the response tokens from one batched forward equal those of a forward of each
// pair alone — values and gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/nn/gpt.h"
#include "common/nn/response_logprobs.h"
#include "common/ops/elementwise.h"
#include "common/ops/reduce.h"
#include "test_util.h"

using namespace sog;
using namespace sog::testing;

namespace {

GPT test_model() {
  GPTConfig c;
  c.L = 2, c.NH = 2, c.C = 16, c.max_T = 16, c.V = 50, c.Vp = padded_vocab(50);
  GPT model(c);
  model.init_gpt2(17);
  return model;
}

// Prompts of 3, 1, 6 and 2 tokens; responses of 2, 5, 0 and 9 (the longest pair needs 10 positions).
const std::vector<std::vector<int32_t>> kPrompts = {{5, 6, 7}, {1}, {9, 8, 7, 6, 5, 4}, {20, 21}};
const std::vector<std::vector<int32_t>> kResponses = {{30, 31}, {2, 3, 4, 5, 6}, {}, {40, 41, 42, 43, 44, 45, 46, 47, 48}};

// The loss whose gradients the tests compare: Σ mask·(logprob + 0.1·entropy).
Tensor masked_objective(const ResponseLogprobs& r) {
  return sum(mul(r.mask, add(r.logprobs, scale(r.entropy, 0.1f))));
}

std::vector<int32_t> ids_of(const Tensor& t) { return std::vector<int32_t>(t.i32(), t.i32() + t.numel()); }

}  // namespace

TEST(ResponseLogprobs, LayoutShiftsByOneAndMasksTheResponse) {
  ResponseBatch b = pack_responses({{10, 11, 12}, {13}}, {{20, 21}, {22, 23, 24}}, 16, /*pad_id=*/7);
  ASSERT_EQ(b.ids.shape(), Shape({2, 4}));  // the longest pair: 1 + 3 tokens → 3 positions; 3 + 2 → 4
  EXPECT_EQ(ids_of(b.ids), (std::vector<int32_t>{10, 11, 12, 20, /**/ 13, 22, 23, 7}));
  EXPECT_EQ(ids_of(b.targets), (std::vector<int32_t>{11, 12, 20, 21, /**/ 22, 23, 24, 7}));
  EXPECT_EQ(b.mask.to_vector(), (std::vector<float>{0, 0, 1, 1, /**/ 1, 1, 1, 0}));
}

// Reading a pair's response positions back: exactly the positions the mask marks, in order.
TEST(ResponseLogprobs, ResponseValuesReadThePairsResponsePositions) {
  ResponseBatch b = pack_responses({{10, 11, 12}, {13}}, {{20, 21}, {22, 23, 24}}, 16, /*pad_id=*/7);
  const Tensor x = Tensor::from_vector({2, 4}, {0.0f, 0.1f, 0.2f, 0.3f, /**/ 1.0f, 1.1f, 1.2f, 1.3f});
  EXPECT_EQ(response_values(x, 0, 3, 2), (std::vector<float>{0.2f, 0.3f}));
  EXPECT_EQ(response_values(x, 1, 1, 3), (std::vector<float>{1.0f, 1.1f, 1.2f}));
  EXPECT_EQ(response_position(3, 0), 2);
  EXPECT_TRUE(response_values(x, 0, 3, 0).empty());
  EXPECT_THROW(response_values(x, 1, 1, 5), std::out_of_range) << "past the row's end";
  EXPECT_THROW(response_values(x, 2, 1, 1), std::out_of_range) << "no such row";
}

TEST(ResponseLogprobs, BatchEqualsEachPairAlone) {
  GPT model = test_model();
  const GPTConfig& cfg = model.config();
  NoGradGuard no_grad;
  ResponseLogprobs all = response_logprobs(model, kPrompts, kResponses);
  const int64_t B = 4, T = all.logprobs.size(1);
  ASSERT_EQ(T, 10);  // the longest pair: 2 + 9 tokens
  std::vector<float> lp = all.logprobs.to_vector(), h = all.entropy.to_vector(), m = all.mask.to_vector();
  for (int64_t b = 0; b < B; b++) {
    std::vector<int32_t> s = kPrompts[b];
    s.insert(s.end(), kResponses[b].begin(), kResponses[b].end());
    const int64_t P = static_cast<int64_t>(kPrompts[b].size()), R = static_cast<int64_t>(kResponses[b].size());
    for (int64_t t = 0; t < T; t++) EXPECT_EQ(m[b * T + t], (t >= P - 1 && t < P - 1 + R) ? 1.0f : 0.0f) << b << "," << t;
    if (R == 0) continue;
    const int64_t L = static_cast<int64_t>(s.size()) - 1;
    Tensor logits = model.forward(Tensor::from_ids({1, L}, std::vector<int32_t>(s.begin(), s.end() - 1)));  // (1,L,Vp)
    for (int64_t j = 0; j < R; j++) {
      const int64_t t = P - 1 + j;  // where response token j is predicted
      const float* x = logits.f32() + t * cfg.Vp;
      double mx = x[0], sum = 0, ent = 0;
      for (int64_t v = 1; v < cfg.V; v++) mx = std::max(mx, double(x[v]));
      for (int64_t v = 0; v < cfg.V; v++) sum += std::exp(x[v] - mx);
      for (int64_t v = 0; v < cfg.V; v++) {
        const double l = x[v] - mx - std::log(sum);
        ent -= std::exp(l) * l;
      }
      EXPECT_NEAR(lp[b * T + t], x[s[t + 1]] - mx - std::log(sum), 1e-5) << "pair " << b << ", token " << j;
      EXPECT_NEAR(h[b * T + t], ent, 1e-5) << "pair " << b << ", token " << j;
    }
  }
}

TEST(ResponseLogprobs, GradientsEqualTheSumOverPairsAlone) {
  GPT model = test_model();
  model.zero_grad();
  backward(masked_objective(response_logprobs(model, kPrompts, kResponses)));
  const std::vector<float> batched = model.grads().to_vector();
  model.zero_grad();
  for (size_t b = 0; b < kPrompts.size(); b++) {
    if (kResponses[b].empty()) continue;  // nothing to differentiate
    backward(masked_objective(response_logprobs(model, {kPrompts[b]}, {kResponses[b]})));
  }
  const std::vector<float> alone = model.grads().to_vector();
  double worst = 0, largest = 0;
  for (size_t i = 0; i < alone.size(); i++) {
    worst = std::max(worst, std::fabs(double(batched[i]) - alone[i]));
    largest = std::max(largest, std::fabs(double(alone[i])));
  }
  EXPECT_GT(largest, 1e-2);
  EXPECT_LT(worst, 1e-5 * std::max(1.0, largest));
}

TEST(ResponseLogprobs, BadPairsAreClearErrors) {
  EXPECT_NE(error_of([] { pack_responses({{1}, {2}}, {{3}}, 16); }).find("one response per prompt (2), found 1"),
            std::string::npos);
  EXPECT_NE(error_of([] { pack_responses({{1}, {}}, {{3}, {4}}, 16); }).find("pair 1: the prompt is empty"),
            std::string::npos);
  const std::vector<int32_t> long_response(16, 3);
  EXPECT_NE(error_of([&] { pack_responses({{1}, {1, 2}}, {{3}, long_response}, 16); })
                .find("pair 1: a prompt of 2 tokens and a response of 16 need 17 positions, more than the model's maxT = 16"),
            std::string::npos);
}
