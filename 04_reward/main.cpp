// 04_reward — the talk's third stage: people compare completions, a model learns their judgement.
//
// "It's much easier to compare than to generate": a labeler ranks K replies of the SFT assistant
// to one prompt, and a reward model — the SFT model's backbone with a scalar head that reads the
// hidden state at the token closing the reply (the "reward token") — learns to score the better
// reply higher (InstructGPT):
//
//   loss(group) = mean over its pairs (b better than w) of  −log σ(r_b − r_w)
//
// The K replies of one prompt are one group: each reply's forward pass runs once and serves all
// its C(K,2) pairs (InstructGPT: faster, and training on the pairs of one prompt as separate
// examples overfits). One epoch by default (InstructGPT found more overfits). After training the
// reward is shifted so that the SFT model's own samples on the training prompts score 0 on
// average (InstructGPT's normalisation), and the shift is stored in head.bin.
//
//   reads:   chapter 03's SFT model, its tokenizer, the world's prompts (ppo_prompts.jsonl to
//            train, eval_test.jsonl for held-out prompts: people, operands and words in no
//            training text)
//   writes:  data  → DIR/rankings.jsonl, DIR/pairs.jsonl (TRL's preference format), DIR/summary.json
//            train → RM/model.bin, RM/head.bin, RM/config.json (a model folder: model_folder.h),
//                    RM/adapter.bin (LoRA), RM/state.bin, run.json, metrics.jsonl, summary.json, loss.svg
//            eval, best-of-n → a JSON report and the table on stdout
//
//   bin/reward data  --model SFT --tokenizer DIR --prompts F.jsonl --k K --out DIR [--label-noise p]
//   bin/reward train --model SFT --tokenizer DIR --data pairs.jsonl|rankings.jsonl --out RM [--lora-rank R]
//   bin/reward score --model RM --tokenizer DIR (--prompt P --completion C | --data F.jsonl)
//   bin/reward eval  --model RM --tokenizer DIR --data pairs.jsonl --out F.json [--calibration F.svg]
//   bin/reward best-of-n --model RM --policy SFT --tokenizer DIR --prompts F.jsonl --n 16 --out F.json
//
// Departures from InstructGPT: the labeler is the world's grader (correct before wrong, then
// well-formed, then shorter), not people, so label noise is added on purpose (--label-noise);
// the reward model is as large as the policy (InstructGPT used a 6B RM for a 175B policy).
#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "04_reward/best_of_n.h"
#include "04_reward/comparisons.h"
#include "04_reward/reward_eval.h"
#include "common/autograd/tape.h"
#include "common/data/epoch_order.h"
#include "common/io/atomic_file.h"
#include "common/nn/load_model.h"
#include "common/nn/model_folder.h"
#include "common/optim/adamw.h"
#include "common/optim/optim_options.h"
#include "common/optim/schedule.h"
#include "common/reward/preferences.h"
#include "common/reward/reward_model.h"
#include "common/train/run_options.h"
#include "common/train/training_run.h"

using namespace sog;
namespace fs = std::filesystem;
using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// data: K samples per prompt from the SFT model, ranked by the labeler

struct DataConfig {
  std::string model_path, tokenizer_dir, prompts_path, out_dir;
  SampleOptions sample;
  int max_per_task = 0;  // 0: every prompt
  double label_noise = 0;
};

static int run_data(const DataConfig& cfg) {
  Tokenizer tok = Tokenizer::load(cfg.tokenizer_dir);
  LoadedModel policy = load_model(cfg.model_path, "", tok, cfg.tokenizer_dir);
  std::vector<QuestionRow> questions = first_per_task(read_question_rows(cfg.prompts_path), cfg.max_per_task);
  SampleOptions sample = cfg.sample;
  sample.context_length = policy.model->config().max_T;
  const auto replies = sample_replies(questions, tok, model_answer_generator(*policy.model, tok), sample);
  std::vector<ComparisonGroup> groups = rank_replies(questions, replies);
  const int64_t flipped = flip_pairs(groups, cfg.label_noise, cfg.sample.seed ^ 0xF11D5ull);

  fs::create_directories(cfg.out_dir);
  write_rankings_jsonl(cfg.out_dir + "/rankings.jsonl", groups);
  write_pairs_jsonl(cfg.out_dir + "/pairs.jsonl", groups);
  json summary = {{"prompts_file", cfg.prompts_path}, {"model", cfg.model_path}, {"k", cfg.sample.k},
                  {"temperature", cfg.sample.temperature}, {"label_noise", cfg.label_noise},
                  {"flipped_pairs", flipped}, {"per_task", json::object()}};
  int64_t prompts = 0, with_pairs = 0, pairs = 0;
  std::printf("| task | prompts | prompts with pairs | pairs |\n|---|---:|---:|---:|\n");
  for (const auto& [task, c] : count_by_task(groups)) {
    std::printf("| %s | %lld | %lld | %lld |\n", task.c_str(), static_cast<long long>(c.prompts),
                static_cast<long long>(c.prompts_with_pairs), static_cast<long long>(c.pairs));
    summary["per_task"][task] = {{"prompts", c.prompts}, {"prompts_with_pairs", c.prompts_with_pairs}, {"pairs", c.pairs}};
    prompts += c.prompts, with_pairs += c.prompts_with_pairs, pairs += c.pairs;
  }
  std::printf("| **all** | %lld | %lld | %lld |\n", static_cast<long long>(prompts), static_cast<long long>(with_pairs),
              static_cast<long long>(pairs));
  summary["prompts"] = prompts, summary["prompts_with_pairs"] = with_pairs, summary["pairs"] = pairs;
  write_file_atomic(cfg.out_dir + "/summary.json", summary.dump(2) + "\n");
  std::printf("data: %lld prompts × %d samples → %lld groups with pairs, %lld pairs (%lld flipped) → %s\n",
              static_cast<long long>(prompts), cfg.sample.k, static_cast<long long>(with_pairs),
              static_cast<long long>(pairs), static_cast<long long>(flipped), cfg.out_dir.c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// train

struct TrainConfig {
  std::string model_path, tokenizer_dir, data_path, val_data_path, out_dir, resume_dir;
  int64_t steps = 0;  // 0: one epoch of the groups
  int64_t groups_per_step = 8;
  double data_fraction = 1.0;  // train on the first fraction of the groups (the learning curve)
  double label_noise = 0;      // flip pairs before training, as `data --label-noise` does
  float lr = 3e-4f, min_lr = 3e-5f;
  int64_t warmup = 10, decay_steps = 0;
  float beta1 = 0.9f, beta2 = 0.99f, weight_decay = 0.0f, grad_clip = 1.0f;
  int64_t eval_every = 25, eval_batches = 0, checkpoint_every = 0;
  uint64_t seed = 1337;
  int lora_rank = 0;
  float lora_alpha = 16.0f, lora_dropout = 0.0f;
  std::string lora_targets = "all";
  bool lora() const { return lora_rank > 0; }
};

static json config_json(const TrainConfig& c) {
  return {{"model", c.model_path}, {"tokenizer", c.tokenizer_dir}, {"data", c.data_path},
          {"val_data", c.val_data_path}, {"steps", c.steps}, {"groups_per_step", c.groups_per_step},
          {"data_fraction", c.data_fraction}, {"label_noise", c.label_noise}, {"lr", c.lr}, {"min_lr", c.min_lr},
          {"warmup", c.warmup}, {"decay_steps", c.decay_steps}, {"beta1", c.beta1}, {"beta2", c.beta2},
          {"weight_decay", c.weight_decay}, {"grad_clip", c.grad_clip}, {"seed", c.seed},
          {"lora_rank", c.lora_rank}, {"lora_alpha", c.lora_alpha}, {"lora_dropout", c.lora_dropout},
          {"lora_targets", c.lora_targets}};
}

// The groups of a file that have something to learn from: at least one pair.
static std::vector<ComparisonGroup> groups_with_pairs(const std::string& path) {
  std::vector<ComparisonGroup> groups;
  for (auto& g : read_preferences(path))
    if (!g.pairs.empty()) groups.push_back(std::move(g));
  return groups;
}

// The groups that train: those with pairs, the first data_fraction of them, noise applied.
static std::vector<ComparisonGroup> training_groups(const TrainConfig& cfg) {
  std::vector<ComparisonGroup> groups = groups_with_pairs(cfg.data_path);
  if (!(cfg.data_fraction > 0 && cfg.data_fraction <= 1))
    throw std::invalid_argument("--data-fraction must be in (0, 1], got " + std::to_string(cfg.data_fraction));
  groups.resize(std::max<size_t>(1, static_cast<size_t>(std::llround(cfg.data_fraction * groups.size()))));
  flip_pairs(groups, cfg.label_noise, cfg.seed ^ 0xF11D5ull);
  if (groups.empty()) throw std::runtime_error(cfg.data_path + ": no comparison has a pair: nothing to train on");
  return groups;
}

static int run_train(TrainConfig cfg) {
  // A fresh run reads its comparisons first, to count one epoch's steps (--steps 0); a resumed run
  // has its own count, and reads the comparisons its run.json names once the run is open.
  std::vector<ComparisonGroup> groups;
  if (cfg.resume_dir.empty()) {
    groups = training_groups(cfg);
    if (cfg.steps == 0) cfg.steps = (static_cast<int64_t>(groups.size()) + cfg.groups_per_step - 1) / cfg.groups_per_step;
  } else if (cfg.steps == 0) {
    cfg.steps = json::parse(read_file(cfg.resume_dir + "/run.json")).value("steps", int64_t{0});
  }
  TrainingRun run("reward", cfg.out_dir, cfg.resume_dir, cfg.steps);
  if (run.resuming()) {
    cfg.model_path = run.saved<std::string>("model");
    cfg.data_path = run.saved<std::string>("data");
    cfg.lora_rank = run.saved<int>("lora_rank");
    cfg.lora_alpha = run.saved<float>("lora_alpha");
    cfg.lora_dropout = run.saved<float>("lora_dropout");
    cfg.lora_targets = run.saved<std::string>("lora_targets");
    cfg.data_fraction = run.saved<double>("data_fraction");
    cfg.label_noise = run.saved<double>("label_noise");
    cfg.groups_per_step = run.saved<int64_t>("groups_per_step");
    groups = training_groups(cfg);
  }
  if (cfg.model_path.empty()) throw std::invalid_argument("train: give --model SFT (chapter 03's model.bin)");
  Tokenizer tok = Tokenizer::load(cfg.tokenizer_dir);
  if (cfg.decay_steps == 0) cfg.decay_steps = cfg.steps;
  const std::vector<ComparisonGroup> val =
      cfg.val_data_path.empty() ? std::vector<ComparisonGroup>{} : groups_with_pairs(cfg.val_data_path);

  // The model: the SFT checkpoint (resuming: the run's own weights) and a fresh head.
  const bool resume_full = run.resuming() && !cfg.lora();
  LoadedModel loaded = load_model(resume_full ? run.resume_file("model.bin") : cfg.model_path, "", tok, cfg.tokenizer_dir);
  GPT& model = *loaded.model;
  const GPTConfig& m = model.config();
  ScalarHead head = run.resuming() ? ScalarHead::load(run.resume_file("head.bin"), m.C) : ScalarHead(m.C);
  if (!run.resuming()) head.init(cfg.seed);
  std::unique_ptr<LoRA> lora;
  Rng dropout_rng(cfg.seed ^ 0xD50Full);
  if (cfg.lora()) {
    LoRAConfig lc{.rank = cfg.lora_rank, .alpha = cfg.lora_alpha, .dropout = cfg.lora_dropout};
    lora = run.resuming() ? std::make_unique<LoRA>(LoRA::load(run.resume_file("adapter.bin"), m))
                          : std::make_unique<LoRA>(m, LoRAConfig::with_targets(lc, cfg.lora_targets));
    if (!run.resuming()) lora->init(cfg.seed);
    model.set_base_trainable(false);
    model.attach_lora(lora.get(), &dropout_rng);
  }
  Tensor& params = cfg.lora() ? lora->params() : model.params();
  Tensor& grads = cfg.lora() ? lora->grads() : model.grads();
  AdamW opt(params.numel(), cfg.lora() ? lora->optimizer_segments() : model.optimizer_segments(),
            {cfg.beta1, cfg.beta2, 1e-8f, cfg.weight_decay});
  AdamW head_opt(head.num_params(), head.optimizer_segments(), {cfg.beta1, cfg.beta2, 1e-8f, cfg.weight_decay});
  LrSchedule schedule{cfg.lr, cfg.min_lr, cfg.warmup, cfg.decay_steps};
  run.track_set(cfg.lora() ? "lora" : "gpt", opt, [&](const std::string& dir) {
    lora ? lora->save(dir + "/adapter.bin") : model.save(dir + "/model.bin");
  });
  run.track_set("head", head_opt, [&](const std::string& dir) { head.save(dir + "/head.bin"); });
  run.track_rng("dropout", dropout_rng);
  EpochOrder order(static_cast<int64_t>(groups.size()), cfg.seed);  // the groups, shuffled each epoch
  int64_t step = run.begin(config_json(cfg));
  if (run.resuming()) order.restore(run.data_position<EpochPosition>());

  int64_t pairs_total = 0;
  for (const auto& g : groups) pairs_total += static_cast<int64_t>(g.pairs.size());
  std::printf("model: %s from %s + a scalar head | %s | %zu groups, %lld pairs from %s; %lld steps of %lld groups\n",
              m.describe().c_str(), cfg.model_path.c_str(),
              cfg.lora() ? ("LoRA r=" + std::to_string(cfg.lora_rank)).c_str() : "full fine-tuning", groups.size(),
              static_cast<long long>(pairs_total), cfg.data_path.c_str(), static_cast<long long>(cfg.steps),
              static_cast<long long>(cfg.groups_per_step));

  auto set_eval = [&](bool eval) {
    if (lora) model.attach_lora(lora.get(), eval ? nullptr : &dropout_rng);
  };
  for (; step < cfg.steps; step++) {
    json record = {{"step", step}};
    if (run.due(cfg.eval_every, step) && !val.empty()) {
      set_eval(true);
      PairwiseResult v = evaluate_groups(model, head, tok, val);
      set_eval(false);
      run.record_val(record, v.loss);
      record["val_accuracy"] = v.accuracy();
    }
    run.step_started();
    double loss_sum = 0, correct = 0;
    int64_t step_pairs = 0, tokens = 0;
    for (int64_t g = 0; g < cfg.groups_per_step; g++) {
      const ComparisonGroup& group = groups[order.next()];
      GroupLoss gl = group_loss(model, head, tok, group.prompt, group.completions, group.pairs, &dropout_rng);
      loss_sum += gl.loss.item();
      for (const auto& [b, w] : group.pairs) correct += gl.scores[b] > gl.scores[w];
      step_pairs += gl.pairs;
      tokens += gl.tokens;
      // each group weighs the same in the step, whatever its number of pairs
      backward(gl.loss, Tensor::full(gl.loss.shape(), 1.0f / static_cast<float>(cfg.groups_per_step)));
    }
    const float grad_norm = clip_grad_norm(grads, cfg.grad_clip);
    clip_grad_norm(head.grads(), cfg.grad_clip);
    const float lr = schedule.at(step);
    opt.step(params, grads, lr);
    head_opt.step(head.params(), head.grads(), lr);
    cfg.lora() ? lora->zero_grad() : model.zero_grad();
    head.zero_grad();
    record["train_loss"] = loss_sum / static_cast<double>(cfg.groups_per_step);
    record["train_accuracy"] = correct / static_cast<double>(std::max<int64_t>(1, step_pairs));
    record["pairs"] = step_pairs;
    record["lr"] = lr;
    record["grad_norm"] = grad_norm;
    run.step_done(record, tokens);
    if (run.checkpoint_due(cfg.checkpoint_every, step)) run.save(step + 1, order.position());
  }

  // InstructGPT's normalisation: the SFT model's samples on the training prompts score 0 on average.
  set_eval(true);
  std::vector<std::pair<Chat, std::string>> samples;
  for (const auto& g : groups)
    for (const auto& c : g.completions) samples.push_back({g.prompt, c});
  head.norm = zero_mean_normalization(score_completions(model, head, tok, samples, 64, /*normalized=*/false));
  run.save(cfg.steps, order.position());
  save_model_folder(run.out_dir(), "reward", model, &head, lora.get());
  json extra = {{"groups", groups.size()}, {"pairs", pairs_total}, {"normalization_bias", head.norm.bias},
                {"pairs_per_s", static_cast<double>(pairs_total) / std::max(1e-9, run.ms_per_step() * 1e-3 * cfg.steps)}};
  if (!val.empty()) {
    PairwiseResult v = evaluate_groups(model, head, tok, val);
    extra["val_accuracy"] = v.accuracy();
    extra["val_pairs"] = v.pairs;
  }
  run.finish({"reward model: " + m.describe(), "−log σ(r_better − r_worse)",
              {}, {{"train", "train_loss"}, {"val", "val_loss"}}},
             extra);
  std::printf("done: %s, reward bias %.4f%s → %s\n", cfg.lora() ? "adapters + head" : "model + head", head.norm.bias,
              extra.contains("val_accuracy") ? (", held-out pairwise accuracy " + std::to_string(extra["val_accuracy"].get<double>())).c_str() : "",
              run.out_dir().c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// command line

int main(int argc, char** argv) {
  CLI::App app{"04_reward: comparisons of the assistant's samples → a reward model; its accuracy; best-of-N"};
  app.require_subcommand(1);

  DataConfig dc;
  auto* data = app.add_subcommand("data", "sample K replies per prompt from the SFT model and rank them");
  data->add_option("--model", dc.model_path, "the SFT model (chapter 03's model.bin)")->required();
  data->add_option("--tokenizer", dc.tokenizer_dir, "tokenizer folder")->required();
  data->add_option("--prompts", dc.prompts_path, "JSONL of {prompt, answer, task} (the world's ppo_prompts.jsonl)")->required();
  data->add_option("--out", dc.out_dir, "folder for rankings.jsonl, pairs.jsonl, summary.json")->required();
  data->add_option("--k", dc.sample.k, "replies per prompt (InstructGPT: 4–9)")->capture_default_str()->check(CLI::Range(2, 64));
  data->add_option("--temperature", dc.sample.temperature)->capture_default_str();
  data->add_option("--max-new-tokens", dc.sample.max_new_tokens)->capture_default_str();
  data->add_option("--max-per-task", dc.max_per_task, "prompts per task (0: all)")->capture_default_str();
  data->add_option("--label-noise", dc.label_noise, "flip each pair with this probability")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  data->add_option("--seed", dc.sample.seed)->capture_default_str();

  TrainConfig tc;
  auto* train = app.add_subcommand("train", "train a reward model on comparisons (or resume a run)");
  train->add_option("--model", tc.model_path, "the SFT model the reward model starts from");
  train->add_option("--tokenizer", tc.tokenizer_dir, "tokenizer folder")->required();
  train->add_option("--data", tc.data_path, "pairs.jsonl (TRL's forms) or rankings.jsonl");
  train->add_option("--val-data", tc.val_data_path, "held-out comparisons: validation loss and accuracy");
  add_run_options(train, tc);
  train->add_option("--groups-per-step", tc.groups_per_step, "prompts (groups of K replies) per optimizer step")->capture_default_str();
  train->add_option("--data-fraction", tc.data_fraction, "train on this first fraction of the groups")->capture_default_str();
  train->add_option("--label-noise", tc.label_noise, "flip each training pair with this probability")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  add_optimizer_options(train, tc);
  add_lora_options(train, tc);

  ScoreConfig sc;
  auto* score = app.add_subcommand("score", "print the reward of replies");
  score->add_option("--model", sc.model_path, "a reward model folder")->required();
  score->add_option("--tokenizer", sc.tokenizer_dir, "tokenizer folder")->required();
  auto* prompt_opt = score->add_option("--prompt", sc.prompt, "the user's message");
  score->add_option("--completion", sc.completion, "the assistant's reply")->needs(prompt_opt);
  score->add_option("--data", sc.data_path, "JSONL of {prompt, completion}: one reward per line")->excludes(prompt_opt);

  EvalConfig ec;
  auto* eval = app.add_subcommand("eval", "pairwise accuracy of a reward model on labelled comparisons");
  eval->add_option("--model", ec.model_path, "a reward model folder")->required();
  eval->add_option("--tokenizer", ec.tokenizer_dir, "tokenizer folder")->required();
  eval->add_option("--data", ec.data_path, "pairs.jsonl or rankings.jsonl")->required();
  eval->add_option("--out", ec.out_path, "the report as JSON");
  eval->add_option("--calibration", ec.calibration_svg, "predicted P(chosen) against observed frequency, as SVG");

  BestOfNConfig bc;
  auto* best = app.add_subcommand("best-of-n", "sample N replies, keep the one the reward model ranks first");
  best->add_option("--model", bc.reward_path, "a reward model folder")->required();
  best->add_option("--policy", bc.policy_path, "the SFT model that samples")->required();
  best->add_option("--tokenizer", bc.tokenizer_dir, "tokenizer folder")->required();
  best->add_option("--prompts", bc.prompts_path, "JSONL of {prompt, answer, task}")->required();
  best->add_option("--n", bc.n, "samples per prompt (best of 1, 2, 4, … up to N)")->capture_default_str()->check(CLI::Range(1, 256));
  best->add_option("--max-per-task", bc.max_per_task, "prompts per task (0: all)")->capture_default_str();
  best->add_option("--temperature", bc.temperature)->capture_default_str();
  best->add_option("--max-new-tokens", bc.max_new_tokens)->capture_default_str();
  best->add_option("--seed", bc.seed)->capture_default_str();
  best->add_option("--out", bc.out_path, "the report as JSON");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*data) return run_data(dc);
    if (*train) return run_train(tc);
    if (*score) return run_score(sc);
    if (*eval) return run_eval(ec);
    if (*best) return run_best_of_n(bc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reward: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
