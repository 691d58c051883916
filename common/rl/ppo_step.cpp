#include "common/rl/ppo_step.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <stdexcept>

#include "common/autograd/tape.h"
#include "common/chat/chat_template.h"
#include "common/generate/generate_batch.h"
#include "common/io/progress.h"
#include "common/ops/elementwise.h"
#include "common/optim/adamw.h"
#include "common/reward/preferences.h"
#include "common/rl/ppo.h"
#include "common/world/grader.h"

namespace sog {

using json = nlohmann::json;

RewardSource reward_source_from_name(const std::string& name) {
  if (name == "rm") return RewardSource::rm;
  if (name == "grader") return RewardSource::grader;
  throw std::invalid_argument("--reward: expected rm or grader, found '" + name + "'");
}

std::vector<int32_t> rollout_prompt(const Tokenizer& tok, const QuestionRow& q) {
  return render_for_completion(tok, task_prompt(task_of(q)));
}

// Rows [start, end) of the batch in the training layout.
static ResponseBatch pack_rows(const std::vector<Rollout>& rows, const std::vector<int64_t>& order, int64_t start,
                               int64_t end, int64_t max_T) {
  std::vector<std::vector<int32_t>> prompts, responses;
  for (int64_t i = start; i < end; i++) {
    prompts.push_back(rows[order[i]].prompt);
    responses.push_back(rows[order[i]].response);
  }
  return pack_responses(prompts, responses, max_T);
}

// Row b of a (B,T) forward of the batch at rollout r's response positions.
static std::vector<float> row_values(const Tensor& x, int64_t b, const Rollout& r) {
  return response_values(x, b, static_cast<int64_t>(r.prompt.size()), static_cast<int64_t>(r.response.size()));
}

RolloutScorer world_scorer(PpoModels& models, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                           const PpoSettings& s) {
  return [&models, &tok, &questions, s](std::vector<Rollout>& rows) {
    std::vector<std::pair<Chat, std::string>> items;
    for (Rollout& r : rows) {
      const Task task = task_of(questions[r.question]);
      r.correct = grade(task, r.reply).correct;
      items.push_back({task_prompt(task), r.reply});
    }
    const std::vector<float> rm = models.reward_scores(items, tok);
    for (size_t i = 0; i < rows.size(); i++) {
      Rollout& r = rows[i];
      r.rm_score = rm[i];
      const float driver = s.reward == RewardSource::rm ? r.rm_score : (r.correct ? 1.0f : 0.0f);
      r.score = r.closed ? driver : s.no_eot_score;
    }
  };
}

RolloutBatch collect_rollouts(PpoModels& models, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                              const std::vector<int64_t>& picked, const RolloutScorer& scorer, const PpoSettings& s,
                              double beta, uint64_t seed) {
  NoGradGuard no_grad;
  GPT& policy = models.policy();
  const int64_t max_T = policy.config().max_T;
  const ChatTokens ct(tok);
  RolloutBatch batch;
  const int64_t B = static_cast<int64_t>(picked.size());
  std::vector<std::vector<int32_t>> prompts;
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < B; i++) {
    prompts.push_back(rollout_prompt(tok, questions[picked[i]]));
    if (static_cast<int64_t>(prompts.back().size()) + s.max_new_tokens > max_T) {
      throw std::runtime_error("question " + std::to_string(picked[i]) + " (\"" + questions[picked[i]].prompt +
                               "\"): its prompt of " + std::to_string(prompts.back().size()) +
                               " tokens and a response of up to " + std::to_string(s.max_new_tokens) +
                               " do not fit the model's maxT = " + std::to_string(max_T));
    }
    seeds.push_back(splitmix64(seed + 0x100000001B3ull * static_cast<uint64_t>(i)));  // row i's sampler
  }

  // 1. sample
  double t0 = steady_seconds();
  std::vector<Sampler> samplers = make_samplers({s.temperature, 0, 1.0f}, seeds);
  BatchGenerateOptions go;
  go.max_new_tokens = s.max_new_tokens;
  go.stop_ids = {ct.end, ct.eot};
  go.batch_size = B;
  std::vector<GeneratedRow> gen = generate_batch(policy, prompts, go, samplers);
  batch.generate_s = steady_seconds() - t0;

  // 2. score
  t0 = steady_seconds();
  for (int64_t i = 0; i < B; i++) {
    Rollout r;
    r.question = picked[i];
    r.prompt = std::move(prompts[i]);
    r.response = std::move(gen[i].tokens);
    if (r.response.empty()) r.response.push_back(ct.eot);  // max_new_tokens ≥ 1 makes this unreachable
    r.closed = r.response.back() == ct.end;
    r.reply = reply_of_completion(tok.decode(r.response));
    batch.response_tokens += static_cast<int64_t>(r.response.size());
    batch.rows.push_back(std::move(r));
  }
  scorer(batch.rows);
  batch.score_s = steady_seconds() - t0;

  // 3. the forwards, a minibatch of rows at a time
  t0 = steady_seconds();
  std::vector<int64_t> identity(B);
  std::iota(identity.begin(), identity.end(), 0);
  for (int64_t start = 0; start < B; start += s.minibatch) {
    const int64_t end = std::min(B, start + s.minibatch);
    const ResponseBatch rb = pack_rows(batch.rows, identity, start, end, max_T);
    const PolicyForward pf = policy_forward(policy, rb, s.temperature, /*with_entropy=*/true);
    const Tensor ref = models.reference_logprobs(rb, s.temperature);
    const Tensor values = models.values(rb, pf.hidden);
    for (int64_t i = start; i < end; i++) {
      Rollout& r = batch.rows[i];
      r.logp = row_values(pf.logprobs, i - start, r);
      r.entropy = row_values(pf.entropy, i - start, r);
      r.ref_logp = row_values(ref, i - start, r);
      r.values = row_values(values, i - start, r);
    }
  }
  batch.forward_s = steady_seconds() - t0;

  // 4. rewards, advantages, returns; the advantages whitened over all response tokens
  std::vector<float> all_adv, ones;
  for (Rollout& r : batch.rows) {
    r.rewards = token_rewards(r.logp, r.ref_logp, static_cast<float>(beta), r.score);
    Advantages a = gae(r.rewards, r.values, s.gamma, s.lambda);
    r.advantages = std::move(a.advantages);
    r.returns = std::move(a.returns);
    all_adv.insert(all_adv.end(), r.advantages.begin(), r.advantages.end());
  }
  ones.assign(all_adv.size(), 1.0f);
  const WhitenStats before = masked_whiten(all_adv, ones);
  batch.adv_mean = before.mean, batch.adv_std = before.std;
  size_t k = 0;
  for (Rollout& r : batch.rows)
    for (float& a : r.advantages) a = all_adv[k++];
  return batch;
}

// The batch's per-token arrays for rows [start, end) of `order`, at their packed positions.
struct MinibatchTargets {
  Tensor old_logprobs, advantages, old_values, returns;
};
static MinibatchTargets minibatch_targets(const std::vector<Rollout>& rows, const std::vector<int64_t>& order,
                                          int64_t start, int64_t end, const Shape& shape) {
  const int64_t T = shape[1];
  std::vector<float> lp(shape[0] * T, 0.0f), adv(lp.size(), 0.0f), val(lp.size(), 0.0f), ret(lp.size(), 0.0f);
  for (int64_t i = start; i < end; i++) {
    const Rollout& r = rows[order[i]];
    for (size_t j = 0; j < r.response.size(); j++) {
      const int64_t at = (i - start) * T + response_position(static_cast<int64_t>(r.prompt.size()), static_cast<int64_t>(j));
      lp[at] = r.logp[j], adv[at] = r.advantages[j], val[at] = r.values[j], ret[at] = r.returns[j];
    }
  }
  return {Tensor::from_vector(shape, lp), Tensor::from_vector(shape, adv), Tensor::from_vector(shape, val),
          Tensor::from_vector(shape, ret)};
}

UpdateStats ppo_update(PpoModels& models, const RolloutBatch& batch, const PpoSettings& s, std::vector<AdamW>& opts,
                       float lr, float value_lr, Rng& shuffle, int64_t step, SftBatcher* ptx) {
  std::vector<PpoModels::ParamSet> sets = models.trained_sets();
  GPT& policy = models.policy();
  const int64_t B = static_cast<int64_t>(batch.rows.size()), max_T = policy.config().max_T;
  UpdateStats u;
  Tensor ptx_in, ptx_tgt, ptx_w;
  std::vector<int64_t> order(B);
  std::iota(order.begin(), order.end(), 0);
  for (int64_t epoch = 0; epoch < s.ppo_epochs; epoch++) {
    for (int64_t i = B - 1; i > 0; i--) std::swap(order[i], order[shuffle.next_u64() % static_cast<uint64_t>(i + 1)]);
    for (int64_t start = 0; start < B; start += s.minibatch) {
      const int64_t end = std::min(B, start + s.minibatch);
      const ResponseBatch rb = pack_rows(batch.rows, order, start, end, max_T);
      const MinibatchTargets t = minibatch_targets(batch.rows, order, start, end, rb.ids.shape());
      const PolicyForward pf = policy_forward(policy, rb, s.temperature, /*with_entropy=*/false);
      PolicyLossStats ps;
      Tensor pg = ppo_policy_loss(pf.logprobs, t.old_logprobs, t.advantages, rb.mask, s.clip, &ps);
      if (ps.ratio_max > s.max_ratio) {
        clear_tape();
        check_rails(step, {{}, 0, 0, ps.ratio_max}, s.max_ratio);
      }
      ValueLossStats vs;
      Tensor vf = ppo_value_loss(models.values(rb, pf.hidden), t.old_values, t.returns, rb.mask, s.vf_clip, &vs);
      Tensor loss = add(pg, scale(vf, s.vf_coef));
      if (ptx && s.ptx_coef > 0) {
        ptx->next(ptx_in, ptx_tgt, ptx_w);
        Tensor l = policy.loss(ptx_in, ptx_tgt, ptx_w);
        u.ptx_loss += l.item();
        loss = add(loss, scale(l, s.ptx_coef));
      }
      backward(loss);
      for (size_t k = 0; k < sets.size(); k++) {
        const float norm = clip_grad_norm(*sets[k].grads, s.grad_clip);
        if (k == 0) u.grad_norm += norm;
        opts[k].step(*sets[k].params, *sets[k].grads, sets[k].value ? value_lr : lr);
      }
      models.zero_grad();
      u.policy_loss += pg.item(), u.value_loss += vf.item();
      u.clip_fraction += ps.clip_fraction, u.approx_kl += ps.approx_kl, u.ratio_mean += ps.ratio_mean;
      u.ratio_max = std::max(u.ratio_max, ps.ratio_max);
      u.value_clip_fraction += vs.clip_fraction;
      u.optimizer_steps++;
    }
  }
  const double n = static_cast<double>(std::max<int64_t>(1, u.optimizer_steps));
  u.policy_loss /= n, u.value_loss /= n, u.ptx_loss /= n, u.clip_fraction /= n, u.approx_kl /= n;
  u.ratio_mean /= n, u.value_clip_fraction /= n, u.grad_norm /= n;
  return u;
}

json rollout_metrics(const RolloutBatch& batch) {
  const double B = static_cast<double>(batch.rows.size());
  double rm = 0, score = 0, correct = 0, closed = 0, length = 0, ent = 0, tokens = 0, value_sum = 0;
  std::vector<double> k1s;
  double k3 = 0;
  std::vector<float> values, returns;
  for (const Rollout& r : batch.rows) {
    rm += r.rm_score, score += r.score, correct += r.correct, closed += r.closed;
    length += static_cast<double>(r.response.size());
    double k1 = 0;
    for (size_t j = 0; j < r.response.size(); j++) {
      k1 += kl_k1(r.logp[j], r.ref_logp[j]);
      k3 += kl_k3(r.logp[j], r.ref_logp[j]);
      ent += r.entropy[j], tokens += 1, value_sum += r.values[j];
    }
    k1s.push_back(k1);
    values.insert(values.end(), r.values.begin(), r.values.end());
    returns.insert(returns.end(), r.returns.begin(), r.returns.end());
  }
  const double k1_mean = std::accumulate(k1s.begin(), k1s.end(), 0.0) / B;
  double k1_var = 0;
  for (double k : k1s) k1_var += (k - k1_mean) * (k - k1_mean);
  const double k1_stderr = B > 1 ? std::sqrt(k1_var / (B - 1) / B) : 0.0;
  return {{"rm_score", rm / B},
          {"score", score / B},
          {"gold_accuracy", correct / B},
          {"kl_k1", k1_mean},
          {"kl_k1_stderr", k1_stderr},
          {"kl_k3", k3 / B},
          {"entropy", ent / std::max(1.0, tokens)},
          {"length", length / B},
          {"closed_fraction", closed / B},
          {"advantage_mean", batch.adv_mean},
          {"advantage_std", batch.adv_std},
          {"explained_variance", explained_variance(values, returns)},
          {"value_mean", value_sum / std::max(1.0, tokens)}};
}

}  // namespace sog
