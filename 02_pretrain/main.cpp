// 02_pretrain — the talk's pretraining stage: a GPT learns to predict the next token.
//
// The whole stage is one loop: take B rows of T+1 tokens from the shards, predict every next token,
// measure the cross-entropy, backpropagate, let AdamW nudge every weight. Nothing else. The loss
// starts at ln(V) (a uniform guess over the vocabulary) and falls as the model learns the
// statistics of the text — first letters, then words, then style.
//
//   reads:   chapter 01's shards (DIR/meta.json + DIR/<source>/{train,val}_*.bin) and its tokenizer
//   writes:  RUN/model.bin    the model, llm.c's GPT-2 checkpoint format (loads in llm.c too)
//            RUN/state.bin    AdamW moments, step, data position, RNG (for --resume)
//            RUN/run.json, RUN/metrics.jsonl, RUN/summary.json, RUN/loss.svg, RUN/samples.txt
//            (the run folder's bookkeeping: common/train/training_run.h)
//
//   bin/pretrain train  --data DIR --tokenizer DIR --out RUN [--preset small] [...]
//   bin/pretrain sample --model F --tokenizer DIR --prompt TEXT [--max-new-tokens N --temperature T ...]
//   bin/pretrain eval   --model F --data DIR
//   bin/pretrain fewshot --model F --tokenizer DIR --eval F.jsonl [--shots 3 ...]   (common/eval)
//   (each with --device cuda to run on the GPU: same files, bf16 activations, fp32 master weights)
//   bin/pretrain export --model F --tokenizer DIR --format hf --out DIR   a Hugging Face GPT-2 folder
//   bin/pretrain import --format hf --from DIR --out model.bin            and back (hf_commands.h)
//   bin/pretrain logits --model F --tokenizer DIR --text T                 the logits as JSON
//   bin/pretrain cpu    which CPU kernels run here (AVX-512, AVX2, NEON or plain C++; SOG_CPU=
//                       forces one: common/cpu/isa.h)
//   (the training step's timing, against PyTorch's: bench/train_step.cpp)
//
// Departures from GPT-2's recipe: none in the model; the optimizer and schedule are nanoGPT's
// (AdamW, linear warmup then cosine decay, clipping at 1.0), the batch is small (CPU).
#include <omp.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "02_pretrain/hf_commands.h"
#include "common/autograd/tape.h"
#include "common/cpu/isa.h"
#include "common/data/dataset.h"
#include "common/eval/eval_cli.h"
#include "common/generate/generate.h"
#include "common/generate/generate_cuda.h"
#include "common/generate/sampling_options.h"
#include "common/io/metrics.h"
#include "common/nn/gpt.h"
#include "common/nn/gpt_checkpoint.h"
#include "common/nn/gpt_cuda.h"
#include "common/nn/load_model.h"
#include "common/optim/adamw.h"
#include "common/optim/optim_options.h"
#include "common/optim/schedule.h"
#include "common/tokenizer/tokenizer.h"
#include "common/tokenizer/utf8.h"
#include "common/train/run_options.h"
#include "common/train/training_run.h"

using namespace sog;
using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// configuration

struct TrainConfig {
  std::string data_dir, tokenizer_dir, out_dir, resume_dir;
  std::string preset = "small";
  int L = 0, NH = 0, C = 0, max_T = 0;  // 0 = the preset's
  int64_t B = 12, T = 0;                // T = 0: the model's maxT
  int64_t total_batch_tokens = 0;       // 0: one micro-batch per step (B·T)
  int64_t steps = 2000;
  float lr = 1e-3f, min_lr = 1e-4f;
  int64_t warmup = 100, decay_steps = 0;  // 0: = steps
  float beta1 = 0.9f, beta2 = 0.99f, weight_decay = 0.1f, grad_clip = 1.0f, dropout = 0.0f;
  int64_t eval_every = 250, eval_batches = 20, sample_every = 500, checkpoint_every = 500;
  int64_t sample_tokens = 200;
  uint64_t seed = 1337;
  int threads = 0;
  std::string device = "cpu";  // cpu | cuda
};

static json config_json(const TrainConfig& c) {
  return {{"preset", c.preset}, {"B", c.B}, {"T", c.T}, {"total_batch_tokens", c.total_batch_tokens},
          {"steps", c.steps}, {"lr", c.lr}, {"min_lr", c.min_lr}, {"warmup", c.warmup},
          {"decay_steps", c.decay_steps}, {"beta1", c.beta1}, {"beta2", c.beta2},
          {"weight_decay", c.weight_decay}, {"grad_clip", c.grad_clip}, {"dropout", c.dropout},
          {"seed", c.seed}, {"data", c.data_dir}, {"tokenizer", c.tokenizer_dir}};
}

// `--device cuda` needs a CUDA build and a device; say which is missing before any work.
static bool use_cuda(const std::string& device) {
  if (device == "cpu") return false;
  require_cuda_device("--device cuda");
  return true;
}

// ---------------------------------------------------------------------------------------------
// evaluation and samples

static double evaluate(GPT& model, const std::vector<std::pair<Tensor, Tensor>>& batches) {
  NoGradGuard no_grad;
  double total = 0;
  for (const auto& [x, y] : batches) total += model.loss(x, y).item();
  return total / static_cast<double>(batches.size());
}

// The same on the GPU: the validation batches have the training batch's shape (the arena's).
static double evaluate(GPTCuda& model, const std::vector<std::pair<Tensor, Tensor>>& batches) {
  double total = 0;
  for (const auto& [x, y] : batches) total += model.eval_loss(x, y);
  return total / static_cast<double>(batches.size());
}

template <class Model>  // GPT or GPTCuda: generate() has an overload for each
static std::string sample_text(Model& model, const Tokenizer& tok, int64_t n_tokens, uint64_t seed) {
  Sampler sampler({1.0f, 0, 1.0f}, seed);
  GenerateOptions opt;
  opt.max_new_tokens = n_tokens;
  opt.stop_ids = {tok.eot_id()};
  std::vector<int32_t> ids = generate(model, {tok.eot_id()}, opt, sampler);
  if (!ids.empty() && ids.back() == tok.eot_id()) ids.pop_back();
  return tok.decode(ids);
}

// ---------------------------------------------------------------------------------------------
// train

static int run_train(TrainConfig cfg) {
  const bool on_gpu = use_cuda(cfg.device);
  TrainingRun run("pretrain", cfg.out_dir, cfg.resume_dir, cfg.steps);  // the run folder (common/train)
  Tokenizer tok = Tokenizer::load(cfg.tokenizer_dir);
  TokenDataset data = TokenDataset::load(cfg.data_dir);
  data.require_vocab(tok.n_vocab(), cfg.tokenizer_dir);

  // The model: from the preset (fresh) or from the run being resumed.
  GPTConfig mc = gpt_preset(cfg.preset, tok.n_vocab());
  if (cfg.L) mc.L = cfg.L;
  if (cfg.NH) mc.NH = cfg.NH;
  if (cfg.C) mc.C = cfg.C;
  if (cfg.max_T) mc.max_T = cfg.max_T;
  if (run.resuming()) mc = read_checkpoint_config(run.resume_file("model.bin"));  // the run's own shape
  mc.dropout = cfg.dropout;
  mc.validate();
  GPT model(mc);
  if (run.resuming()) {
    model.params().copy_from(load_checkpoint(run.resume_file("model.bin"), nullptr));
  } else {
    model.init_gpt2(cfg.seed);
  }
  const GPTConfig& m = model.config();
  if (cfg.T == 0) cfg.T = m.max_T;
  if (cfg.T > m.max_T) throw std::invalid_argument("--seq-len " + std::to_string(cfg.T) + " exceeds maxT " + std::to_string(m.max_T));
  const int64_t micro_tokens = cfg.B * cfg.T;
  const int64_t total_tokens = cfg.total_batch_tokens > 0 ? cfg.total_batch_tokens : micro_tokens;
  if (total_tokens % micro_tokens != 0) {
    throw std::invalid_argument("--total-batch-tokens " + std::to_string(total_tokens) + " must be a multiple of B·T = " +
                                std::to_string(micro_tokens));
  }
  const int64_t accum = total_tokens / micro_tokens;
  if (cfg.decay_steps == 0) cfg.decay_steps = cfg.steps;

  AdamW opt(model.num_params(), model.optimizer_segments(), {cfg.beta1, cfg.beta2, 1e-8f, cfg.weight_decay});
  LrSchedule schedule{cfg.lr, cfg.min_lr, cfg.warmup, cfg.decay_steps};
  BatchLoader loader(data, cfg.B, cfg.T, cfg.seed);
  Rng dropout_rng(cfg.seed ^ 0xD50Full);
  auto val_batches = validation_batches(data, cfg.B, cfg.T, cfg.eval_batches);

  // On the GPU the weights, gradients, moments and activations live on the device; the host model
  // and optimizer only carry them to and from the checkpoint files (the same files as on the CPU).
  std::unique_ptr<GPTCuda> gpu;
  run.track_set("gpt", opt, [&](const std::string& dir) {
    if (gpu) {  // the device's weights and moments come home first
      gpu->download(model);
      gpu->download_optimizer(opt);
    }
    model.save(dir + "/model.bin");
  });
  run.track_rng("dropout", dropout_rng);
  int64_t step = run.begin(config_json(cfg));  // a resumed run: its moments and RNG are back
  if (run.resuming()) loader.restore(run.data_position<LoaderState>());
  if (on_gpu) {
    gpu = std::make_unique<GPTCuda>(model, cfg.B, cfg.T);
    gpu->upload_optimizer(opt);  // zero moments, or the resumed run's
    std::printf("device: %s, %.2f GiB for parameters, gradients, moments and activations\n",
                gpu->device_name().c_str(), static_cast<double>(gpu->device_bytes()) / (1 << 30));
  } else {
    std::printf("device: cpu, %s kernels, %d threads (%s)\n", isa_name(active_isa()), omp_get_max_threads(),
                cpu_model_name().c_str());
  }
  std::printf("model: %s, %lld parameters | batch %lld×%lld×%lld = %lld tokens/step | %lld steps\n",
              m.describe().c_str(), static_cast<long long>(model.num_params()), static_cast<long long>(accum),
              static_cast<long long>(cfg.B), static_cast<long long>(cfg.T), static_cast<long long>(total_tokens),
              static_cast<long long>(cfg.steps));
  std::printf("data: %lld training tokens, %lld validation tokens in %zu source(s); loss at init should be ≈ ln(%d) = %.3f\n",
              static_cast<long long>(data.train_tokens()), static_cast<long long>(data.val_tokens()),
              data.sources.size(), m.V, std::log(static_cast<double>(m.V)));

  Tensor x, y;
  Tensor dloss = Tensor::full({1}, 1.0f / static_cast<float>(accum));
  for (; step < cfg.steps; step++) {
    json record = {{"step", step}};
    if (run.due(cfg.eval_every, step)) {
      run.record_val(record, gpu ? evaluate(*gpu, val_batches) : evaluate(model, val_batches));
    }
    if (run.due(cfg.sample_every, step)) {
      run.append_samples(step, (gpu ? sample_text(*gpu, tok, cfg.sample_tokens, cfg.seed + step)
                                    : sample_text(model, tok, cfg.sample_tokens, cfg.seed + step)) + "\n\n");
    }

    run.step_started();
    double train_loss = 0;
    float grad_norm = 0, lr = 0;
    if (gpu) {  // the same step on the device; the host waits once, for the loss and ‖g‖
      gpu->zero_grad();
      for (int64_t micro = 0; micro < accum; micro++) {
        loader.next(x, y);
        gpu->forward(x, y, Tensor(), 1.0f / static_cast<float>(accum));  // mean over the micro-batches
        gpu->backward();
      }
      lr = schedule.at(step);
      GPTCuda::StepResult r = gpu->adamw_step(lr, opt.config(), cfg.grad_clip);
      train_loss = r.loss;
      grad_norm = r.grad_norm;
    } else {
      for (int64_t micro = 0; micro < accum; micro++) {
        loader.next(x, y);
        Tensor loss = model.loss(x, y, Tensor(), cfg.dropout > 0 ? &dropout_rng : nullptr);
        train_loss += loss.item() / static_cast<double>(accum);
        backward(loss, dloss);  // mean over the micro-batches
      }
      grad_norm = clip_grad_norm(model.grads(), cfg.grad_clip);
      lr = schedule.at(step);
      opt.step(model.params(), model.grads(), lr);
      model.zero_grad();
    }
    record["train_loss"] = train_loss;
    record["lr"] = lr;
    record["grad_norm"] = grad_norm;
    run.step_done(record, total_tokens);  // a non-finite loss stops the run here; metrics line, status line
    if (run.checkpoint_due(cfg.checkpoint_every, step)) run.save(step + 1, loader.state());
  }
  run.save(cfg.steps, loader.state());

  json extra = {{"parameters", model.num_params()}, {"model", m.describe()}};
  if (gpu) extra["device"] = gpu->device_name();
  run.finish({"pretraining: " + m.describe(), "loss (nats/token)", {{"ln V (uniform guess)", std::log(static_cast<double>(m.V))}}},
             extra);
  std::printf("done: val loss %.4f (best %.4f), %.0f tokens/s → %s\n", run.last_val_loss(), run.best_val_loss(),
              run.tokens_per_s(), run.out_dir().c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// sample and eval

static int run_sample(const std::string& model_path, const std::string& tokenizer_dir, const std::string& prompt,
                      int64_t max_new, SamplingConfig sc, uint64_t seed, const std::string& device) {
  const bool on_gpu = use_cuda(device);
  Tokenizer tok = Tokenizer::load(tokenizer_dir);
  LoadedModel loaded = load_model(model_path, "", tok, tokenizer_dir);
  GPT& model = *loaded.model;
  std::vector<int32_t> ids = prompt.empty() ? std::vector<int32_t>{tok.eot_id()} : tok.encode(prompt, AllowedSpecial::all);
  Sampler sampler(sc, seed);
  GenerateOptions opt;
  opt.max_new_tokens = max_new;
  opt.stop_ids = {tok.eot_id()};
  std::cout << prompt << std::flush;
  Utf8Stream text;  // prints whole characters only: one may span several tokens
  auto print_token = [&](int32_t id) {
    if (id != tok.eot_id()) std::cout << text.push(tok.decode_bytes(std::span<const int32_t>(&id, 1))) << std::flush;
  };
  if (on_gpu) {
    GPTCuda gpu(model, 1, 1);  // decoding uses its own cache buffers: the smallest training arena
    generate(gpu, ids, opt, sampler, print_token);
  } else {
    generate(model, ids, opt, sampler, print_token);
  }
  std::cout << text.finish() << std::endl;
  return 0;
}

static int run_eval(const std::string& model_path, const std::string& data_dir, int64_t B, int64_t T,
                    const std::string& device) {
  const bool on_gpu = use_cuda(device);
  GPT model = GPT::load(model_path);
  TokenDataset data = TokenDataset::load(data_dir);
  if (T == 0) T = model.config().max_T;
  auto batches = validation_batches(data, B, T, 1 << 30);
  double loss = 0;
  if (on_gpu) {
    GPTCuda gpu(model, B, T);
    loss = evaluate(gpu, batches);
  } else {
    loss = evaluate(model, batches);
  }
  std::printf("val loss %.4f over %zu batches of %lld×%lld tokens (%s)\n", loss, batches.size(),
              static_cast<long long>(B), static_cast<long long>(T), data_dir.c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// command line

int main(int argc, char** argv) {
  CLI::App app{"02_pretrain: train a GPT on token shards; sample from it; evaluate it; move it to and from Hugging Face"};
  app.require_subcommand(1);

  TrainConfig tc;
  auto* train = app.add_subcommand("train", "pretrain a GPT (or resume a run)");
  train->add_option("--data", tc.data_dir, "shard folder written by `tokenizer shard`")->required();
  train->add_option("--tokenizer", tc.tokenizer_dir, "tokenizer folder")->required();
  add_run_options(train, tc);
  train->add_option("--preset", tc.preset, "nano | char-baby | small | gpt2")->capture_default_str();
  train->add_option("--layers", tc.L, "override the preset's L");
  train->add_option("--heads", tc.NH, "override the preset's NH");
  train->add_option("--channels", tc.C, "override the preset's C");
  train->add_option("--max-seq-len", tc.max_T, "override the preset's maxT");
  train->add_option("--batch-size,-B", tc.B, "rows per micro-batch")->capture_default_str();
  train->add_option("--seq-len,-T", tc.T, "tokens per row (default: maxT)");
  train->add_option("--total-batch-tokens", tc.total_batch_tokens, "tokens per optimizer step (gradient accumulation)");
  add_optimizer_options(train, tc);
  train->add_option("--dropout", tc.dropout)->capture_default_str();
  train->add_option("--sample-every", tc.sample_every, "0: never")->capture_default_str();
  train->add_option("--sample-tokens", tc.sample_tokens)->capture_default_str();
  train->add_option("--device", tc.device, "cpu | cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();

  std::string model_path, tokenizer_dir, prompt, data_dir;
  int64_t max_new = 256, eval_B = 8, eval_T = 0;
  SamplingConfig sc;
  uint64_t seed = 1337;
  std::string device = "cpu";  // sample, eval
  auto* sample = app.add_subcommand("sample", "generate text from a checkpoint (KV cache)");
  sample->add_option("--model", model_path, "model.bin")->required();
  sample->add_option("--tokenizer", tokenizer_dir, "tokenizer folder")->required();
  sample->add_option("--prompt", prompt, "text to continue (default: a new document)");
  sample->add_option("--max-new-tokens", max_new)->capture_default_str();
  add_sampling_options(sample, sc, seed);
  sample->add_option("--device", device, "cpu | cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();

  auto* eval = app.add_subcommand("eval", "mean loss of a checkpoint on a shard folder's validation split");
  eval->add_option("--model", model_path, "model.bin")->required();
  eval->add_option("--data", data_dir, "shard folder")->required();
  eval->add_option("--batch-size,-B", eval_B)->capture_default_str();
  eval->add_option("--seq-len,-T", eval_T, "default: the model's maxT");
  eval->add_option("--device", device, "cpu | cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();

  // fewshot: the evaluator (common/eval) on a Q/A sheet, K solved examples (0: zero-shot)
  EvalCommand fs;
  fs.spec.prompt.format = PromptFormat::qa_fewshot;
  fs.spec.prompt.shots = 3;
  fs.spec.max_new_tokens = 16;
  auto* fewshot = app.add_subcommand("fewshot", "greedy accuracy on a question set, K-shot Q:/A: prompts");
  fewshot->add_option("--model", model_path, "model.bin")->required();
  fewshot->add_option("--tokenizer", tokenizer_dir, "tokenizer folder")->required();
  add_eval_flags(fewshot, fs, false);

  HfCommands hf;  // export, import, logits
  add_hf_commands(app, hf);

  auto* cpu = app.add_subcommand("cpu", "the CPU kernels this machine runs and the one it picks (SOG_CPU forces one)");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*cpu) {  // for bug reports and scripts: {"active": "avx2", "runnable": ["generic", "avx2"], "cpu": "…"}
      std::printf("%s\n", cpu_isas_json().dump().c_str());
      return 0;
    }
    if (*train) return run_train(tc);
    if (run_hf_commands(hf)) return 0;
    if (*sample) return run_sample(model_path, tokenizer_dir, prompt, max_new, sc, seed, device);
    if (*eval) return run_eval(model_path, data_dir, eval_B, eval_T, device);
    if (*fewshot) {
      Tokenizer tok = Tokenizer::load(tokenizer_dir);
      LoadedModel loaded = load_model(model_path, "", tok, tokenizer_dir);
      run_eval_command(fs, *loaded.model, tok, {{"model", model_path}, {"eval", fs.eval_file}});
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pretrain: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
