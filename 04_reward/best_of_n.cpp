#include "04_reward/best_of_n.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <span>

#include "04_reward/comparisons.h"
#include "04_reward/reward_eval.h"
#include "common/eval/eval_report.h"
#include "common/eval/evaluator.h"
#include "common/io/atomic_file.h"
#include "common/nn/load_model.h"
#include "common/reward/reward_model.h"
#include "common/world/grader.h"

namespace sog {

using json = nlohmann::json;

// 1, 2, 4, … up to N, and N itself.
static std::vector<int> sizes_up_to(int n) {
  std::vector<int> out;
  for (int s = 1; s < n; s *= 2) out.push_back(s);
  out.push_back(n);
  return out;
}

int run_best_of_n(const BestOfNConfig& cfg) {
  Tokenizer tok = Tokenizer::load(cfg.tokenizer_dir);
  LoadedModel policy = load_model(cfg.policy_path, "", tok, cfg.tokenizer_dir);
  LoadedModel rm = load_reward_model(cfg.reward_path, tok, cfg.tokenizer_dir);
  const std::vector<QuestionRow> questions = first_per_task(read_question_rows(cfg.prompts_path), cfg.max_per_task);
  const AnswerGenerator generate = model_answer_generator(*policy.model, tok);

  // SFT greedy, in the chat format: the evaluator's table (chapter 03's).
  EvalSpec greedy;
  greedy.prompt.format = PromptFormat::chat;
  greedy.max_new_tokens = cfg.max_new_tokens;
  greedy.context_length = policy.model->config().max_T;
  const EvalReport greedy_report = run_evaluation(questions, ShotPool(questions), tok, greedy, generate);

  // N samples per question, graded, scored.
  SampleOptions so{.k = cfg.n, .temperature = cfg.temperature, .max_new_tokens = cfg.max_new_tokens,
                   .context_length = policy.model->config().max_T, .seed = cfg.seed};
  const auto replies = sample_replies(questions, tok, generate, so);
  std::vector<std::pair<Chat, std::string>> items;
  for (size_t q = 0; q < questions.size(); q++)
    for (const auto& r : replies[q]) items.push_back({task_prompt(task_of(questions[q])), r});
  const std::vector<float> all_rewards = score_completions(*rm.model, *rm.head, tok, items, 64, /*normalized=*/true);

  const std::vector<int> sizes = sizes_up_to(cfg.n);
  struct Tally {
    int questions = 0, greedy = 0, sample = 0;
    std::vector<int> best, oracle;
    std::vector<double> reward;
  };
  std::map<std::string, Tally> per_task;
  Tally all;
  auto start = [&](Tally& t) {
    if (t.best.empty()) t.best.assign(sizes.size(), 0), t.oracle.assign(sizes.size(), 0), t.reward.assign(sizes.size(), 0);
  };
  start(all);
  for (size_t q = 0; q < questions.size(); q++) {
    const Task task = task_of(questions[q]);
    std::vector<bool> correct;
    for (const auto& r : replies[q]) correct.push_back(grade(task, r).correct);
    const std::span<const float> rewards(all_rewards.data() + q * cfg.n, cfg.n);  // question q's N rewards
    Tally& t = per_task[questions[q].task];
    start(t);
    const bool greedy_right = greedy_report.questions[q].samples[0].correct;
    for (Tally* x : {&t, &all}) {
      x->questions++, x->greedy += greedy_right, x->sample += correct[0];
      for (size_t i = 0; i < sizes.size(); i++) {
        const int64_t b = best_of_first(rewards, sizes[i]);
        x->best[i] += correct[b];
        x->oracle[i] += std::find(correct.begin(), correct.begin() + sizes[i], true) != correct.begin() + sizes[i];
        x->reward[i] += rewards[b];
      }
    }
  }

  auto rate = [](int k, int n) { return n ? static_cast<double>(k) / n : 0.0; };
  json out = {{"prompts_file", cfg.prompts_path}, {"policy", cfg.policy_path}, {"reward_model", cfg.reward_path},
              {"n", cfg.n}, {"temperature", cfg.temperature}, {"questions", all.questions},
              {"greedy_accuracy", rate(all.greedy, all.questions)}, {"sample_accuracy", rate(all.sample, all.questions)},
              {"best_of", json::array()}, {"per_task", json::object()}};
  std::printf("| pick | true accuracy | 95%% interval | oracle (any of n correct) | mean reward of the pick |\n|---|---:|---|---:|---:|\n");
  const Interval g = wilson_interval(all.greedy, all.questions);
  std::printf("| SFT greedy | %.3f | %.2f–%.2f | | |\n", rate(all.greedy, all.questions), g.low, g.high);
  for (size_t i = 0; i < sizes.size(); i++) {
    const Interval w = wilson_interval(all.best[i], all.questions);
    const double acc = rate(all.best[i], all.questions), oracle = rate(all.oracle[i], all.questions);
    const double mean_reward = all.reward[i] / std::max(1, all.questions);
    out["best_of"].push_back({{"n", sizes[i]}, {"accuracy", acc}, {"accuracy_interval", {w.low, w.high}},
                              {"oracle", oracle}, {"mean_reward", mean_reward}});
    const std::string pick = sizes[i] == 1 ? "one sample" : "best of " + std::to_string(sizes[i]) + " by the reward model";
    std::printf("| %s | %.3f | %.2f–%.2f | %.3f | %.3f |\n", pick.c_str(), acc, w.low, w.high, oracle, mean_reward);
  }
  for (const auto& [task, t] : per_task) {
    out["per_task"][task] = {{"questions", t.questions}, {"greedy", rate(t.greedy, t.questions)},
                             {"sample", rate(t.sample, t.questions)}, {"best_of_n", rate(t.best.back(), t.questions)},
                             {"oracle_n", rate(t.oracle.back(), t.questions)}};
  }
  if (!cfg.out_path.empty()) write_file_atomic(cfg.out_path, out.dump(2) + "\n");
  return 0;
}

}  // namespace sog
