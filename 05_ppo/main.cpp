// 05_ppo — the talk's fourth stage: reinforcement learning from human feedback.
//
// "Sample from the SFT model, score with the reward model, push the policy toward higher reward
// while a KL penalty keeps it near the SFT model" — InstructGPT's PPO, with the details of
// lm-human-preferences (Huang et al. 2024, "The N+ Implementation Details of RLHF with PPO"):
//
//   each iteration   B prompts → the policy samples one response each (temperature T)
//                    score: the reward model's (normalised as chapter 04 recorded) or the
//                    grader's 1/0 (--reward grader); a response that did not close its turn: −1
//                    per token: reward = −β·(log π − log π_ref), + the score at the last token
//                    GAE (γ = 1, λ = 0.95), advantages whitened over the batch
//                    4 epochs × shuffled minibatches: clipped policy loss (ε = 0.2) + 0.1 · clipped
//                    value loss (ε_v = 0.2) [+ γ_ptx · SFT loss], gradient clipping, AdamW
//   β                fixed, or adaptive: the KL tracks a target (6 nats, horizon 10,000)
//   rails            NaN/inf, a KL estimate negative beyond its noise, a ratio above 10 stop the
//                    run with the step and the metric; the last checkpoint stays as it was
//
//   reads:   chapter 03's SFT model, chapter 04's reward model folder, the tokenizer, the world's
//            ppo_prompts.jsonl (training) and eval_test.jsonl (held out)
//   writes:  train → RUN/model.bin or adapter.bin + config.json (a model folder of kind "policy"),
//                    value_head.bin [value_model.bin | value_adapter.bin], state.bin, run.json,
//                    metrics.jsonl, dashboard.svg, loss.svg, samples.txt, summary.json
//            eval  → one row of the chapter's table as JSON
//            plot  → overoptimization.svg from several runs
//
//   bin/ppo train --policy SFT --reward-model RM --tokenizer DIR --prompts F.jsonl --out RUN
//                 [--reward rm|grader] [--kl-coef B] [--kl-target 6|0] [--value shared|separate] [--lora-rank R]
//   bin/ppo eval  --policy P --sft SFT --reward-model RM --tokenizer DIR --prompts F.jsonl --out F.json
//                 [--best-of N] [--samples 8]
//   bin/ppo plot  --run LABEL=RUN … --out overoptimization.svg
#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "05_ppo/ppo_eval.h"
#include "common/rl/ppo_models.h"
#include "05_ppo/ppo_plots.h"
#include "common/rl/ppo_step.h"
#include "common/chat/conversations.h"
#include "common/data/epoch_order.h"
#include "common/io/atomic_file.h"
#include "common/io/metrics.h"
#include "common/nn/model_folder.h"
#include "common/optim/optim_options.h"
#include "common/optim/schedule.h"
#include "common/rl/ppo.h"
#include "common/train/run_options.h"
#include "common/train/training_run.h"

using namespace sog;
namespace fs = std::filesystem;
using json = nlohmann::json;

struct TrainConfig {
  std::string policy_path, reward_path, tokenizer_dir, prompts_path, out_dir, resume_dir;
  int64_t steps = 60, checkpoint_every = 0;
  int max_per_task = 0;
  uint64_t seed = 1337;
  PpoSettings ppo;
  std::string reward = "rm", value = "separate";
  double kl_coef = 0.05, kl_target = 6.0, kl_horizon = 10000.0;
  float lr = 1e-5f, min_lr = 0.0f, value_lr = 1e-4f;
  int64_t warmup = 0, decay_steps = 0;
  float beta1 = 0.9f, beta2 = 0.95f, weight_decay = 0.0f, grad_clip = 1.0f, adam_eps = 1e-5f;
  std::string ptx_data;
  int64_t ptx_rows = 4, ptx_T = 128;
  int lora_rank = 0;
  float lora_alpha = 16.0f, lora_dropout = 0.0f;
  std::string lora_targets = "all";
  bool lora() const { return lora_rank > 0; }
};

static json config_json(const TrainConfig& c) {
  const PpoSettings& p = c.ppo;
  return {{"policy", c.policy_path}, {"reward_model", c.reward_path}, {"tokenizer", c.tokenizer_dir},
          {"prompts", c.prompts_path}, {"steps", c.steps}, {"max_per_task", c.max_per_task}, {"seed", c.seed},
          {"reward", c.reward}, {"value", c.value}, {"batch_size", p.batch_size}, {"minibatch", p.minibatch},
          {"ppo_epochs", p.ppo_epochs}, {"temperature", p.temperature}, {"max_new_tokens", p.max_new_tokens},
          {"no_eot_score", p.no_eot_score}, {"gamma", p.gamma}, {"lambda", p.lambda}, {"clip", p.clip},
          {"vf_clip", p.vf_clip}, {"vf_coef", p.vf_coef}, {"ptx_coef", p.ptx_coef}, {"ptx_data", c.ptx_data},
          {"ptx_rows", c.ptx_rows}, {"ptx_T", c.ptx_T}, {"kl_coef", c.kl_coef}, {"kl_target", c.kl_target},
          {"kl_horizon", c.kl_horizon}, {"lr", c.lr}, {"min_lr", c.min_lr}, {"value_lr", c.value_lr},
          {"warmup", c.warmup}, {"decay_steps", c.decay_steps}, {"beta1", c.beta1}, {"beta2", c.beta2},
          {"weight_decay", c.weight_decay}, {"grad_clip", c.grad_clip}, {"adam_eps", c.adam_eps},
          {"lora_rank", c.lora_rank}, {"lora_alpha", c.lora_alpha}, {"lora_dropout", c.lora_dropout},
          {"lora_targets", c.lora_targets}};
}

// A resumed run is the run its run.json describes: every field that defines it is read back.
static void restore_config(TrainConfig& c, const TrainingRun& run) {
  const json s = run.saved_config();
  auto get = [&](const char* key, auto& field) {
    if (!s.contains(key)) throw std::runtime_error(run.resume_dir() + "/run.json: no field '" + key + "'");
    field = s.at(key).get<std::remove_reference_t<decltype(field)>>();
  };
  PpoSettings& p = c.ppo;
  get("policy", c.policy_path), get("reward_model", c.reward_path), get("prompts", c.prompts_path);
  get("max_per_task", c.max_per_task), get("seed", c.seed), get("reward", c.reward), get("value", c.value);
  get("batch_size", p.batch_size), get("minibatch", p.minibatch), get("ppo_epochs", p.ppo_epochs);
  get("temperature", p.temperature), get("max_new_tokens", p.max_new_tokens), get("no_eot_score", p.no_eot_score);
  get("gamma", p.gamma), get("lambda", p.lambda), get("clip", p.clip), get("vf_clip", p.vf_clip);
  get("vf_coef", p.vf_coef), get("ptx_coef", p.ptx_coef), get("ptx_data", c.ptx_data), get("ptx_rows", c.ptx_rows);
  get("ptx_T", c.ptx_T), get("kl_coef", c.kl_coef), get("kl_target", c.kl_target), get("kl_horizon", c.kl_horizon);
  get("lr", c.lr), get("min_lr", c.min_lr), get("value_lr", c.value_lr), get("warmup", c.warmup);
  get("decay_steps", c.decay_steps), get("beta1", c.beta1), get("beta2", c.beta2);
  get("weight_decay", c.weight_decay), get("grad_clip", c.grad_clip), get("adam_eps", c.adam_eps);
  get("lora_rank", c.lora_rank), get("lora_alpha", c.lora_alpha), get("lora_dropout", c.lora_dropout);
  get("lora_targets", c.lora_targets);
}

static int run_train(TrainConfig cfg) {
  if (!cfg.resume_dir.empty() && cfg.steps == 0) {
    cfg.steps = json::parse(read_file(cfg.resume_dir + "/run.json")).value("steps", int64_t{0});
  }
  TrainingRun run("ppo", cfg.out_dir, cfg.resume_dir, cfg.steps);
  if (run.resuming()) restore_config(cfg, run);
  if (cfg.policy_path.empty() || cfg.reward_path.empty() || cfg.prompts_path.empty()) {
    throw std::invalid_argument("train: give --policy SFT, --reward-model RM and --prompts F.jsonl");
  }
  PpoSettings& s = cfg.ppo;
  s.reward = reward_source_from_name(cfg.reward);
  s.grad_clip = cfg.grad_clip;
  if (s.batch_size < 1 || s.minibatch < 1 || s.ppo_epochs < 1 || s.max_new_tokens < 1) {
    throw std::invalid_argument("train: --batch-size, --minibatch, --ppo-epochs and --max-new-tokens must be ≥ 1");
  }
  if (!(s.temperature > 0)) throw std::invalid_argument("train: --temperature must be > 0 (PPO samples)");
  if (cfg.decay_steps == 0) cfg.decay_steps = cfg.steps;
  Tokenizer tok = Tokenizer::load(cfg.tokenizer_dir);
  const std::vector<QuestionRow> questions = first_per_task(read_question_rows(cfg.prompts_path), cfg.max_per_task);

  PpoModelOptions mo{cfg.policy_path, cfg.reward_path, cfg.tokenizer_dir, value_model_from_name(cfg.value),
                     LoRAConfig{.rank = cfg.lora_rank, .alpha = cfg.lora_alpha, .dropout = cfg.lora_dropout},
                     cfg.lora(), cfg.seed};
  if (cfg.lora()) mo.lora = LoRAConfig::with_targets(mo.lora, cfg.lora_targets);
  PpoModels models(mo, tok);
  if (run.resuming()) models.load_trained(run.resume_dir());
  std::vector<PpoModels::ParamSet> sets = models.trained_sets();
  std::vector<AdamW> opts;
  opts.reserve(sets.size());
  for (const auto& set : sets) {
    opts.emplace_back(set.params->numel(), set.segments, AdamWConfig{cfg.beta1, cfg.beta2, cfg.adam_eps, cfg.weight_decay});
  }
  for (size_t k = 0; k < sets.size(); k++) {
    const bool policy_set = k == 0, head_set = sets[k].name == "value_head";
    run.track_set(sets[k].name, opts[k], [&models, policy_set, head_set](const std::string& dir) {
      if (policy_set) models.save_policy(dir);
      else if (head_set) models.save_value(dir);
    });
  }
  std::unique_ptr<SftBatcher> ptx;
  if (s.ptx_coef > 0) {
    if (cfg.ptx_data.empty()) throw std::invalid_argument("train: --ptx-coef needs --ptx-data (SFT conversations)");
    ptx = std::make_unique<SftBatcher>(tok, read_conversations(cfg.ptx_data).conversations, cfg.ptx_rows,
                                       std::min<int64_t>(cfg.ptx_T, models.policy().config().max_T), cfg.seed ^ 0x9A7ull);
  }
  EpochOrder order(static_cast<int64_t>(questions.size()), cfg.seed);
  KLController kl(cfg.kl_coef, cfg.kl_target, cfg.kl_horizon);
  int64_t step = run.begin(config_json(cfg));
  if (run.resuming()) {
    const json pos = run.data_position<json>();
    order.restore(pos.at("order").get<EpochPosition>());
    kl.set_beta(pos.at("kl_coef").get<double>());
    if (ptx) ptx->restore(pos.at("ptx").get<SftPosition>());
  }
  auto position = [&] {
    json p = {{"order", order.position()}, {"kl_coef", kl.beta()}};
    if (ptx) p["ptx"] = ptx->position();
    return p;
  };
  const GPTConfig& m = models.policy().config();
  std::printf("ppo: policy %s from %s (%s) | reward %s (%s) | value %s | %zu prompts, %lld iterations of %lld "
              "rollouts, %lld epochs of minibatches of %lld | β %.4g%s\n",
              m.describe().c_str(), cfg.policy_path.c_str(),
              cfg.lora() ? ("LoRA r=" + std::to_string(cfg.lora_rank)).c_str() : "full", cfg.reward.c_str(),
              cfg.reward_path.c_str(), cfg.value.c_str(), questions.size(), static_cast<long long>(cfg.steps),
              static_cast<long long>(s.batch_size), static_cast<long long>(s.ppo_epochs),
              static_cast<long long>(s.minibatch), kl.beta(), kl.adaptive() ? " (adaptive)" : " (fixed)");

  const RolloutScorer scorer = world_scorer(models, tok, questions, s);
  LrSchedule schedule{cfg.lr, cfg.min_lr, cfg.warmup, cfg.decay_steps};
  const double value_scale = cfg.value_lr / cfg.lr;
  for (; step < cfg.steps; step++) {
    run.step_started();
    std::vector<int64_t> picked;
    for (int64_t i = 0; i < s.batch_size; i++) picked.push_back(order.next());
    const uint64_t rollout_seed = cfg.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(step);
    const double beta = kl.beta();
    RolloutBatch batch = collect_rollouts(models, tok, questions, picked, scorer, s, beta, rollout_seed);
    json record = {{"step", step}};
    record.update(rollout_metrics(batch));
    RailCheck rails;
    for (const char* key : {"rm_score", "score", "kl_k1", "kl_k3", "entropy", "value_mean", "advantage_std"})
      rails.finite.push_back({key, record[key].get<double>()});
    rails.kl_k1_mean = record["kl_k1"].get<double>();
    rails.kl_k1_stderr = record["kl_k1_stderr"].get<double>();
    check_rails(step, rails, s.max_ratio);

    const double t0 = steady_seconds();
    const float lr = schedule.at(step);
    Rng shuffle(rollout_seed ^ 0x5A17ull);
    const UpdateStats u = ppo_update(models, batch, s, opts, lr, static_cast<float>(lr * value_scale), shuffle, step,
                                     ptx.get());
    const double update_s = steady_seconds() - t0;
    check_rails(step, {{{"policy_loss", u.policy_loss}, {"value_loss", u.value_loss}, {"grad_norm", u.grad_norm}},
                       rails.kl_k1_mean, rails.kl_k1_stderr, u.ratio_max}, s.max_ratio);
    kl.update(rails.kl_k1_mean, s.batch_size);

    const double rollout_s = batch.generate_s + batch.forward_s;
    record["kl_coef"] = beta;
    record["train_loss"] = u.policy_loss;
    record["policy_loss"] = u.policy_loss;
    record["value_loss"] = u.value_loss;
    if (ptx) record["ptx_loss"] = u.ptx_loss;
    record["approx_kl"] = u.approx_kl;
    record["clip_fraction"] = u.clip_fraction;
    record["value_clip_fraction"] = u.value_clip_fraction;
    record["ratio_mean"] = u.ratio_mean;
    record["ratio_max"] = u.ratio_max;
    record["grad_norm"] = u.grad_norm;
    record["lr"] = lr;
    record["rollout_s"] = rollout_s;
    record["scoring_s"] = batch.score_s;
    record["update_s"] = update_s;
    record["sample_tokens_per_s"] = static_cast<double>(batch.response_tokens) / std::max(1e-9, batch.generate_s);
    record["rollout_tokens_per_s"] =
        static_cast<double>(batch.response_tokens) / std::max(1e-9, rollout_s + batch.score_s);
    if (run.due(25, step)) {
      std::string text;
      for (size_t i = 0; i < std::min<size_t>(4, batch.rows.size()); i++) {
        const Rollout& r = batch.rows[i];
        char buf[96];
        std::snprintf(buf, sizeof(buf), "  [RM %+.3f | %s%s]\n", r.rm_score, r.correct ? "correct" : "wrong",
                      r.closed ? "" : " | did not close its turn");
        text += "Q: " + questions[r.question].prompt + "\nA: " + r.reply + "\n" + buf;
      }
      run.append_samples(step, text);
    }
    run.step_done(record, batch.response_tokens);
    if (run.checkpoint_due(cfg.checkpoint_every, step)) run.save(step + 1, position());
  }
  run.save(cfg.steps, position());
  save_model_folder(run.out_dir(), "policy", models.policy(), nullptr, models.lora());
  write_dashboard(run.out_dir() + "/metrics.jsonl", run.out_dir() + "/dashboard.svg",
                  "PPO (" + cfg.reward + ", " + cfg.value + " value)");
  json extra = {{"prompts", questions.size()}, {"final_kl_coef", kl.beta()}, {"memory", models.memory_report()}};
  const std::vector<json> records = read_jsonl(run.out_dir() + "/metrics.jsonl");
  double gen = 0, fwd = 0, score = 0, upd = 0, tokens_gen = 0;
  for (const json& r : records) {
    gen += r.value("sample_tokens_per_s", 0.0), fwd += r.value("rollout_s", 0.0);
    score += r.value("scoring_s", 0.0), upd += r.value("update_s", 0.0);
    tokens_gen += r.value("rollout_tokens_per_s", 0.0);
  }
  const double n = static_cast<double>(std::max<size_t>(1, records.size()));
  extra["time_split_s"] = {{"rollout", fwd / n}, {"scoring", score / n}, {"update", upd / n}};
  extra["sample_tokens_per_s"] = gen / n;
  extra["rollout_tokens_per_s"] = tokens_gen / n;
  run.finish({"PPO: " + m.describe(), "score", {}, {{"RM score", "rm_score"}, {"gold accuracy", "gold_accuracy"},
                                                     {"KL k1 (nats)", "kl_k1"}}},
             extra);
  std::printf("done: %lld iterations, final β %.4g → %s\n", static_cast<long long>(cfg.steps), kl.beta(),
              run.out_dir().c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------

static int run_plot(const std::vector<std::string>& runs, const std::string& out, int smooth) {
  std::vector<std::pair<std::string, std::string>> labelled;
  for (const std::string& r : runs) {
    const size_t eq = r.rfind('=');  // a label may hold '=' ("β=0"), a folder rarely does
    if (eq == std::string::npos || eq == 0 || eq + 1 == r.size()) {
      throw std::invalid_argument("--run: expected LABEL=RUN_FOLDER, found '" + r + "'");
    }
    labelled.push_back({r.substr(0, eq), r.substr(eq + 1) + "/metrics.jsonl"});
  }
  write_overoptimization_plot(labelled, out, smooth);
  std::printf("plot: %zu runs → %s\n", labelled.size(), out.c_str());
  return 0;
}

int main(int argc, char** argv) {
  CLI::App app{"05_ppo: RLHF with PPO — the SFT policy, the reward model, a KL penalty; the table; over-optimisation"};
  app.require_subcommand(1);

  TrainConfig tc;
  auto* train = app.add_subcommand("train", "train the policy with PPO (or resume a run)");
  train->add_option("--policy", tc.policy_path, "the SFT model (chapter 03's model.bin): policy and reference");
  train->add_option("--reward-model", tc.reward_path, "chapter 04's reward model folder");
  train->add_option("--tokenizer", tc.tokenizer_dir, "tokenizer folder")->required();
  train->add_option("--prompts", tc.prompts_path, "JSONL of {prompt, answer, task} (the world's ppo_prompts.jsonl)");
  train->add_option("--out", tc.out_dir, "run folder");
  train->add_option("--resume", tc.resume_dir, "continue the run in this folder exactly where it stopped");
  train->add_option("--steps", tc.steps, "PPO iterations (rollouts + update)")->capture_default_str();
  train->add_option("--checkpoint-every", tc.checkpoint_every, "0: only at the end")->capture_default_str();
  train->add_option("--seed", tc.seed)->capture_default_str();
  train->add_option("--max-per-task", tc.max_per_task, "training prompts per task (0: all)")->capture_default_str();
  train->add_option("--reward", tc.reward, "rm: the reward model drives; grader: the world's exact grader (1/0)")->capture_default_str();
  train->add_option("--value", tc.value, "shared: a head on the policy; separate: the reward model's backbone")->capture_default_str();
  train->add_option("--batch-size", tc.ppo.batch_size, "rollouts per iteration")->capture_default_str();
  train->add_option("--minibatch", tc.ppo.minibatch, "rollouts per optimizer step")->capture_default_str();
  train->add_option("--ppo-epochs", tc.ppo.ppo_epochs, "passes over each batch of rollouts")->capture_default_str();
  train->add_option("--temperature", tc.ppo.temperature, "sampling temperature (the logits PPO reads carry it)")->capture_default_str();
  train->add_option("--max-new-tokens", tc.ppo.max_new_tokens, "response length cap")->capture_default_str();
  train->add_option("--no-eot-score", tc.ppo.no_eot_score, "score of a response that did not close its turn")->capture_default_str();
  train->add_option("--kl-coef", tc.kl_coef, "β, the KL penalty's coefficient (its start when adaptive)")->capture_default_str();
  train->add_option("--kl-target", tc.kl_target, "adaptive β's target KL in nats (0: β fixed)")->capture_default_str();
  train->add_option("--kl-horizon", tc.kl_horizon, "adaptive β's horizon in rollouts")->capture_default_str();
  train->add_option("--gamma", tc.ppo.gamma)->capture_default_str();
  train->add_option("--lam", tc.ppo.lambda, "GAE's λ")->capture_default_str();
  train->add_option("--clip", tc.ppo.clip, "policy ratio clip ε")->capture_default_str();
  train->add_option("--vf-clip", tc.ppo.vf_clip, "value clip ε_v")->capture_default_str();
  train->add_option("--vf-coef", tc.ppo.vf_coef, "value loss coefficient")->capture_default_str();
  train->add_option("--ptx-coef", tc.ppo.ptx_coef, "PPO-ptx: coefficient of an SFT loss term (0: off)")->capture_default_str();
  train->add_option("--ptx-data", tc.ptx_data, "SFT conversations (JSONL) for PPO-ptx");
  train->add_option("--ptx-rows", tc.ptx_rows, "SFT rows per minibatch for PPO-ptx")->capture_default_str();
  train->add_option("--value-lr", tc.value_lr, "peak learning rate of the value function")->capture_default_str();
  train->add_option("--adam-eps", tc.adam_eps, "AdamW ε (lm-human-preferences: 1e-5)")->capture_default_str();
  add_optimizer_options(train, tc);
  add_lora_options(train, tc);

  EvalConfig ec;
  auto* eval = app.add_subcommand("eval", "one row of the chapter's table: a policy on held-out prompts");
  eval->add_option("--policy", ec.policy_path, "the policy: a PPO run folder, or the SFT model")->required();
  eval->add_option("--sft", ec.sft_path, "the SFT model (the KL reference)")->required();
  eval->add_option("--reward-model", ec.reward_path, "chapter 04's reward model folder")->required();
  eval->add_option("--tokenizer", ec.tokenizer_dir, "tokenizer folder")->required();
  eval->add_option("--prompts", ec.prompts_path, "JSONL of {prompt, answer, task} (held out: eval_test.jsonl)")->required();
  eval->add_option("--label", ec.label, "the row's name in the table")->capture_default_str();
  eval->add_option("--samples", ec.samples, "samples per prompt (distinct-2 is over these)")->capture_default_str();
  eval->add_option("--best-of", ec.best_of, "each sample is the best of N of the policy by the reward model (1: plain)")->capture_default_str();
  eval->add_option("--max-per-task", ec.max_per_task, "prompts per task (0: all)")->capture_default_str();
  eval->add_option("--temperature", ec.temperature)->capture_default_str();
  eval->add_option("--max-new-tokens", ec.max_new_tokens)->capture_default_str();
  eval->add_option("--seed", ec.seed)->capture_default_str();
  eval->add_option("--out", ec.out_path, "the row as JSON");

  std::vector<std::string> plot_runs;
  std::string plot_out;
  int smooth = 5;
  auto* plot = app.add_subcommand("plot", "over-optimisation: RM score and gold accuracy against √KL for several runs");
  plot->add_option("--run", plot_runs, "LABEL=RUN_FOLDER (repeat; split at the last =)")->required();
  plot->add_option("--out", plot_out, "the SVG")->required();
  plot->add_option("--smooth", smooth, "iterations averaged per point")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    if (*train) return run_train(tc);
    if (*eval) return run_ppo_eval(ec);
    if (*plot) return run_plot(plot_runs, plot_out, smooth);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ppo: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
