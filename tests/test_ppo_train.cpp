// PPO's loop (common/rl/ppo_step.h) on a task it must solve: a random nano model, a prompt, one
// response token, and a reward of 1 for one particular token. Starting near 1/V, the token's
// probability must pass 0.9 within a bounded number of iterations — the rollouts, the scorer hook,
// the forwards, GAE, whitening, the clipped losses and AdamW all have to work for that. Also: the
// reference and the policy agree bit for bit before any update (KL exactly 0), and the LoRA policy
// leaves the base weights untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "byte_tokenizer.h"
#include "common/autograd/tape.h"
#include "common/nn/model_folder.h"
#include "common/nn/model_folder.h"
#include "common/nn/response_logprobs.h"
#include "common/rl/ppo.h"
#include "common/rl/ppo_step.h"
#include "common/tokenizer/special_tokens.h"
#include "test_util.h"

using namespace sog;
namespace fs = std::filesystem;

namespace {

class PpoToyTask : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = sog::testing::fresh_temp_dir("ppo_toy");
    GPTConfig cfg = gpt_preset("nano", 256 + static_cast<int>(kSpecialTokens.size()));
    cfg.max_T = 32;
    GPT model(cfg);
    model.init_gpt2(11);
    model.save((dir_ / "policy.bin").string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // p(target | the prompt) under the policy, at temperature 1.
  double target_probability(PpoModels& models) {
    NoGradGuard no_grad;
    const std::vector<int32_t> prompt = rollout_prompt(tok_, questions_[0]);
    ResponseLogprobs r = response_logprobs(models.policy(), {prompt}, {{target_}});
    return std::exp(r.logprobs.f32()[prompt.size() - 1]);
  }

  // The rewarded token: the one whose starting probability is nearest `p` (among the byte tokens),
  // so that a batch of 32 samples draws it now and then from the first iteration on.
  void pick_target(PpoModels& models, double p) {
    NoGradGuard no_grad;
    const std::vector<int32_t> prompt = rollout_prompt(tok_, questions_[0]);
    double best = 1e9;
    for (int32_t t = 0; t < 256; t++) {
      ResponseLogprobs r = response_logprobs(models.policy(), {prompt}, {{t}});
      const double q = std::exp(r.logprobs.f32()[prompt.size() - 1]);
      if (std::abs(std::log(q / p)) < best) best = std::abs(std::log(q / p)), target_ = t;
    }
  }

  // Iterations of PPO until p(target) > goal (or max_iterations); -1 when it never got there.
  int iterations_to_learn(PpoModels& models, float lr, int max_iterations, double goal = 0.9) {
    PpoSettings s;
    s.batch_size = 32, s.minibatch = 8, s.ppo_epochs = 4, s.temperature = 1.0f, s.max_new_tokens = 1;
    s.reward = RewardSource::grader;
    const int32_t target = target_;
    RolloutScorer scorer = [target](std::vector<Rollout>& rows) {
      for (Rollout& r : rows) {
        r.correct = r.response[0] == target;
        r.rm_score = 0;
        r.score = r.correct ? 1.0f : 0.0f;
      }
    };
    std::vector<PpoModels::ParamSet> sets = models.trained_sets();
    std::vector<AdamW> opts;
    for (const auto& set : sets) opts.emplace_back(set.params->numel(), set.segments, AdamWConfig{0.9f, 0.95f, 1e-5f, 0.0f});
    const std::vector<int64_t> picked(s.batch_size, 0);
    for (int it = 0; it < max_iterations; it++) {
      RolloutBatch batch = collect_rollouts(models, tok_, questions_, picked, scorer, s, /*beta=*/0.0, 100 + it);
      if (it == 0) {
        for (const Rollout& r : batch.rows)
          for (size_t j = 0; j < r.logp.size(); j++) EXPECT_EQ(r.logp[j], r.ref_logp[j]) << "KL must start at 0";
      }
      Rng shuffle(7 + it);
      ppo_update(models, batch, s, opts, lr, lr, shuffle, it, nullptr);
      if (target_probability(models) > goal) return it + 1;
    }
    return -1;
  }

  Tokenizer tok_ = sog::testing::byte_tokenizer();
  std::vector<QuestionRow> questions_ = {{"Say one letter.", "a", "first"}};
  int32_t target_ = 0;
  fs::path dir_;
};

}  // namespace

TEST_F(PpoToyTask, FullFineTuningLearnsTheRewardedToken) {
  PpoModelOptions o{(dir_ / "policy.bin").string(), "", "", ValueModel::shared, {}, false, 3};
  PpoModels models(o, tok_);
  pick_target(models, 0.01);
  const double before = target_probability(models);
  EXPECT_LT(before, 0.05);
  const int iterations = iterations_to_learn(models, 3e-3f, 80);
  EXPECT_GT(iterations, 0) << "p(target) never passed 0.9 in 80 iterations (started at " << before << ")";
  std::printf("full fine-tuning: p(target) %.4f → > 0.9 in %d iterations\n", before, iterations);
}

TEST_F(PpoToyTask, LoRALearnsItAndLeavesTheBaseAsItWas) {
  // The LM head is tied to the frozen embedding and reads a LayerNorm'd hidden state of fixed
  // length, so the adapters can only turn that state: with GPT-2's N(0, 0.02) rows no direction
  // gives a token a logit more than ~1 above the rest (p(target) stalls near 0.01). A base with
  // N(0, 0.2) rows (a trained model's scale) leaves room, up to a ceiling near 0.7 for this random
  // geometry: the bar is 0.5.
  {
    GPT base = GPT::load((dir_ / "policy.bin").string());
    float* wte = base.wte.f32();
    for (int64_t i = 0; i < base.wte.numel(); i++) wte[i] *= 10.0f;
    base.save((dir_ / "policy.bin").string());
  }
  PpoModelOptions o{(dir_ / "policy.bin").string(), "", "", ValueModel::shared,
                    LoRAConfig::with_targets(LoRAConfig{.rank = 4, .alpha = 8.0f}, "all"), true, 3};
  PpoModels models(o, tok_);
  pick_target(models, 0.01);
  const std::vector<float> base_before = GPT::load((dir_ / "policy.bin").string()).params().to_vector();
  const double before = target_probability(models);
  const int iterations = iterations_to_learn(models, 2e-3f, 60, 0.5);
  EXPECT_GT(iterations, 0) << "LoRA: p(target) never passed 0.5 in 60 iterations (started at " << before << ")";
  models.policy().attach_lora(nullptr);
  EXPECT_EQ(models.policy().params().to_vector(), base_before) << "the reference is the base: it must not move";
  std::printf("LoRA: p(target) %.4f → > 0.5 in %d iterations\n", before, iterations);
}

TEST_F(PpoToyTask, ASeparateValueNeedsARewardModel) {
  PpoModelOptions o{(dir_ / "policy.bin").string(), "", "", ValueModel::separate, {}, false, 3};
  try {
    PpoModels models(o, tok_);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--value shared"), std::string::npos) << e.what();
  }
}

// The world's scorer: the grader's verdict and the reward model's score for every reply, the score
// that drives from the one chosen — and −1 for a reply that did not close its turn, whatever either
// thinks of it.
TEST_F(PpoToyTask, TheWorldScorerPenalisesAReplyThatDidNotCloseItsTurn) {
  {
    GPT rm = GPT::load((dir_ / "policy.bin").string());
    ScalarHead head(rm.config().C);
    head.init(4);
    head.norm = {1.0f, 0.5f};
    save_model_folder((dir_ / "rm").string(), "reward", rm, &head);
  }
  PpoModelOptions o{(dir_ / "policy.bin").string(), (dir_ / "rm").string(), "", ValueModel::separate, {}, false, 3};
  PpoModels models(o, tok_);
  const std::vector<QuestionRow> questions = {{"What is 2 + 3?", "5", "add"}};
  auto rows = [] {
    std::vector<Rollout> r(3);
    r[0].reply = "5", r[0].closed = true;   // right, closed
    r[1].reply = "5", r[1].closed = false;  // right, cut off at the length cap
    r[2].reply = "6", r[2].closed = true;   // wrong, closed
    return r;
  };
  PpoSettings s;
  s.no_eot_score = -1.0f;
  for (RewardSource source : {RewardSource::rm, RewardSource::grader}) {
    s.reward = source;
    std::vector<Rollout> r = rows();
    world_scorer(models, tok_, questions, s)(r);
    EXPECT_TRUE(r[0].correct);
    EXPECT_TRUE(r[1].correct);
    EXPECT_FALSE(r[2].correct);
    EXPECT_EQ(r[0].rm_score, r[1].rm_score) << "the same reply, the same reward model score";
    EXPECT_EQ(r[1].score, -1.0f) << "a reply that did not close its turn gets the fixed score";
    if (source == RewardSource::rm) {
      EXPECT_EQ(r[0].score, r[0].rm_score);
      EXPECT_EQ(r[2].score, r[2].rm_score);
    } else {
      EXPECT_EQ(r[0].score, 1.0f);
      EXPECT_EQ(r[2].score, 0.0f);
    }
  }
  // The separate value starts as the reward model's head, its normalisation folded in.
  const ScalarHead rm_head = ScalarHead::load((dir_ / "rm/head.bin").string(), models.value_head().C());
  const int64_t C = rm_head.C();
  EXPECT_EQ(models.value_head().params().f32()[0], rm_head.params().f32()[0]);
  EXPECT_FLOAT_EQ(models.value_head().params().f32()[C], rm_head.params().f32()[C] + 0.5f);
}
