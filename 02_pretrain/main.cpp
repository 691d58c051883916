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
//            RUN/metrics.jsonl, RUN/summary.json, RUN/loss.svg, RUN/samples.txt
//
//   bin/pretrain train  --data DIR --tokenizer DIR --out RUN [--preset small] [...]
//   bin/pretrain sample --model F --tokenizer DIR --prompt TEXT [--max-new-tokens N --temperature T ...]
//   bin/pretrain eval   --model F --data DIR
//   bin/pretrain fewshot --model F --tokenizer DIR --eval F.jsonl [--shots 3 ...]   (common/eval)
//   (each with --device cuda to run on the GPU: same files, bf16 activations, fp32 master weights)
//   bin/pretrain cpu    which CPU kernels run here (AVX-512, AVX2, NEON or plain C++; SOG_CPU=
//                       forces one: common/cpu/isa.h)
//
// Departures from GPT-2's recipe: none in the model; the optimizer and schedule are nanoGPT's
// (AdamW, linear warmup then cosine decay, clipping at 1.0), the batch is small (CPU).
#include <omp.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/autograd/tape.h"
#include "common/cpu/isa.h"
#include "common/data/dataset.h"
#include "common/eval/eval_cli.h"
#include "common/generate/generate.h"
#include "common/generate/generate_cuda.h"
#include "common/generate/sampling_options.h"
#include "common/io/metrics.h"
#include "common/io/progress.h"
#include "common/io/svg_plot.h"
#include "common/nn/gpt.h"
#include "common/nn/gpt_checkpoint.h"
#include "common/nn/gpt_cuda.h"
#include "common/nn/load_model.h"
#include "common/optim/adamw.h"
#include "common/optim/optim_options.h"
#include "common/optim/schedule.h"
#include "common/tokenizer/tokenizer.h"
#include "common/tokenizer/utf8.h"
#include "common/io/train_state.h"

using namespace sog;
namespace fs = std::filesystem;
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
  const bool resuming = !cfg.resume_dir.empty();
  const bool on_gpu = use_cuda(cfg.device);
  if (resuming && cfg.out_dir.empty()) cfg.out_dir = cfg.resume_dir;
  fs::create_directories(cfg.out_dir);
  Tokenizer tok = Tokenizer::load(cfg.tokenizer_dir);
  TokenDataset data = TokenDataset::load(cfg.data_dir);
  if (data.n_vocab != tok.n_vocab()) {
    throw std::runtime_error("the shards in " + cfg.data_dir + " were written with n_vocab " +
                             std::to_string(data.n_vocab) + " but the tokenizer in " + cfg.tokenizer_dir + " has " +
                             std::to_string(tok.n_vocab()) + " (shard with the same tokenizer)");
  }

  // The model: from the preset (fresh) or from the run being resumed.
  GPTConfig mc = gpt_preset(cfg.preset, tok.n_vocab());
  if (cfg.L) mc.L = cfg.L;
  if (cfg.NH) mc.NH = cfg.NH;
  if (cfg.C) mc.C = cfg.C;
  if (cfg.max_T) mc.max_T = cfg.max_T;
  mc.dropout = cfg.dropout;
  if (resuming) {  // the run's own model shape, whatever the flags say
    mc = read_checkpoint_config(cfg.resume_dir + "/model.bin");
    mc.dropout = cfg.dropout;
  }
  mc.validate();
  GPT model(mc);
  if (resuming) {
    model.params().copy_from(load_checkpoint(cfg.resume_dir + "/model.bin", nullptr));
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

  int64_t step = 0;
  double best_val = INFINITY, last_val = NAN;
  if (resuming) {
    TrainState st = load_train_state(cfg.resume_dir + "/state.bin");
    st.restore_set("gpt", opt);
    st.restore_rng("dropout", dropout_rng);
    loader.restore(st.data_position<LoaderState>());
    step = st.step;
    best_val = st.best_val_loss;
    std::printf("resuming %s at step %lld of %lld\n", cfg.resume_dir.c_str(), static_cast<long long>(step),
                static_cast<long long>(cfg.steps));
  }
  // On the GPU the weights, gradients, moments and activations live on the device; the host model
  // and optimizer only carry them to and from the checkpoint files (the same files as on the CPU).
  std::unique_ptr<GPTCuda> gpu;
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

  MetricsLog log(cfg.out_dir + "/metrics.jsonl", resuming);
  std::ofstream samples(cfg.out_dir + "/samples.txt", resuming ? std::ios::app : std::ios::trunc);
  auto save_all = [&](int64_t at_step) {
    if (gpu) {  // the device's weights and moments come home first
      gpu->download(model);
      gpu->download_optimizer(opt);
    }
    model.save(cfg.out_dir + "/model.bin");
    TrainState st{.step = at_step, .best_val_loss = best_val, .data = loader.state()};
    st.add_set("gpt", opt);
    st.add_rng("dropout", dropout_rng);
    save_train_state(cfg.out_dir + "/state.bin", st);
  };

  const int64_t start_step = step;
  Progress bar(cfg.steps - start_step, "pretrain");
  Tensor x, y;
  Tensor dloss = Tensor::full({1}, 1.0f / static_cast<float>(accum));
  double tokens_per_s = 0, ms_per_step = 0, last_train = NAN;
  const double started = bar.elapsed_s();
  for (; step < cfg.steps; step++) {
    const bool last = step + 1 == cfg.steps;
    json record = {{"step", step}};
    if (step % cfg.eval_every == 0 || last) {
      last_val = gpu ? evaluate(*gpu, val_batches) : evaluate(model, val_batches);
      require_finite(last_val, "validation loss", step);
      best_val = std::min(best_val, last_val);
      record["val_loss"] = last_val;
    }
    if (cfg.sample_every > 0 && (step % cfg.sample_every == 0 || last)) {
      samples << "==== step " << step << " ====\n"
              << (gpu ? sample_text(*gpu, tok, cfg.sample_tokens, cfg.seed + step)
                      : sample_text(model, tok, cfg.sample_tokens, cfg.seed + step))
              << "\n\n";
      samples.flush();
    }

    auto t0 = std::chrono::steady_clock::now();
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
    // A diverged run stops here, before NaN reaches the log or a checkpoint (common/io/metrics.h).
    require_finite(train_loss, "training loss", step);
    require_finite(grad_norm, "gradient norm", step);
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ms_per_step = dt * 1e3;
    tokens_per_s = static_cast<double>(total_tokens) / dt;
    last_train = train_loss;

    record["train_loss"] = train_loss;
    record["lr"] = lr;
    record["grad_norm"] = grad_norm;
    record["tokens_per_s"] = tokens_per_s;
    record["ms_per_step"] = ms_per_step;
    log.write(record);
    char status[160];
    std::snprintf(status, sizeof(status), "loss %.4f | val %.4f | %.0f tok/s | %.1f ms/step", train_loss, last_val,
                  tokens_per_s, ms_per_step);
    bar.update(step + 1 - start_step, status);
    if (cfg.checkpoint_every > 0 && (step + 1) % cfg.checkpoint_every == 0 && !last) save_all(step + 1);
  }
  bar.finish();
  save_all(cfg.steps);

  // summary.json and loss.svg from the whole metrics log (a resumed run included)
  std::vector<double> ts, tl, vs, vl;
  for (const auto& r : read_jsonl(cfg.out_dir + "/metrics.jsonl")) {
    if (r.contains("train_loss")) ts.push_back(r["step"].get<double>()), tl.push_back(r["train_loss"].get<double>());
    if (r.contains("val_loss")) vs.push_back(r["step"].get<double>()), vl.push_back(r["val_loss"].get<double>());
  }
  SvgPlot plot("pretraining: " + m.describe(), "step", "loss (nats/token)");
  plot.add_series("train", ts, tl);
  plot.add_series("val", vs, vl);
  plot.add_hline("ln V (uniform guess)", std::log(static_cast<double>(m.V)));
  plot.save(cfg.out_dir + "/loss.svg");
  json summary = {{"final_val_loss", last_val}, {"best_val_loss", best_val}, {"final_train_loss", last_train},
                  {"tokens_per_s", tokens_per_s}, {"ms_per_step", ms_per_step},
                  {"parameters", model.num_params()}, {"model", m.describe()},
                  {"wall_time_s", bar.elapsed_s() - started}, {"config", config_json(cfg)}};
  summary.update(cpu_json());  // cpu_isa, cpu, threads: which kernels ran (common/cpu/isa.h)
  if (gpu) summary["device"] = gpu->device_name();
  write_json_atomic(cfg.out_dir + "/summary.json", summary);
  std::printf("done: val loss %.4f (best %.4f), %.0f tokens/s → %s\n", last_val, best_val, tokens_per_s,
              cfg.out_dir.c_str());
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
// bench: the training step and the sampler on random data, as bench/pytorch_train_step.py does

// FLOPs of one training step per token: 6 per weight of the matmuls (forward 2, backward 4), with
// the tied LM head counted as a Vp×C matmul, plus the causal attention: 6·L·T·C (q·k and att·v,
// forward and backward, over the T/2 earlier positions on average).
static double train_flops_per_token(const GPTConfig& c, int64_t T) {
  const double matmul_params = 12.0 * c.L * c.C * c.C + static_cast<double>(c.Vp) * c.C;
  return 6.0 * matmul_params + 6.0 * c.L * static_cast<double>(T) * c.C;
}

static int run_bench(const std::string& preset, int V, int64_t B, int64_t T, int steps, double peak_gflops) {
  GPTConfig mc = gpt_preset(preset, V);
  GPT model(mc);
  model.init_gpt2(1);
  AdamW opt(model.num_params(), model.optimizer_segments(), {0.9f, 0.95f, 1e-8f, 0.1f});
  Rng rng(2);
  std::vector<int32_t> xs(B * T), ys(B * T);
  for (auto* v : {&xs, &ys})
    for (auto& id : *v) id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(mc.V)));
  Tensor x = Tensor::from_ids({B, T}, xs), y = Tensor::from_ids({B, T}, ys);
  std::vector<double> times;
  for (int i = 0; i < steps + 1; i++) {  // the first step warms the caches and the allocator
    auto t0 = std::chrono::steady_clock::now();
    Tensor loss = model.loss(x, y);
    loss.backward();
    clip_grad_norm(model.grads(), 1.0f);
    opt.step(model.params(), model.grads(), 1e-4f);
    model.zero_grad();
    if (i > 0) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double best = times.front(), median = times[times.size() / 2];
  const double tokens_per_s = static_cast<double>(B * T) / best;
  const double mfu = train_flops_per_token(mc, T) * tokens_per_s / (peak_gflops * 1e9);
  // Sampling: one sequence, prefill 1 token then 1 token at a time up to T (KV cache).
  Sampler sampler({1.0f, 0, 1.0f}, 3);
  GenerateOptions gen;
  gen.max_new_tokens = std::min<int64_t>(mc.max_T - 1, 128);
  auto g0 = std::chrono::steady_clock::now();
  auto out = generate(model, {0}, gen, sampler);
  const double sample_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double param_mb = static_cast<double>(model.num_params()) * 4 / 1e6;
  json r = {{"peer", "stateofgpt"}, {"model", preset}, {"B", B}, {"T", T}, {"threads", omp_get_max_threads()},
            {"cpu_isa", isa_name(active_isa())}, {"cpu", cpu_model_name()},
            {"parameters", model.num_params()}, {"ms_per_step", best * 1e3}, {"median_ms_per_step", median * 1e3},
            {"tokens_per_s", tokens_per_s}, {"mfu", mfu}, {"peak_gflops_assumed", peak_gflops},
            {"sample_tokens_per_s", static_cast<double>(out.size()) / sample_s},
            {"peak_rss_mb", static_cast<double>(usage.ru_maxrss) / 1024.0},
            {"params_grads_adam_mb", 4 * param_mb}};
  std::printf("%s\n", r.dump().c_str());
  return 0;
}

// The same measurement on the GPU (common/nn/gpt_cuda.h): one whole step — forward, backward, the
// norm read back, AdamW — timed on the host after the device has finished it. MFU is against the
// bf16 dense peak (--peak-gflops; 790 TFLOP/s, an H200's, unless given).
static int run_bench_cuda(const std::string& preset, int V, int64_t B, int64_t T, int steps, double peak_gflops) {
  GPTConfig mc = gpt_preset(preset, V);
  GPT model(mc);
  model.init_gpt2(1);
  GPTCuda gpu(model, B, T);
  const AdamWConfig adamw{0.9f, 0.95f, 1e-8f, 0.1f};
  Rng rng(2);
  std::vector<int32_t> xs(B * T), ys(B * T);
  for (auto* v : {&xs, &ys})
    for (auto& id : *v) id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(mc.V)));
  Tensor x = Tensor::from_ids({B, T}, xs), y = Tensor::from_ids({B, T}, ys);
  std::vector<double> times;
  std::vector<float> losses;
  for (int i = 0; i < steps + 1; i++) {  // the first step loads the kernels
    auto t0 = std::chrono::steady_clock::now();
    gpu.zero_grad();
    gpu.forward(x, y);
    gpu.backward();
    losses.push_back(gpu.adamw_step(1e-4f, adamw, 1.0f).loss);
    gpu.synchronize();  // the update too: each time is a whole step
    if (i > 0) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double best = times.front(), median = times[times.size() / 2];
  const double tokens_per_s = static_cast<double>(B * T) / best;
  const double flops_per_s = train_flops_per_token(mc, T) * tokens_per_s;
  Sampler sampler({1.0f, 0, 1.0f}, 3);
  GenerateOptions gen;
  gen.max_new_tokens = std::min<int64_t>(mc.max_T - 1, 128);
  auto g0 = std::chrono::steady_clock::now();
  auto out = generate(gpu, {0}, gen, sampler);
  const double sample_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
  json r = {{"peer", "stateofgpt"}, {"device", "cuda"}, {"gpu", gpu.device_name()}, {"model", preset},
            {"B", B}, {"T", T}, {"parameters", model.num_params()}, {"ms_per_step", best * 1e3},
            {"median_ms_per_step", median * 1e3}, {"tokens_per_s", tokens_per_s}, {"tflops", flops_per_s / 1e12},
            {"mfu", flops_per_s / (peak_gflops * 1e9)}, {"peak_gflops_assumed", peak_gflops},
            {"first_loss", losses.front()}, {"last_loss", losses.back()},  // ≈ ln V, then falling (one batch)
            {"sample_tokens_per_s", static_cast<double>(out.size()) / sample_s},
            {"device_memory_mb", static_cast<double>(gpu.device_bytes()) / 1e6}};
  std::printf("%s\n", r.dump().c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// command line

int main(int argc, char** argv) {
  CLI::App app{"02_pretrain: train a GPT on token shards; sample from it; evaluate it"};
  app.require_subcommand(1);

  TrainConfig tc;
  auto* train = app.add_subcommand("train", "pretrain a GPT (or resume a run)");
  train->add_option("--data", tc.data_dir, "shard folder written by `tokenizer shard`")->required();
  train->add_option("--tokenizer", tc.tokenizer_dir, "tokenizer folder")->required();
  train->add_option("--out", tc.out_dir, "run folder");
  train->add_option("--resume", tc.resume_dir, "continue the run in this folder exactly where it stopped");
  train->add_option("--preset", tc.preset, "nano | char-baby | small | gpt2")->capture_default_str();
  train->add_option("--layers", tc.L, "override the preset's L");
  train->add_option("--heads", tc.NH, "override the preset's NH");
  train->add_option("--channels", tc.C, "override the preset's C");
  train->add_option("--max-seq-len", tc.max_T, "override the preset's maxT");
  train->add_option("--batch-size,-B", tc.B, "rows per micro-batch")->capture_default_str();
  train->add_option("--seq-len,-T", tc.T, "tokens per row (default: maxT)");
  train->add_option("--total-batch-tokens", tc.total_batch_tokens, "tokens per optimizer step (gradient accumulation)");
  train->add_option("--steps", tc.steps, "optimizer steps")->capture_default_str();
  add_optimizer_options(train, tc);
  train->add_option("--dropout", tc.dropout)->capture_default_str();
  train->add_option("--eval-every", tc.eval_every)->capture_default_str();
  train->add_option("--eval-batches", tc.eval_batches)->capture_default_str();
  train->add_option("--sample-every", tc.sample_every, "0: never")->capture_default_str();
  train->add_option("--sample-tokens", tc.sample_tokens)->capture_default_str();
  train->add_option("--checkpoint-every", tc.checkpoint_every, "0: only at the end")->capture_default_str();
  train->add_option("--seed", tc.seed)->capture_default_str();
  train->add_option("--device", tc.device, "cpu | cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();

  std::string model_path, tokenizer_dir, prompt, data_dir;
  int64_t max_new = 256, eval_B = 8, eval_T = 0;
  SamplingConfig sc;
  uint64_t seed = 1337;
  std::string device = "cpu";  // sample, eval, bench
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

  std::string bench_preset = "gpt2";
  int bench_V = 50257, bench_steps = 5;
  int64_t bench_B = 4, bench_T = 64;
  double peak_gflops = 440.0;
  auto* bench = app.add_subcommand("bench", "time training steps and sampling on random data (JSON line)");
  bench->add_option("--preset", bench_preset)->capture_default_str();
  bench->add_option("--vocab", bench_V, "V (GPT-2: 50257; bytes: 264)")->capture_default_str();
  bench->add_option("--batch-size,-B", bench_B)->capture_default_str();
  bench->add_option("--seq-len,-T", bench_T)->capture_default_str();
  bench->add_option("--steps", bench_steps, "timed steps (after one warm-up step)")->capture_default_str();
  CLI::Option* peak_option =
      bench->add_option("--peak-gflops", peak_gflops, "the machine's peak for MFU: fp32 on the CPU; bf16 on the GPU "
                                                      "(default there 790000, an H200)")->capture_default_str();
  bench->add_option("--device", device, "cpu | cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();

  // fewshot: the evaluator (common/eval) on a Q/A sheet, K solved examples (0: zero-shot)
  EvalCommand fs;
  fs.spec.prompt.format = PromptFormat::qa_fewshot;
  fs.spec.prompt.shots = 3;
  fs.spec.max_new_tokens = 16;
  auto* fewshot = app.add_subcommand("fewshot", "greedy accuracy on a question set, K-shot Q:/A: prompts");
  fewshot->add_option("--model", model_path, "model.bin")->required();
  fewshot->add_option("--tokenizer", tokenizer_dir, "tokenizer folder")->required();
  add_eval_flags(fewshot, fs, false);

  auto* cpu = app.add_subcommand("cpu", "the CPU kernels this machine runs and the one it picks (SOG_CPU forces one)");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*cpu) {  // for bug reports and scripts: {"active": "avx2", "runnable": ["generic", "avx2"], "cpu": "…"}
      json runnable = json::array();
      for (Isa isa : runnable_isas()) runnable.push_back(isa_name(isa));
      std::printf("%s\n", json{{"active", isa_name(active_isa())}, {"runnable", runnable}, {"cpu", cpu_model_name()}}
                               .dump()
                               .c_str());
      return 0;
    }
    if (*train) {
      if (tc.out_dir.empty() && tc.resume_dir.empty()) throw std::invalid_argument("train: give --out RUN (or --resume RUN)");
      return run_train(tc);
    }
    if (*sample) return run_sample(model_path, tokenizer_dir, prompt, max_new, sc, seed, device);
    if (*eval) return run_eval(model_path, data_dir, eval_B, eval_T, device);
    if (*fewshot) {
      GPT model = GPT::load(model_path);
      Tokenizer tok = Tokenizer::load(tokenizer_dir);
      run_eval_command(fs, model, tok, {{"model", model_path}, {"eval", fs.eval_file}});
      return 0;
    }
    if (*bench && use_cuda(device)) {
      if (peak_option->count() == 0) peak_gflops = 790000.0;  // H200 bf16 dense
      return run_bench_cuda(bench_preset, bench_V, bench_B, bench_T, bench_steps, peak_gflops);
    }
    if (*bench) return run_bench(bench_preset, bench_V, bench_B, bench_T, bench_steps, peak_gflops);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pretrain: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
