// 03_sft — the talk's supervised fine-tuning stage: a document completer becomes an assistant.
//
// Nothing new in the algorithm: it is chapter 02's next-token loss, now on conversations rendered
// by the chat template, and weighted by its mask so that only what the assistant says (and the
// <|end|> that closes its turn) is trained. The prompts are context, never targets.
//
//   loss = Σ_i w_i · (−log p(target_i)) / Σ_i w_i       w_i = 1 on assistant tokens, else 0
//
// Two ways to fine-tune:
//   full   every weight of the base model moves (AdamW over all of them, as in pretraining);
//   LoRA   the base is frozen (optionally kept in bf16) and only small low-rank adapters
//          W + (α/r)·B·A on the chosen matrices train (common/nn/lora.h): ~1% of the parameters,
//          no gradient or AdamW state for the rest.
//
//   reads:   a base checkpoint (chapter 02's model.bin), its tokenizer, conversations JSONL
//            (default: the world's SFT split, generated in memory; --data FILE for your own)
//   writes:  RUN/model.bin (full) or RUN/adapter.bin (LoRA), RUN/state.bin (for --resume),
//            RUN/run.json, RUN/metrics.jsonl, RUN/summary.json, RUN/loss.svg, RUN/samples.txt
//            (the run folder's bookkeeping: common/train/training_run.h)
//
//   bin/sft train --model BASE.bin --tokenizer DIR [--data F.jsonl] --out RUN [--lora-rank 8 ...]
//   bin/sft merge --model BASE.bin --lora RUN/adapter.bin --out MERGED.bin
//   bin/sft chat  --model F [--lora F] --tokenizer DIR [--prompt TEXT] [--tools [--world DIR]]
//   bin/sft eval  --model F [--lora F] --tokenizer DIR --eval F.jsonl --mode chat|fewshot-doc|qa-fewshot
//                 (the evaluator is common/eval's)
//
// Departures from InstructGPT's SFT: conversations are packed several per row (conversations.h)
// rather than padded one per row, and the world's answers are exact, so accuracy is measured by a
// grader instead of by people.
#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/chat/chat_repl.h"
#include "03_sft/evaluate.h"
#include "03_sft/sft_data.h"
#include "common/autograd/tape.h"
#include "common/chat/chat_template.h"
#include "common/chat/conversations.h"
#include "common/generate/generate.h"
#include "common/io/metrics.h"
#include "common/nn/gpt.h"
#include "common/nn/load_model.h"
#include "common/nn/lora.h"
#include "common/optim/adamw.h"
#include "common/optim/optim_options.h"
#include "common/optim/schedule.h"
#include "common/train/run_options.h"
#include "common/train/training_run.h"
#include "common/world/render.h"
#include "common/world/world.h"

using namespace sog;
namespace fs = std::filesystem;
using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// configuration

struct SftConfig {
  std::string model_path, tokenizer_dir, data_path, val_data_path, out_dir, resume_dir;
  bool skip_bad_lines = false;
  uint64_t world_seed = 1337;  // the default data: the world of this seed's SFT split
  int64_t B = 8, T = 0;        // T = 0: the model's maxT
  int64_t steps = 300;
  float lr = 3e-4f, min_lr = 3e-5f;
  int64_t warmup = 20, decay_steps = 0;  // 0: = steps
  float beta1 = 0.9f, beta2 = 0.99f, weight_decay = 0.0f, grad_clip = 1.0f;
  int64_t eval_every = 50, eval_batches = 20, sample_count = 4, checkpoint_every = 100;
  uint64_t seed = 1337;
  // LoRA: rank 0 = full fine-tuning
  int lora_rank = 0;
  float lora_alpha = 16.0f, lora_dropout = 0.0f;
  std::string lora_targets = "qkv,attproj";
  bool bf16_base = false;
  // pretraining rows mixed into every step (sft_data.h); none without mix_data
  std::string mix_data;
  int64_t mix_rows = 2;
  float mix_weight = 1.0f;

  bool lora() const { return lora_rank > 0; }
};

static json config_json(const SftConfig& c) {
  return {{"model", c.model_path}, {"tokenizer", c.tokenizer_dir}, {"data", c.data_path},
          {"val_data", c.val_data_path}, {"world_seed", c.world_seed}, {"B", c.B}, {"T", c.T},
          {"steps", c.steps}, {"lr", c.lr}, {"min_lr", c.min_lr}, {"warmup", c.warmup},
          {"decay_steps", c.decay_steps}, {"beta1", c.beta1}, {"beta2", c.beta2},
          {"weight_decay", c.weight_decay}, {"grad_clip", c.grad_clip}, {"seed", c.seed},
          {"lora_rank", c.lora_rank}, {"lora_alpha", c.lora_alpha}, {"lora_dropout", c.lora_dropout},
          {"lora_targets", c.lora_targets}, {"bf16_base", c.bf16_base}, {"mix_data", c.mix_data},
          {"mix_rows", c.mix_data.empty() ? 0 : c.mix_rows}, {"mix_weight", c.mix_weight}};
}

// ---------------------------------------------------------------------------------------------
// evaluation during training: validation loss and a few greedy replies

static double validation_loss(GPT& model, const std::vector<std::vector<Tensor>>& batches) {
  NoGradGuard no_grad;
  double total = 0;
  for (const auto& b : batches) total += model.loss(b[0], b[1], b[2]).item();
  return batches.empty() ? NAN : total / static_cast<double>(batches.size());
}

static std::string greedy_replies(GPT& model, const Tokenizer& tok, const std::vector<Chat>& convs, int64_t count) {
  const ChatTokens t(tok);
  Sampler greedy({0.0f, 0, 1.0f});
  GenerateOptions gen;
  gen.max_new_tokens = std::min<int64_t>(96, model.config().max_T / 2);
  gen.stop_ids = {t.end, t.eot};
  std::string out;
  for (int64_t i = 0; i < count && i < static_cast<int64_t>(convs.size()); i++) {
    Chat prompt = convs[i];
    std::string gold = prompt.back().role == ChatRole::assistant ? prompt.back().content : "";
    std::vector<int32_t> reply = generate(model, render_for_completion(tok, prompt), gen, greedy);
    if (!reply.empty() && (reply.back() == t.end || reply.back() == t.eot)) reply.pop_back();
    for (const auto& m : prompt)
      if (m.role == ChatRole::user) out += "user:      " + m.content + "\n";
    out += "assistant: " + std::string(reply_text(tok.decode(reply))) + "\nreference: " + gold + "\n\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// train

static int run_train(SftConfig cfg) {
  TrainingRun run("sft", cfg.out_dir, cfg.resume_dir, cfg.steps);  // the run folder (common/train)
  if (run.resuming()) {  // the run's own model and adapter settings, whatever the flags say
    cfg.model_path = run.saved<std::string>("model");
    cfg.lora_rank = run.saved<int>("lora_rank");
    cfg.lora_alpha = run.saved<float>("lora_alpha");
    cfg.lora_dropout = run.saved<float>("lora_dropout");
    cfg.lora_targets = run.saved<std::string>("lora_targets");
    cfg.bf16_base = run.saved<bool>("bf16_base");
    if (run.saved_config().contains("mix_data")) {
      cfg.mix_data = run.saved<std::string>("mix_data");
      cfg.mix_rows = run.saved<int64_t>("mix_rows");
      cfg.mix_weight = run.saved<float>("mix_weight");
    }
  }
  if (cfg.model_path.empty()) throw std::invalid_argument("train: give --model BASE.bin (chapter 02's model.bin)");
  if (cfg.bf16_base && !cfg.lora()) throw std::invalid_argument("--bf16-base needs LoRA (--lora-rank R): a fully fine-tuned base is not frozen");
  Tokenizer tok = Tokenizer::load(cfg.tokenizer_dir);

  // The model: the base checkpoint (full: the run's own model.bin when resuming), and the adapters.
  LoadedModel loaded = load_model(run.resuming() && !cfg.lora() ? run.resume_file("model.bin") : cfg.model_path, "",
                                  tok, cfg.tokenizer_dir);
  GPT& model = *loaded.model;
  const GPTConfig& m = model.config();
  if (cfg.T == 0) cfg.T = m.max_T;
  if (cfg.T > m.max_T) throw std::invalid_argument("--seq-len " + std::to_string(cfg.T) + " exceeds maxT " + std::to_string(m.max_T));
  if (cfg.decay_steps == 0) cfg.decay_steps = cfg.steps;
  const int64_t base_params = model.num_params();

  std::unique_ptr<LoRA> lora;
  Rng dropout_rng(cfg.seed ^ 0xD50Full);
  if (cfg.lora()) {
    if (run.resuming()) {
      lora = std::make_unique<LoRA>(LoRA::load(run.resume_file("adapter.bin"), m));
    } else {
      LoRAConfig lc{.rank = cfg.lora_rank, .alpha = cfg.lora_alpha, .dropout = cfg.lora_dropout};
      lora = std::make_unique<LoRA>(m, LoRAConfig::with_targets(lc, cfg.lora_targets));
      lora->init(cfg.seed);
    }
    model.set_base_trainable(false);  // no gradient buffer, no AdamW state for the base
    if (cfg.bf16_base) model.freeze_base_bf16();
    model.attach_lora(lora.get(), &dropout_rng);
  }
  Tensor& params = cfg.lora() ? lora->params() : model.params();
  Tensor& grads = cfg.lora() ? lora->grads() : model.grads();
  const int64_t trainable = params.numel();
  auto zero_grad = [&] { cfg.lora() ? lora->zero_grad() : model.zero_grad(); };
  auto segments = cfg.lora() ? lora->optimizer_segments() : model.optimizer_segments();
  // The model used for eval and samples: the adapters without dropout.
  auto set_eval = [&](bool eval) {
    if (lora) model.attach_lora(lora.get(), eval ? nullptr : &dropout_rng);
  };

  SftData data = load_sft_data(cfg.data_path, cfg.val_data_path, cfg.world_seed, cfg.skip_bad_lines);
  SftBatcher batcher(tok, data.train, cfg.B, cfg.T, cfg.seed);
  std::unique_ptr<PretrainingMix> mix;
  if (!cfg.mix_data.empty())
    mix = std::make_unique<PretrainingMix>(cfg.mix_data, tok, cfg.tokenizer_dir, cfg.mix_rows, cfg.T,
                                           cfg.seed ^ 0x9E7Aull, cfg.mix_weight);
  auto val_batches = SftBatcher::validation_batches(tok, data.val, cfg.B, cfg.T, cfg.eval_batches);

  AdamW opt(trainable, segments, {cfg.beta1, cfg.beta2, 1e-8f, cfg.weight_decay});
  LrSchedule schedule{cfg.lr, cfg.min_lr, cfg.warmup, cfg.decay_steps};
  run.track_set(cfg.lora() ? "lora" : "gpt", opt, [&](const std::string& dir) {  // the weights that train
    lora ? lora->save(dir + "/adapter.bin") : model.save(dir + "/model.bin");
  });
  run.track_rng("dropout", dropout_rng);
  int64_t step = run.begin(config_json(cfg));  // a resumed run: its moments and RNG are back
  if (run.resuming()) restore_sft_data_position(run.data_position<json>(), batcher, mix.get());

  const std::string method = !lora ? "full fine-tuning"
                                    : "LoRA r=" + std::to_string(cfg.lora_rank) + " on " + lora->config().targets_string() +
                                          (cfg.bf16_base ? ", base frozen in bf16" : ", base frozen");
  const double trainable_percent = 100.0 * static_cast<double>(trainable) / static_cast<double>(base_params);
  std::printf("model: %s from %s | %s: %lld of %lld parameters trainable (%.2f%%)\n", m.describe().c_str(),
              cfg.model_path.c_str(), method.c_str(), static_cast<long long>(trainable),
              static_cast<long long>(base_params), trainable_percent);
  std::printf("data: %lld conversations from %s (%lld truncated to %lld tokens, %lld dropped, %lld bad lines skipped); "
              "validation: %zu from %s\n",
              static_cast<long long>(batcher.conversations()), data.train_name.c_str(),
              static_cast<long long>(batcher.truncated()), static_cast<long long>(cfg.T + 1),
              static_cast<long long>(batcher.dropped()), static_cast<long long>(data.skipped_lines), data.val.size(),
              data.val_name.c_str());
  if (mix) {
    std::printf("mixed in: %lld rows of %lld tokens of pretraining text per step from %s (%lld training tokens), "
                "weight %.3g\n",
                static_cast<long long>(mix->rows()), static_cast<long long>(cfg.T), cfg.mix_data.c_str(),
                static_cast<long long>(mix->train_tokens()), mix->weight());
  }

  auto samples = [&](int64_t at_step) {  // what the model says now, beside the reference
    set_eval(true);
    std::string text = greedy_replies(model, tok, data.val.empty() ? data.train : data.val, cfg.sample_count);
    set_eval(false);
    run.append_samples(at_step, text);
    return text;
  };

  Tensor x, y, w, mix_x, mix_y;
  for (; step < cfg.steps; step++) {
    json record = {{"step", step}};
    if (run.due(cfg.eval_every, step) && !val_batches.empty()) {
      set_eval(true);
      run.record_val(record, validation_loss(model, val_batches));
      set_eval(false);
      if (cfg.sample_count > 0 && step + 1 != cfg.steps) samples(step);
    }
    run.step_started();
    batcher.next(x, y, w);
    Tensor loss = model.loss(x, y, w);
    loss.backward();
    if (mix) {  // + weight · the pretraining rows' loss: their gradient adds to the conversations'
      mix->next(mix_x, mix_y);
      Tensor mix_loss = model.loss(mix_x, mix_y);
      backward(mix_loss, Tensor::full(mix_loss.shape(), mix->weight()));
      record["mix_loss"] = static_cast<double>(mix_loss.item());
    }
    const float grad_norm = clip_grad_norm(grads, cfg.grad_clip);
    const float lr = schedule.at(step);
    opt.step(params, grads, lr);
    zero_grad();
    record["train_loss"] = static_cast<double>(loss.item());
    record["lr"] = lr;
    record["grad_norm"] = grad_norm;
    record["trained_fraction"] = batcher.last_trained_fraction();
    run.step_done(record, (cfg.B + (mix ? mix->rows() : 0)) * cfg.T);  // a non-finite loss stops the run here; metrics line, status line
    if (run.checkpoint_due(cfg.checkpoint_every, step)) run.save(step + 1, sft_data_position(batcher.position(), mix.get()));
  }
  run.save(cfg.steps, sft_data_position(batcher.position(), mix.get()));
  if (cfg.sample_count > 0) {
    std::string replies = samples(cfg.steps);
    std::printf("greedy replies after step %lld:\n%s", static_cast<long long>(cfg.steps), replies.c_str());
  }

  const std::string weights_file = run.out_dir() + (cfg.lora() ? "/adapter.bin" : "/model.bin");
  const int64_t moment_bytes = 2 * trainable * static_cast<int64_t>(sizeof(float));  // AdamW's m and v
  json extra = {{"method", cfg.lora() ? "lora" : "full"}, {"base_parameters", base_params}, {"model", m.describe()},
                {"trainable_parameters", trainable}, {"trainable_percent", trainable_percent},
                {"weights_file", weights_file}, {"weights_file_bytes", fs::file_size(weights_file)},
                {"base_parameter_bytes", model.parameter_bytes()}, {"base_gradient_bytes", model.gradient_bytes()},
                {"optimizer_state_bytes", moment_bytes},
                // what training holds for the model: base weights (+ their gradients when full),
                // the adapters and their gradients (LoRA), AdamW's two moments of what trains
                {"training_state_bytes", static_cast<int64_t>(model.parameter_bytes() + model.gradient_bytes()) +
                                             (cfg.lora() ? moment_bytes : 0) + moment_bytes},
                {"conversations", batcher.conversations()}, {"truncated", batcher.truncated()},
                {"dropped", batcher.dropped()}, {"skipped_lines", data.skipped_lines}};
  if (cfg.lora()) extra["lora_targets"] = lora->config().targets_string();
  run.finish({std::string("SFT (") + (cfg.lora() ? "LoRA" : "full") + "): " + m.describe(),
              "loss on assistant tokens (nats/token)"},
             extra);
  std::printf("done: val loss %.4f (best %.4f), %lld trainable parameters (%.2f%%), %s is %.1f kB, peak RSS %.0f MB → %s\n",
              run.last_val_loss(), run.best_val_loss(), static_cast<long long>(trainable), trainable_percent,
              weights_file.c_str(), static_cast<double>(fs::file_size(weights_file)) / 1e3, peak_rss_mb(),
              run.out_dir().c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// merge: W ← W + (α/r)·B·A, then an ordinary llm.c checkpoint

static int run_merge(const std::string& model_path, const std::string& lora_path, const std::string& out) {
  GPT model = GPT::load(model_path);
  LoRA lora = LoRA::load(lora_path, model.config());
  lora.merge_into(model);
  model.save(out);
  std::printf("merged %s (LoRA r=%d on %s) into %s → %s\n", lora_path.c_str(), lora.config().rank,
              lora.config().targets_string().c_str(), model_path.c_str(), out.c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// command line

int main(int argc, char** argv) {
  CLI::App app{"03_sft: fine-tune a base model into an assistant (full or LoRA); merge; chat; evaluate"};
  app.require_subcommand(1);

  SftConfig tc;
  auto* train = app.add_subcommand("train", "supervised fine-tuning on conversations (or resume a run)");
  train->add_option("--model", tc.model_path, "the base checkpoint (chapter 02's model.bin)");
  train->add_option("--tokenizer", tc.tokenizer_dir, "tokenizer folder")->required();
  train->add_option("--data", tc.data_path, "conversations JSONL (default: the world's SFT train split)");
  train->add_option("--val-data", tc.val_data_path, "validation conversations (default: the world's sft_val, or the last 5% of --data)");
  train->add_option("--world-seed", tc.world_seed, "the world whose SFT split is the default data")->capture_default_str();
  train->add_flag("--skip-bad-lines", tc.skip_bad_lines, "skip (and count) malformed JSONL lines instead of stopping");
  add_run_options(train, tc);
  train->add_option("--batch-size,-B", tc.B, "rows per batch")->capture_default_str();
  train->add_option("--seq-len,-T", tc.T, "tokens per row (default: maxT)");
  add_optimizer_options(train, tc);
  train->add_option("--samples", tc.sample_count, "greedy replies to validation prompts, at every evaluation and at the end")->capture_default_str();
  add_lora_options(train, tc);
  train->add_flag("--bf16-base", tc.bf16_base, "keep the frozen base's matrices in bf16 (LoRA only)");
  auto* mix_flag = train->add_option("--mix-data", tc.mix_data,
                                     "a shard folder (chapter 01's) whose text is mixed into every step");
  train->add_option("--mix-rows", tc.mix_rows, "with --mix-data: rows of pretraining text per step")
      ->capture_default_str()
      ->needs(mix_flag);
  train->add_option("--mix-weight", tc.mix_weight, "with --mix-data: the pretraining loss's weight in the total")
      ->capture_default_str()
      ->needs(mix_flag);

  std::string model_path, lora_path, out_path;
  auto* merge = app.add_subcommand("merge", "fold a LoRA adapter into its base: a full llm.c checkpoint");
  merge->add_option("--model", model_path, "the base checkpoint the adapter was trained on")->required();
  merge->add_option("--lora", lora_path, "adapter.bin")->required();
  merge->add_option("--out", out_path, "the merged checkpoint")->required();

  ChatOptions co;
  auto* chat = app.add_subcommand("chat", "talk to a model through the chat template (REPL, or --prompt once)");
  add_chat_options(chat, co);

  std::string eval_model, eval_lora, eval_tokenizer;
  EvalCommand ec;
  ec.mode = "chat";
  ec.spec.prompt.shots = 3;
  ec.spec.max_new_tokens = 24;
  auto* eval = app.add_subcommand("eval", "greedy accuracy per task on a question set (the chapter's table)");
  eval->add_option("--model", eval_model, "model.bin")->required();
  eval->add_option("--lora", eval_lora, "an adapter to attach");
  eval->add_option("--tokenizer", eval_tokenizer, "tokenizer folder")->required();
  add_eval_flags(eval, ec, true);

  CLI11_PARSE(app, argc, argv);
  try {
    if (*train) return run_train(tc);
    if (*merge) return run_merge(model_path, lora_path, out_path);
    if (*chat) return run_chat(co);
    if (*eval) {
      run_eval(eval_model, eval_lora, eval_tokenizer, ec);
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sft: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
