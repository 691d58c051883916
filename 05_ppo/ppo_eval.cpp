#include "05_ppo/ppo_eval.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>

#include "common/rl/ppo_models.h"
#include "common/rl/ppo_step.h"
#include "common/autograd/tape.h"
#include "common/chat/chat_template.h"
#include "common/generate/generate_batch.h"
#include "common/io/atomic_file.h"
#include "common/nn/load_model.h"
#include "common/reward/preferences.h"
#include "common/reward/reward_model.h"
#include "common/rl/ppo.h"
#include "common/world/grader.h"

namespace sog {

using json = nlohmann::json;

// Mean and a 95% interval (normal approximation) of per-prompt values.
struct MeanInterval {
  double mean = 0, low = 0, high = 0;
};
static MeanInterval mean_interval(const std::vector<double>& v) {
  const double n = static_cast<double>(v.size());
  double mean = 0, sq = 0;
  for (double x : v) mean += x;
  mean /= std::max(1.0, n);
  for (double x : v) sq += (x - mean) * (x - mean);
  const double se = n > 1 ? std::sqrt(sq / (n - 1) / n) : 0.0;
  return {mean, mean - 1.96 * se, mean + 1.96 * se};
}

// Per-response-token values of x (B,T) for the pairs packed by pack_responses.
static std::vector<std::vector<float>> per_token(const Tensor& x, const std::vector<std::vector<int32_t>>& prompts,
                                                 const std::vector<std::vector<int32_t>>& responses) {
  std::vector<std::vector<float>> out;
  for (size_t b = 0; b < prompts.size(); b++) {
    out.push_back(response_values(x, static_cast<int64_t>(b), static_cast<int64_t>(prompts[b].size()),
                                  static_cast<int64_t>(responses[b].size())));
  }
  return out;
}

int run_ppo_eval(const EvalConfig& cfg) {
  if (cfg.samples < 1 || cfg.best_of < 1) throw std::invalid_argument("eval: --samples and --best-of must be ≥ 1");
  if (!(cfg.temperature > 0)) throw std::invalid_argument("eval: --temperature must be > 0");
  NoGradGuard no_grad;
  Tokenizer tok = Tokenizer::load(cfg.tokenizer_dir);
  LoadedModel policy = load_model(cfg.policy_path, "", tok, cfg.tokenizer_dir);
  LoadedModel sft = load_model(cfg.sft_path, "", tok, cfg.tokenizer_dir);
  LoadedModel rm = load_reward_model(cfg.reward_path, tok, cfg.tokenizer_dir, /*base_trainable=*/false);
  const std::vector<QuestionRow> questions = first_per_task(read_question_rows(cfg.prompts_path), cfg.max_per_task);
  const ChatTokens ct(tok);
  const int64_t Q = static_cast<int64_t>(questions.size()), K = cfg.samples, N = cfg.best_of;

  // Every draw: question q, sample k, candidate n at index (q·K + k)·N + n.
  std::vector<std::vector<int32_t>> prompts;
  std::vector<uint64_t> seeds;
  for (int64_t q = 0; q < Q; q++) {
    const std::vector<int32_t> p = rollout_prompt(tok, questions[q]);
    for (int64_t i = 0; i < K * N; i++) {
      prompts.push_back(p);
      seeds.push_back(cfg.seed * 1000003ull + static_cast<uint64_t>(q * K * N + i));
    }
  }
  std::vector<Sampler> samplers = make_samplers({cfg.temperature, 0, 1.0f}, seeds);
  BatchGenerateOptions go;
  go.max_new_tokens = cfg.max_new_tokens;
  go.stop_ids = {ct.end, ct.eot};
  std::vector<GeneratedRow> gen = generate_batch(*policy.model, prompts, go, samplers);
  std::vector<std::pair<Chat, std::string>> items;
  std::vector<std::string> decoded;
  for (size_t i = 0; i < gen.size(); i++) {
    decoded.push_back(tok.decode(gen[i].tokens));
    items.push_back({task_prompt(task_of(questions[i / (K * N)])), reply_of_completion(decoded.back())});
  }
  const std::vector<float> scores = score_completions(*rm.model, *rm.head, tok, items, 64, /*normalized=*/true);

  // The kept sample of each (q, k): the first highest-scoring of its N candidates.
  std::vector<int64_t> kept;
  for (int64_t g = 0; g < Q * K; g++) kept.push_back(g * N + best_of_first(std::span(scores).subspan(g * N, N), N));

  // Log-probabilities and entropies of the kept samples under the policy and the SFT model.
  std::vector<std::vector<float>> lp_policy, lp_sft, ent;
  const int64_t chunk = 32;
  for (size_t start = 0; start < kept.size(); start += chunk) {
    std::vector<std::vector<int32_t>> ps, rs;
    for (size_t i = start; i < std::min(kept.size(), start + chunk); i++) {
      ps.push_back(prompts[kept[i]]);
      rs.push_back(gen[kept[i]].tokens.empty() ? std::vector<int32_t>{ct.eot} : gen[kept[i]].tokens);
    }
    const ResponseBatch rb = pack_responses(ps, rs, policy.model->config().max_T);
    const PolicyForward pf = policy_forward(*policy.model, rb, cfg.temperature, true);
    const PolicyForward sf = policy_forward(*sft.model, rb, cfg.temperature, N > 1);
    for (auto& v : per_token(pf.logprobs, ps, rs)) lp_policy.push_back(std::move(v));
    for (auto& v : per_token(sf.logprobs, ps, rs)) lp_sft.push_back(std::move(v));
    for (auto& v : per_token(N > 1 ? sf.entropy : pf.entropy, ps, rs)) ent.push_back(std::move(v));
  }

  std::vector<double> rm_q, gold_q, kl_q, distinct_q;
  double ent_sum = 0, tokens = 0, length = 0, closed = 0;
  std::map<std::string, std::vector<std::pair<double, double>>> per_task;  // (gold, rm) per prompt
  for (int64_t q = 0; q < Q; q++) {
    const Task task = task_of(questions[q]);
    double rm_sum = 0, correct = 0, kl_sum = 0;
    std::vector<std::vector<int32_t>> responses;
    for (int64_t k = 0; k < K; k++) {
      const int64_t g = q * K + k, i = kept[g];
      rm_sum += scores[i];
      correct += grade(task, std::string(reply_text(decoded[i]))).correct;
      for (size_t j = 0; j < lp_policy[g].size(); j++) {
        kl_sum += kl_k1(lp_policy[g][j], lp_sft[g][j]);
        ent_sum += ent[g][j], tokens += 1;
      }
      length += static_cast<double>(gen[i].tokens.size());
      closed += !gen[i].tokens.empty() && gen[i].tokens.back() == ct.end;
      responses.push_back(gen[i].tokens);
    }
    rm_q.push_back(rm_sum / K), gold_q.push_back(correct / K), kl_q.push_back(kl_sum / K);
    distinct_q.push_back(distinct_ngrams(responses, 2));
    per_task[questions[q].task].push_back({correct / K, rm_sum / K});
  }
  const MeanInterval rmi = mean_interval(rm_q), goldi = mean_interval(gold_q);
  const double kl = N > 1 ? best_of_n_kl(static_cast<int>(N)) : mean_interval(kl_q).mean;
  const double draws = static_cast<double>(Q * K);
  json out = {{"label", cfg.label}, {"policy", cfg.policy_path}, {"prompts_file", cfg.prompts_path},
              {"questions", Q}, {"samples", K}, {"best_of", N}, {"temperature", cfg.temperature},
              {"rm_score", rmi.mean}, {"rm_score_interval", {rmi.low, rmi.high}},
              {"gold_accuracy", goldi.mean}, {"gold_accuracy_interval", {goldi.low, goldi.high}},
              {"kl", kl}, {"kl_estimator", N > 1 ? "log N - (N-1)/N" : "k1 over the samples"},
              {"entropy", ent_sum / std::max(1.0, tokens)}, {"distinct_2", mean_interval(distinct_q).mean},
              {"length", length / draws}, {"closed_fraction", closed / draws}, {"per_task", json::object()}};
  for (const auto& [task, rows] : per_task) {
    std::vector<double> gold, score;
    for (const auto& [g, r] : rows) gold.push_back(g), score.push_back(r);
    out["per_task"][task] = {{"questions", rows.size()}, {"gold_accuracy", mean_interval(gold).mean},
                             {"rm_score", mean_interval(score).mean}};
  }
  std::printf("| %s | %.3f (%.2f–%.2f) | %.3f (%.2f–%.2f) | %.3f | %.3f | %.3f | %.1f |\n", cfg.label.c_str(), rmi.mean,
              rmi.low, rmi.high, goldi.mean, goldi.low, goldi.high, kl, out["entropy"].get<double>(),
              out["distinct_2"].get<double>(), out["length"].get<double>());
  if (!cfg.out_path.empty()) write_file_atomic(cfg.out_path, out.dump(2) + "\n");
  return 0;
}

}  // namespace sog
