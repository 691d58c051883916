// The reward model (common/reward/reward_model.h): the pairwise ranking loss by hand and against
// finite differences, the sequence and batch it reads, scores that do not depend on the batch, a
// group's loss from K forwards equal to its pairs computed one at a time, accuracy and the
// normalisation.
#include <gtest/gtest.h>

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "byte_tokenizer.h"
#include "common/autograd/tape.h"
#include "common/chat/chat_template.h"
#include "common/nn/gpt.h"
#include "common/nn/scalar_head.h"
#include "common/ops/elementwise.h"
#include "common/reward/reward_model.h"
#include "gradcheck.h"
#include "test_util.h"

using namespace sog;
using namespace sog::testing;

namespace {

using Pairs = std::vector<std::pair<int32_t, int32_t>>;

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus_ref(double x) { return std::log1p(std::exp(x)); }

// A leaf (K) of scores that requires grad.
Tensor score_leaf(const std::vector<float>& s) {
  Tensor t = Tensor::from_vector({static_cast<int64_t>(s.size())}, s);
  t.set_requires_grad(true);
  return t;
}

// The loss and the gradient it leaves on a fresh leaf of `s`.
std::pair<float, std::vector<float>> loss_and_gradient(const std::vector<float>& s, const Pairs& pairs) {
  Tensor scores = score_leaf(s);
  Tensor loss = pairwise_ranking_loss(scores, pairs);
  EXPECT_EQ(loss.shape(), Shape({1}));
  backward(loss);
  return {loss.item(), scores.grad().to_vector()};
}

const Tokenizer& tok() { return shared_byte_tokenizer(); }

Chat user_says(const std::string& text) { return {{ChatRole::user, text}}; }

// A small GPT on the byte tokenizer's vocabulary and a head, both with a seeded init.
GPTConfig small_config(int L, int C, int max_T) {
  GPTConfig c;
  c.L = L, c.NH = 2, c.C = C, c.max_T = max_T, c.V = tok().n_vocab(), c.Vp = padded_vocab(c.V);
  return c;
}
struct RewardModel {
  GPT gpt;
  ScalarHead head;
  explicit RewardModel(const GPTConfig& c) : gpt(c), head(c.C) {
    gpt.init_gpt2(17);
    head.init(18);
    head.params().f32()[c.C] = 0.3f;  // a bias, to see that it cancels in the loss
  }
};

// A group of K = 4 completions of one prompt, the last longer than the model's maxT = 48 once
// rendered (its sequence is cut at the front), and every pair of the labeler's ranking 2 > 0 > 3 > 1.
const Chat kPrompt = user_says("What is 2 + 3?");
const std::vector<std::string> kCompletions = {"5", "6", "The answer is 5.",
                                               "Let me think: 2 + 3 is the same as 3 + 2, which is 5."};
const Pairs kAllPairs = {{2, 0}, {2, 3}, {2, 1}, {0, 3}, {0, 1}, {3, 1}};

std::vector<float> flat(const Tensor& t) { return t.to_vector(); }

// max |a − b| relative to the largest |b| (at least 1).
double worst_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0, largest = 1;
  for (size_t i = 0; i < b.size(); i++) {
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
    largest = std::max(largest, std::fabs(double(b[i])));
  }
  return worst / largest;
}

}  // namespace

// ---- the loss --------------------------------------------------------------------------------

// Best-of-n keeps the first of the highest rewards among the first n.
TEST(BestOfN, KeepsTheFirstHighestOfTheFirstN) {
  const std::vector<float> r = {0.5f, 2.0f, -1.0f, 2.0f, 3.0f};
  EXPECT_EQ(best_of_first(r, 1), 0);
  EXPECT_EQ(best_of_first(r, 2), 1);
  EXPECT_EQ(best_of_first(r, 4), 1) << "a tie keeps the earlier";
  EXPECT_EQ(best_of_first(r, 5), 4);
  EXPECT_EQ(best_of_first(r, 9), 4) << "n past the end is cut to the rewards";
  EXPECT_EQ(best_of_first(std::span(r).subspan(2, 2), 2), 1);
}

TEST(PairwiseRankingLoss, TwoCompletionsByHand) {
  // d = 0.7 − (−0.4) = 1.1: loss = log(1 + e^−1.1), gradient (−σ(−1.1), +σ(−1.1)).
  auto [loss, g] = loss_and_gradient({0.7f, -0.4f}, {{0, 1}});
  EXPECT_NEAR(loss, 0.2873353251154308, 1e-6);
  EXPECT_NEAR(loss, softplus_ref(-1.1), 1e-6);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_NEAR(g[0], -0.24973989440488234, 1e-6);
  EXPECT_NEAR(g[1], 0.24973989440488234, 1e-6);
  EXPECT_NEAR(g[1], sigmoid_ref(-1.1), 1e-6);
  // The order of the pair is the ranking: the reversed pair pays log(1 + e^1.1).
  EXPECT_NEAR(loss_and_gradient({0.7f, -0.4f}, {{1, 0}}).first, softplus_ref(1.1), 1e-6);
}

TEST(PairwiseRankingLoss, ThreeCompletionsThreePairsByHand) {
  // s = (1.0, 0.2, −0.5), ranking 0 > 1 > 2: d01 = 0.8, d02 = 1.5, d12 = 0.7, P = 3.
  auto [loss, g] = loss_and_gradient({1.0f, 0.2f, -0.5f}, {{0, 1}, {0, 2}, {1, 2}});
  EXPECT_NEAR(loss, 0.32523333093866263, 1e-6);
  EXPECT_NEAR(loss, (softplus_ref(-0.8) + softplus_ref(-1.5) + softplus_ref(-0.7)) / 3, 1e-6);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_NEAR(g[0], -0.1641503475595813, 1e-6);    // −(σ(−0.8) + σ(−1.5)) / 3
  EXPECT_NEAR(g[1], -0.007262236319815448, 1e-6);  // (σ(−0.8) − σ(−0.7)) / 3: better than 2, worse than 0
  EXPECT_NEAR(g[2], 0.17141258387939673, 1e-6);    // (σ(−1.5) + σ(−0.7)) / 3
  EXPECT_NEAR(g[0] + g[1] + g[2], 0.0, 1e-7);     // only differences matter
}

TEST(PairwiseRankingLoss, GradientsMatchFiniteDifferences) {
  // Random scores; pairs that reuse completions, in both roles, and one pair given twice.
  const Pairs pairs = {{0, 1}, {0, 2}, {3, 0}, {4, 1}, {1, 2}, {0, 1}, {4, 3}};
  for (uint64_t seed : {3, 4, 5}) {
    expect_gradients_match([&](auto& in) { return pairwise_ranking_loss(in[0], pairs); },
                           {random_input({5}, seed, 1.5f)});
  }
}

TEST(PairwiseRankingLoss, LargeDifferencesStayFinite) {
  // d = +160: loss e^−160 ≈ 0 and a gradient ≈ 0; d = −160: loss 160 and gradient ∓1 (σ(160) = 1).
  auto [easy, g_easy] = loss_and_gradient({80.0f, -80.0f}, {{0, 1}});
  EXPECT_TRUE(std::isfinite(easy));
  EXPECT_NEAR(easy, 0.0, 1e-30);
  EXPECT_TRUE(std::isfinite(g_easy[0]) && std::isfinite(g_easy[1]));
  EXPECT_NEAR(g_easy[0], 0.0, 1e-30);
  auto [hard, g_hard] = loss_and_gradient({80.0f, -80.0f}, {{1, 0}});
  EXPECT_FLOAT_EQ(hard, 160.0f);
  EXPECT_FLOAT_EQ(g_hard[1], -1.0f);
  EXPECT_FLOAT_EQ(g_hard[0], 1.0f);
  auto [both, g_both] = loss_and_gradient({80.0f, -80.0f}, {{0, 1}, {1, 0}});
  EXPECT_FLOAT_EQ(both, 80.0f);
  EXPECT_FLOAT_EQ(g_both[0], 0.5f);
}

TEST(PairwiseRankingLoss, BadPairsAreClearErrors) {
  Tensor s = Tensor::from_vector({3}, {0.1f, 0.2f, 0.3f});
  std::string e = error_of([&] { pairwise_ranking_loss(s, Pairs{}); });
  EXPECT_NE(e.find("pairwise_ranking_loss: pairs: expected at least one (better, worse) pair, found none"),
            std::string::npos) << e;
  e = error_of([&] { pairwise_ranking_loss(s, Pairs{{0, 1}, {2, 3}}); });
  EXPECT_NE(e.find("pairwise_ranking_loss: pair 1 (2, 3): expected completion indices in [0, 3), found 3"),
            std::string::npos) << e;
  e = error_of([&] { pairwise_ranking_loss(s, Pairs{{-1, 0}}); });
  EXPECT_NE(e.find("pair 0 (-1, 0): expected completion indices in [0, 3), found -1"), std::string::npos) << e;
  e = error_of([&] { pairwise_ranking_loss(s, Pairs{{1, 1}}); });
  EXPECT_NE(e.find("pair 0 (1, 1): expected two different completions"), std::string::npos) << e;
  e = error_of([&] { pairwise_ranking_loss(Tensor::from_vector({1, 3}, {0, 1, 2}), Pairs{{0, 1}}); });
  EXPECT_NE(e.find("pairwise_ranking_loss"), std::string::npos) << e;
  EXPECT_NE(e.find("scores (K)"), std::string::npos) << e;
}

// ---- the sequence and the batch ----------------------------------------------------------------

TEST(RewardSequence, IsTheRenderedChatEndingWithEnd) {
  const std::vector<int32_t> s = reward_sequence(tok(), kPrompt, "5", 1024);
  Chat chat = kPrompt;
  chat.push_back({ChatRole::assistant, "5"});
  EXPECT_EQ(s, render_conversation(tok(), chat).ids);
  const ChatTokens t(tok());
  ASSERT_GE(s.size(), 4u);
  EXPECT_EQ(s.front(), t.eot);
  EXPECT_EQ(s.back(), t.end);                              // the reward token
  EXPECT_EQ(s[s.size() - 4], t.assistant);                 // <|assistant|> ␠ 5 <|end|>
  EXPECT_EQ(s[s.size() - 2], static_cast<int32_t>('5'));
}

TEST(RewardSequence, TooLongKeepsTheEnd) {
  const std::vector<int32_t> full = reward_sequence(tok(), kPrompt, kCompletions[3], 1024);
  ASSERT_GT(full.size(), 48u);
  const std::vector<int32_t> cut = reward_sequence(tok(), kPrompt, kCompletions[3], 48);
  ASSERT_EQ(cut.size(), 48u);
  EXPECT_EQ(cut, std::vector<int32_t>(full.end() - 48, full.end()));
  EXPECT_EQ(cut.back(), ChatTokens(tok()).end);
  const std::vector<int32_t> short_one = reward_sequence(tok(), kPrompt, "5", 1024);
  EXPECT_EQ(reward_sequence(tok(), kPrompt, "5", static_cast<int64_t>(short_one.size())), short_one);  // fits: whole
  EXPECT_NE(error_of([] { reward_sequence(tok(), kPrompt, "5", 0); }).find("reward_sequence: max_T: expected ≥ 1, found 0"),
            std::string::npos);
}

TEST(RewardBatch, PadsOnTheRightAndPointsAtEachLastToken) {
  RewardBatch b = make_reward_batch({{1, 2, 3}, {4}, {5, 6}}, /*pad_id=*/9);
  ASSERT_EQ(b.ids.shape(), Shape({3, 3}));
  EXPECT_EQ(std::vector<int32_t>(b.ids.i32(), b.ids.i32() + 9), (std::vector<int32_t>{1, 2, 3, 4, 9, 9, 5, 6, 9}));
  ASSERT_EQ(b.positions.shape(), Shape({3}));
  EXPECT_EQ(std::vector<int32_t>(b.positions.i32(), b.positions.i32() + 3), (std::vector<int32_t>{2, 0, 1}));
  EXPECT_NE(error_of([] { make_reward_batch({}, 0); }).find("make_reward_batch: sequences: expected at least one"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_reward_batch({{1}, {}}, 0); }).find("make_reward_batch: sequence 1: expected at least one token"),
            std::string::npos);
}

// ---- scores on a GPT -------------------------------------------------------------------------

TEST(RewardScores, EachRowEqualsThatSequenceAlone) {
  RewardModel m(small_config(2, 16, 48));
  std::vector<std::vector<int32_t>> seqs;
  for (const std::string& c : kCompletions) seqs.push_back(reward_sequence(tok(), kPrompt, c, 48));
  seqs.push_back(reward_sequence(tok(), user_says("Reverse 'abc'."), "cba", 48));
  NoGradGuard no_grad;
  RewardBatch batch = make_reward_batch(seqs, tok().eot_id());
  Tensor all = reward_scores(m.gpt, m.head, batch);
  ASSERT_EQ(all.shape(), Shape({static_cast<int64_t>(seqs.size())}));
  float lo = all.f32()[0], hi = lo;
  for (size_t n = 0; n < seqs.size(); n++) {
    const float alone = reward_scores(m.gpt, m.head, make_reward_batch({seqs[n]}, tok().eot_id())).item();
    EXPECT_NEAR(all.f32()[n], alone, 1e-5) << "row " << n;
    lo = std::min(lo, all.f32()[n]), hi = std::max(hi, all.f32()[n]);
  }
  EXPECT_GT(hi - lo, 1e-3);  // the rows score differently: the check compares something
  // The padding token does not matter either (causal: nothing after the reward token is read).
  Tensor other_pad = reward_scores(m.gpt, m.head, make_reward_batch(seqs, 'x'));
  for (size_t n = 0; n < seqs.size(); n++) EXPECT_NEAR(other_pad.f32()[n], all.f32()[n], 1e-5) << "row " << n;
}

// ---- a group's loss ----------------------------------------------------------------------------

TEST(GroupLoss, OneForwardPerCompletionEqualsThePairsOneAtATime) {
  RewardModel m(small_config(2, 16, 48));
  m.gpt.zero_grad();
  m.head.zero_grad();
  GroupLoss g = group_loss(m.gpt, m.head, tok(), kPrompt, kCompletions, kAllPairs);
  EXPECT_EQ(g.rows_forwarded, 4);  // K, against the C(4,2) = 6 pairs it serves
  EXPECT_EQ(g.pairs, 6);
  backward(g.loss);
  const std::vector<float> head_group = flat(m.head.grads()), gpt_group = flat(m.gpt.grads());

  // The same six pairs, each with a forward of its own two rows, each loss weighted 1/6.
  m.gpt.zero_grad();
  m.head.zero_grad();
  double total = 0;
  for (const auto& [b, w] : kAllPairs) {
    RewardBatch two = make_reward_batch({reward_sequence(tok(), kPrompt, kCompletions[b], 48),
                                         reward_sequence(tok(), kPrompt, kCompletions[w], 48)},
                                        tok().eot_id());
    Tensor loss = pairwise_ranking_loss(reward_scores(m.gpt, m.head, two), Pairs{{0, 1}});
    total += loss.item();
    backward(scale(loss, 1.0f / 6));
  }
  EXPECT_NEAR(g.loss.item(), total / 6, 1e-5);
  const std::vector<float> head_pairs = flat(m.head.grads()), gpt_pairs = flat(m.gpt.grads());
  ASSERT_EQ(head_group.size(), head_pairs.size());
  for (size_t i = 0; i < head_pairs.size(); i++) EXPECT_NEAR(head_group[i], head_pairs[i], 1e-5) << "head " << i;
  EXPECT_LT(worst_difference(gpt_group, gpt_pairs), 1e-5);
  double largest = 0;
  for (float v : head_pairs) largest = std::max(largest, std::fabs(double(v)));
  EXPECT_GT(largest, 1e-2);  // a gradient to compare
  // Only score differences reach the loss: the head's bias gets no gradient.
  EXPECT_NEAR(head_group[m.head.C()], 0.0, 1e-6);
}

TEST(GroupLoss, WholeModelGradientSampleMatchesFiniteDifferences) {
  GPTConfig c = small_config(1, 8, 48);  // small enough that h = 1e-2 stays in the linear range
  GPT model(c);
  model.init_gpt2(7);
  for (int64_t i = 0; i < model.num_params(); i++) model.params().f32()[i] *= 5.0f;  // larger signal
  ScalarHead head(c.C);
  for (int64_t i = 0; i < head.num_params(); i++) head.params().f32()[i] = 0.5f * std::sin(1.0f + i);
  auto loss = [&] { return group_loss(model, head, tok(), kPrompt, kCompletions, kAllPairs).loss; };
  backward(loss());
  const std::vector<float> g_model = flat(model.grads()), g_head = flat(head.grads());
  EXPECT_NEAR(g_head[c.C], 0.0, 1e-6);  // the bias: differences only
  NoGradGuard no_grad;
  auto value = [&] { return static_cast<double>(loss().item()); };
  GradCheckOptions opt;
  auto check = [&](const std::vector<CheckedTensor>& segments, float* params, const std::vector<float>& analytic,
                   uint64_t seed) {
    auto reports = compare_gradients(sample_numeric_gradients(value, params, segments, 6, 1e-2f, seed), analytic,
                                     segments, opt);
    for (size_t s = 0; s < reports.size(); s++) {
      EXPECT_TRUE(reports[s].ok()) << segments[s].name << reports[s].summary();
      EXPECT_GT(reports[s].max_abs_numeric, 10 * opt.atol) << segments[s].name << ": too small for the check to see";
    }
  };
  check({{"head w", 0, c.C}}, head.params().f32(), g_head, 10);
  Tensor qkvw = model.param("qkvw");
  check({{"qkvw", qkvw.f32() - model.params().f32(), qkvw.numel()}}, model.params().f32(), g_model, 11);
}

TEST(GroupLoss, BadPairsFailBeforeTheForward) {
  RewardModel m(small_config(1, 8, 48));
  const size_t tape_before = tape_size();
  std::string e = error_of([&] { group_loss(m.gpt, m.head, tok(), kPrompt, kCompletions, Pairs{{0, 4}}); });
  EXPECT_NE(e.find("group_loss: pair 0 (0, 4): expected completion indices in [0, 4), found 4 (the group has 4 "
                   "completions)"),
            std::string::npos) << e;
  EXPECT_EQ(tape_size(), tape_before);  // nothing was run
  e = error_of([&] { group_loss(m.gpt, m.head, tok(), kPrompt, kCompletions, Pairs{}); });
  EXPECT_NE(e.find("group_loss: pairs: expected at least one"), std::string::npos) << e;
}

// ---- accuracy, normalisation, scoring many ----------------------------------------------------

TEST(PairwiseAccuracy, StrictlyHigherAndTiesCountAsWrong) {
  const std::vector<float> s = {1.0f, 2.0f, 2.0f, 0.0f};
  EXPECT_DOUBLE_EQ(pairwise_accuracy(s, Pairs{{1, 0}, {1, 2}, {0, 3}, {3, 0}}), 0.5);  // right, tie, right, wrong
  EXPECT_DOUBLE_EQ(pairwise_accuracy(s, Pairs{{2, 1}}), 0.0);
  EXPECT_DOUBLE_EQ(pairwise_accuracy(s, Pairs{{2, 3}, {1, 3}, {0, 3}}), 1.0);
  EXPECT_NE(error_of([&] { pairwise_accuracy(s, Pairs{}); }).find("pairwise_accuracy: pairs: expected at least one"),
            std::string::npos);
  EXPECT_NE(error_of([&] { pairwise_accuracy(s, Pairs{{0, 7}}); }).find("pairwise_accuracy: pair 0 (0, 7)"),
            std::string::npos);
}

TEST(ZeroMeanNormalization, NormalizedScoresAverageZero) {
  const std::vector<float> raw = {1.5f, -0.5f, 3.0f, 2.0f};
  HeadNormalization n = zero_mean_normalization(raw);
  EXPECT_EQ(n.gain, 1.0f);
  EXPECT_FLOAT_EQ(n.bias, -1.5f);
  ScalarHead head(4);
  head.norm = n;
  std::vector<float> out = head.normalized(Tensor::from_vector({4}, raw)).to_vector();
  double mean = 0;
  for (float v : out) mean += v / 4.0;
  EXPECT_NEAR(mean, 0.0, 1e-7);
  EXPECT_NE(error_of([] { zero_mean_normalization(std::vector<float>{}); })
                .find("zero_mean_normalization: raw_scores: expected at least one score, found none"),
            std::string::npos);
}

TEST(ScoreCompletions, EqualsRewardScoresInBatchesOfAnySize) {
  RewardModel m(small_config(2, 16, 48));
  std::vector<std::pair<Chat, std::string>> items;
  for (const std::string& c : kCompletions) items.push_back({kPrompt, c});
  items.push_back({user_says("Reverse 'abc'."), "cba"});
  std::vector<std::vector<int32_t>> seqs;
  for (const auto& [p, c] : items) seqs.push_back(reward_sequence(tok(), p, c, 48));
  std::vector<float> expected;
  {
    NoGradGuard no_grad;
    expected = reward_scores(m.gpt, m.head, make_reward_batch(seqs, tok().eot_id())).to_vector();
  }
  const size_t tape_before = tape_size();
  for (int64_t rows : {1, 2, 5, 64}) {
    std::vector<float> raw = score_completions(m.gpt, m.head, tok(), items, rows, /*normalized=*/false);
    ASSERT_EQ(raw.size(), items.size());
    for (size_t i = 0; i < items.size(); i++) EXPECT_NEAR(raw[i], expected[i], 1e-5) << rows << " rows, item " << i;
  }
  EXPECT_EQ(tape_size(), tape_before);  // without the tape

  // Normalised with the zero-mean normalisation of these very scores: they average 0.
  m.head.norm = zero_mean_normalization(expected);
  std::vector<float> normed = score_completions(m.gpt, m.head, tok(), items, 2, /*normalized=*/true);
  double mean = 0;
  for (float v : normed) mean += v;
  EXPECT_NEAR(mean / static_cast<double>(items.size()), 0.0, 1e-5);
  // Any gain: gain · raw + bias.
  m.head.norm = {2.0f, -0.25f};
  normed = score_completions(m.gpt, m.head, tok(), items, 3, /*normalized=*/true);
  for (size_t i = 0; i < items.size(); i++) EXPECT_NEAR(normed[i], 2.0f * expected[i] - 0.25f, 1e-5) << i;
  EXPECT_TRUE(score_completions(m.gpt, m.head, tok(), {}, 2, true).empty());
  EXPECT_NE(error_of([&] { score_completions(m.gpt, m.head, tok(), items, 0, true); })
                .find("score_completions: batch_rows: expected ≥ 1, found 0"),
            std::string::npos);
}
