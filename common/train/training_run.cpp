#include "common/train/training_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "common/io/atomic_file.h"
#include "common/io/svg_plot.h"

namespace sog {

namespace fs = std::filesystem;
using json = nlohmann::json;

TrainingRun::TrainingRun(std::string label, std::string out_dir, std::string resume_dir, int64_t steps)
    : label_(std::move(label)),
      out_dir_(std::move(out_dir)),
      resume_dir_(std::move(resume_dir)),
      steps_(steps),
      started_s_(steady_seconds()),
      best_val_(INFINITY),
      last_val_(NAN),
      last_train_(NAN) {
  if (out_dir_.empty() && resume_dir_.empty()) {
    throw std::invalid_argument("give --out RUN (a new run) or --resume RUN (a run to continue)");
  }
  if (resuming() && !fs::is_directory(resume_dir_)) {
    throw std::runtime_error(resume_dir_ + ": no such run folder to resume (--resume takes the --out of an earlier run)");
  }
  if (out_dir_.empty()) out_dir_ = resume_dir_;
  fs::create_directories(out_dir_);
}

TrainingRun::~TrainingRun() = default;

std::string TrainingRun::resume_file(const std::string& name) const {
  const std::string file = resume_dir_ + "/" + name;
  if (!fs::exists(file)) {
    throw std::runtime_error(resume_dir_ + ": resuming needs " + name +
                             ", which is not there — the run stopped before its first checkpoint, or it was "
                             "written with other settings; start it afresh with --out");
  }
  return file;
}

json TrainingRun::saved_config() const {
  const std::string file = resume_file("run.json");
  try {
    return json::parse(read_file(file));
  } catch (const json::parse_error& e) {
    throw std::runtime_error(file + ": not valid JSON: " + e.what());
  }
}

void TrainingRun::track_set(const std::string& name, AdamW& opt, std::function<void(const std::string&)> save_weights) {
  for (const TrackedSet& s : sets_)
    if (s.name == name) throw std::invalid_argument("TrainingRun::track_set: '" + name + "' is tracked already");
  sets_.push_back({name, &opt, std::move(save_weights)});
}

void TrainingRun::track_rng(const std::string& name, Rng& rng) { rngs_.emplace_back(name, &rng); }

static std::string joined(const std::set<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

void TrainingRun::restore(const TrainState& st) {
  std::set<std::string> saved, tracked;
  for (const ParamSetState& s : st.sets) saved.insert(s.name);
  for (const TrackedSet& s : sets_) tracked.insert(s.name);
  if (saved != tracked) {
    throw std::runtime_error(st.path + ": the training state holds the parameter sets (" + joined(saved) +
                             ") but this run trains (" + joined(tracked) +
                             ") — resume with the program and settings of the run that wrote it");
  }
  if (st.step >= steps_) {
    throw std::runtime_error(st.path + ": the run has taken " + std::to_string(st.step) + " steps already and --steps is " +
                             std::to_string(steps_) + ": nothing to train (give --steps above " +
                             std::to_string(st.step) + ")");
  }
  for (const TrackedSet& s : sets_) st.restore_set(s.name, *s.opt);
  for (const auto& [name, rng] : rngs_) st.restore_rng(name, *rng);
  start_step_ = st.step;
  best_val_ = st.best_val_loss;
}

int64_t TrainingRun::begin(const json& config) {
  config_ = config;
  if (resuming()) {
    const std::string state_file = resume_dir_ + "/state.bin";
    if (!fs::exists(state_file)) {
      throw std::runtime_error(state_file + ": no training state to resume from — the run stopped before its first "
                               "checkpoint (--checkpoint-every), or " + resume_dir_ +
                               " is not a run folder; start it afresh with --out");
    }
    state_ = std::make_unique<TrainState>(load_train_state(state_file));
    restore(*state_);
    // Resumed into another folder: that folder can be resumed in turn.
    if (fs::absolute(out_dir_) != fs::absolute(resume_dir_) && fs::exists(resume_dir_ + "/run.json")) {
      write_file_atomic(path("run.json"), read_file(resume_dir_ + "/run.json"));
    }
    std::printf("resuming %s at step %lld of %lld\n", resume_dir_.c_str(), static_cast<long long>(start_step_),
                static_cast<long long>(steps_));
  } else {
    write_json_atomic(path("run.json"), config);
    write_file_atomic(path("samples.txt"), "");  // a fresh run's samples start afresh, as its metrics do
  }
  log_ = std::make_unique<MetricsLog>(path("metrics.jsonl"), resuming());
  bar_ = std::make_unique<Progress>(steps_ - start_step_, label_);
  return start_step_;
}

void TrainingRun::record_val(json& record, double val_loss) {
  require_finite(val_loss, "validation loss", record.at("step").get<int64_t>());
  last_val_ = val_loss;
  best_val_ = std::min(best_val_, val_loss);
  record["val_loss"] = val_loss;
}

void TrainingRun::append_samples(int64_t step, const std::string& text) {
  const std::string file = path("samples.txt");
  std::string all = fs::exists(file) ? read_file(file) : "";
  write_file_atomic(file, all + "==== step " + std::to_string(step) + " ====\n" + text);
}

void TrainingRun::step_started() { step_t0_s_ = steady_seconds(); }

void TrainingRun::step_done(json& record, int64_t tokens) {
  const int64_t step = record.at("step").get<int64_t>();
  // A diverged run stops here, before NaN reaches the log or a checkpoint (common/io/metrics.h).
  if (record.contains("train_loss")) require_finite(record["train_loss"].get<double>(), "training loss", step);
  if (record.contains("grad_norm")) require_finite(record["grad_norm"].get<double>(), "gradient norm", step);
  const double dt = steady_seconds() - step_t0_s_;
  ms_per_step_ = dt * 1e3;
  tokens_per_s_ = static_cast<double>(tokens) / dt;
  last_train_ = record.value("train_loss", static_cast<double>(NAN));
  record["tokens_per_s"] = tokens_per_s_;
  record["ms_per_step"] = ms_per_step_;
  log_->write(record);
  char status[160];
  char val[32] = "";
  if (!std::isnan(last_val_)) std::snprintf(val, sizeof(val), " | val %.4f", last_val_);  // a run without validation shows none
  std::snprintf(status, sizeof(status), "loss %.4f%s | %.0f tok/s | %.1f ms/step", last_train_, val, tokens_per_s_,
                ms_per_step_);
  bar_->update(step + 1 - start_step_, status);
  if (step + 1 == steps_) bar_->finish();
}

void TrainingRun::save(int64_t steps_done, const json& data_position) {
  for (const TrackedSet& s : sets_) s.save_weights(out_dir_);
  TrainState st{.step = steps_done, .best_val_loss = best_val_, .data = data_position};
  for (const TrackedSet& s : sets_) st.add_set(s.name, *s.opt);
  for (const auto& [name, rng] : rngs_) st.add_rng(name, *rng);
  save_train_state(path("state.bin"), st);
}

json TrainingRun::finish(const LossPlot& plot, const json& extra) {
  if (bar_) bar_->finish();
  const std::vector<json> records = read_jsonl(path("metrics.jsonl"));
  SvgPlot svg(plot.title, "step", plot.y_label);
  for (const auto& [legend, key] : plot.series) {
    std::vector<double> x, y;
    for (const json& r : records) {
      if (r.contains(key)) x.push_back(r["step"].get<double>()), y.push_back(r[key].get<double>());
    }
    svg.add_series(legend, x, y);
  }
  for (const auto& [legend, y] : plot.hlines) svg.add_hline(legend, y);
  svg.save(path("loss.svg"));

  json summary = {{"final_val_loss", last_val_}, {"best_val_loss", best_val_}, {"final_train_loss", last_train_},
                  {"tokens_per_s", tokens_per_s_}, {"ms_per_step", ms_per_step_},
                  {"wall_time_s", steady_seconds() - started_s_}, {"peak_rss_mb", peak_rss_mb()}, {"config", config_}};
  summary.update(cpu_json());  // cpu_isa, cpu, threads: which kernels ran (common/cpu/isa.h)
  if (!extra.is_null()) summary.update(extra);  // {} is null in nlohmann's JSON
  write_json_atomic(path("summary.json"), summary);
  return summary;
}

}  // namespace sog
