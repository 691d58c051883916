// A training run's bookkeeping, written once for every trainer (02 pretraining, 03 SFT, and the
// reward model and PPO after them), so that a chapter's main.cpp holds the stage's algorithm and
// this holds the rest. The run folder:
//
//   RUN/run.json        the run's configuration, written when a fresh run begins; --resume reads
//                       back what defines the run (saved_config())
//   RUN/metrics.jsonl   one JSON object per step, appended and flushed (common/io/metrics.h)
//   RUN/samples.txt     "==== step N ====" then what the model wrote, per sampling (atomic rewrite)
//   RUN/<weights>       each parameter set's weights, written by the trainer's own function
//                       (model.bin, adapter.bin, head.bin, a model folder: common/nn/model_folder.h)
//   RUN/state.bin       the training state (common/io/train_state.h): every parameter set's AdamW
//                       moments, the RNG streams, the data position, the step, the best val loss
//   RUN/summary.json    the run's figures, the trainer's own, its config and CPU (atomic, at the end)
//   RUN/loss.svg        the curves of metrics.jsonl, a resumed run's earlier steps included
//
// The loop itself stays in the chapter; the run is told what happened:
//
//   TrainingRun run("pretrain", out_dir, resume_dir, steps);
//   run.track_set("gpt", opt, [&](const std::string& dir) { model.save(dir + "/model.bin"); });
//   run.track_rng("dropout", dropout_rng);
//   int64_t step = run.begin(config_json(cfg));    // fresh: 0; resumed: moments, RNGs restored
//   if (run.resuming()) loader.restore(run.data_position<LoaderState>());
//   for (; step < steps; step++) {
//     json record = {{"step", step}};
//     if (run.due(eval_every, step)) run.record_val(record, evaluate(model, val_batches));
//     run.step_started();
//     …forward, backward, clip, AdamW…
//     record["train_loss"] = loss, record["grad_norm"] = norm, record["lr"] = lr;
//     run.step_done(record, tokens);                 // rails, timing, metrics line, status line
//     if (run.checkpoint_due(checkpoint_every, step)) run.save(step + 1, loader.state());
//   }
//   run.save(steps, loader.state());
//   json summary = run.finish({"pretraining", "loss (nats/token)"}, {{"parameters", n}});
//
// Several parameter sets (a reward model's backbone and scalar head, PPO's policy and value) are
// several track_set calls: each set's weights function and AdamW; resuming restores every one and
// refuses a state whose sets are not exactly the tracked ones.
//
// It knows no model and no data loader: weights are written by the trainer's functions and read
// back by the trainer (resume_file() names a missing one), the data position is the loader's JSON,
// a parameter set is a name and an optimizer. A run resumed into another folder (--resume A --out
// B) starts B's metrics.jsonl with the resumed steps and copies A's run.json, so B resumes too.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/io/metrics.h"
#include "common/io/progress.h"
#include "common/io/train_state.h"
#include "common/optim/adamw.h"
#include "common/tensor/random.h"

namespace sog {

// loss.svg: one curve per (legend, metrics.jsonl key), dashed reference lines.
struct LossPlot {
  std::string title;
  std::string y_label = "loss";
  std::vector<std::pair<std::string, double>> hlines = {};  // (legend, y), e.g. ("ln V (uniform guess)", 5.5)
  std::vector<std::pair<std::string, std::string>> series = {{"train", "train_loss"}, {"val", "val_loss"}};
};

class TrainingRun {
 public:
  // label: the status line's ("pretrain"); steps: the run's total, a resumed run's too. Writes to
  // out_dir (created), or to resume_dir when out_dir is empty; reads the run to resume from
  // resume_dir (empty: a fresh run). Throws std::invalid_argument when both are empty.
  TrainingRun(std::string label, std::string out_dir, std::string resume_dir, int64_t steps);
  ~TrainingRun();
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  bool resuming() const { return !resume_dir_.empty(); }
  const std::string& out_dir() const { return out_dir_; }
  const std::string& resume_dir() const { return resume_dir_; }
  int64_t steps() const { return steps_; }
  // A file of the run being resumed (its weights), checked to be there:
  //   "RUN: resuming needs model.bin, which is not there — …"
  std::string resume_file(const std::string& name) const;
  // The resumed run's run.json (before begin(): a trainer takes what defines the run from it).
  nlohmann::json saved_config() const;
  // One field of it, as T: "RUN/run.json: field 'model': expected a string, found null — was the run
  // written by another program?"
  template <class T>
  T saved(const std::string& key) const {
    const nlohmann::json config = saved_config();
    try {
      return config.at(key).get<T>();
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(resume_dir_ + "/run.json: field '" + key + "': " + e.what() +
                               " — was the run written by another program?");
    }
  }

  // ---- what the state holds (before begin) ----
  // A parameter set: its name in state.bin, its optimizer (moments and step count), and the
  // function that writes its weights into a folder (called by save(), before state.bin).
  void track_set(const std::string& name, AdamW& opt, std::function<void(const std::string& dir)> save_weights);
  void track_rng(const std::string& name, Rng& rng);

  // Fresh: writes run.json (config), starts metrics.jsonl and samples.txt empty, returns 0.
  // Resuming: restores every tracked set and RNG stream from RUN/state.bin, prints where it goes
  // on, appends to metrics.jsonl, and returns the state's step. Errors name the file: no state.bin,
  // sets other than the tracked ones, a set of another size, a missing RNG stream, a run already
  // at (or past) `steps`. Starts the clock of the status line.
  int64_t begin(const nlohmann::json& config);
  // The resumed run's data position as the loader's type (after begin()).
  template <class T>
  T data_position() const {
    return state_->data_position<T>();
  }

  // ---- the loop ----
  // Every `every` steps from step 0, and at the last step; never when every ≤ 0.
  bool due(int64_t every, int64_t step) const { return every > 0 && (step % every == 0 || step + 1 == steps_); }
  // After step `step` when `every` divides step + 1, except after the last (save() follows it).
  bool checkpoint_due(int64_t every, int64_t step) const {
    return every > 0 && (step + 1) % every == 0 && step + 1 != steps_;
  }
  // A validation loss into record (at record["step"]): stops a diverged run, tracks the best.
  void record_val(nlohmann::json& record, double val_loss);
  // Appends "==== step N ====\n" + text to samples.txt (atomically: the whole file is rewritten).
  void append_samples(int64_t step, const std::string& text);
  void step_started();
  // The step's record (step, train_loss, grad_norm, …): stops the run when the training loss or
  // the gradient norm is not finite (require_finite), adds tokens_per_s and ms_per_step (since
  // step_started()), appends it to metrics.jsonl and shows the status line
  //   "loss 2.3104 | val 2.4012 | 812 tok/s | 19.7 ms/step"
  void step_done(nlohmann::json& record, int64_t tokens);
  // Every set's weights into the output folder, then state.bin (step = steps_done).
  void save(int64_t steps_done, const nlohmann::json& data_position);

  // ---- the end ----
  // loss.svg from the whole metrics.jsonl, then summary.json:
  //   {final_val_loss, best_val_loss, final_train_loss, tokens_per_s, ms_per_step, wall_time_s,
  //    peak_rss_mb, config, cpu_isa, cpu, threads} + extra, an object (it wins on a shared key).
  // Returns what it wrote.
  nlohmann::json finish(const LossPlot& plot, const nlohmann::json& extra = nullptr);

  double last_val_loss() const { return last_val_; }  // NaN before the first
  double best_val_loss() const { return best_val_; }  // INFINITY before the first
  double last_train_loss() const { return last_train_; }
  double tokens_per_s() const { return tokens_per_s_; }
  double ms_per_step() const { return ms_per_step_; }

 private:
  struct TrackedSet {
    std::string name;
    AdamW* opt;
    std::function<void(const std::string&)> save_weights;
  };
  std::string path(const std::string& name) const { return out_dir_ + "/" + name; }
  void restore(const TrainState& st);

  std::string label_, out_dir_, resume_dir_;
  int64_t steps_;
  std::vector<TrackedSet> sets_;
  std::vector<std::pair<std::string, Rng*>> rngs_;
  std::unique_ptr<TrainState> state_;  // the resumed state (data position)
  std::unique_ptr<MetricsLog> log_;
  std::unique_ptr<Progress> bar_;
  nlohmann::json config_;
  int64_t start_step_ = 0;
  double started_s_;  // steady clock, at construction
  double step_t0_s_ = 0;
  double best_val_, last_val_, last_train_, tokens_per_s_ = 0, ms_per_step_ = 0;
};

}  // namespace sog
