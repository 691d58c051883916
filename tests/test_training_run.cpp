// TrainingRun (common/train/training_run.h), the run folder every trainer shares: what a fresh run
// writes (run.json, metrics.jsonl, samples.txt, state.bin, summary.json, loss.svg) and that the
// summary and the plot are written whole or not at all; a GPT and a scalar head (two parameter
// sets) stopped and resumed equal an uninterrupted run bit for bit; a folder that cannot be
// resumed is an error naming it and what is wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/autograd/tape.h"
#include "common/io/atomic_file.h"
#include "common/train/training_run.h"
#include "test_util.h"
#include "two_param_sets.h"

using namespace sog;
using sog::testing::error_of;
using sog::testing::TwoSets;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
class TrainingRunTest : public sog::testing::ScratchFolderTest {
 protected:
  std::set<std::string> files_in(const std::string& dir) const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
    return names;
  }
};

// One parameter set of 3 and an RNG stream; `saves` counts the weights function's calls.
struct OneSet {
  AdamW opt{3, {{0, 3, false}}, {}};
  Tensor w = Tensor::from_vector({3}, {1.0f, 2.0f, 3.0f});
  Tensor g = Tensor::from_vector({3}, {0.5f, -0.5f, 0.25f});
  Rng noise{7};
  int saves = 0;
  void track(TrainingRun& run) {
    run.track_set("w", opt, [this](const std::string& dir) {
      saves++;
      write_file_atomic(dir + "/w.txt", std::to_string(w.to_vector()[0]));
    });
    run.track_rng("noise", noise);
  }
};
}  // namespace

TEST_F(TrainingRunTest, AFreshRunWritesEveryFileOfTheFolder) {
  TrainingRun run("test", p("run"), "", 5);
  OneSet set;
  set.track(run);
  const json config = {{"lr", 0.5}, {"data", "somewhere"}};
  EXPECT_EQ(run.begin(config), 0);
  for (int64_t step = 0; step < 5; step++) {
    json record = {{"step", step}};
    if (run.due(2, step)) run.record_val(record, 3.0 - 0.5 * static_cast<double>(step));  // steps 0, 2, 4 (the last)
    if (run.due(3, step)) run.append_samples(step, "text " + std::to_string(step) + "\n");  // 0, 3, 4
    run.step_started();
    set.opt.step(set.w, set.g, 0.1f);
    set.noise.next_u64();
    record["train_loss"] = 4.0 - static_cast<double>(step);
    record["grad_norm"] = 1.0;
    run.step_done(record, 100);
    if (run.checkpoint_due(2, step)) run.save(step + 1, {{"cursor", step + 1}});  // after steps 1 and 3
  }
  run.save(5, {{"cursor", 5}});
  EXPECT_EQ(set.saves, 3);
  const json summary = run.finish({"a test run", "loss (nats)", {{"the floor", 0.5}}}, {{"parameters", 3}});

  EXPECT_EQ(json::parse(read_file(p("run/run.json"))), config);
  const std::vector<json> records = read_jsonl(p("run/metrics.jsonl"));
  ASSERT_EQ(records.size(), 5u);
  for (const json& r : records) {
    const int64_t step = r["step"];
    EXPECT_EQ(r["train_loss"], 4.0 - static_cast<double>(step));
    EXPECT_EQ(r.contains("val_loss"), step % 2 == 0) << step;
    EXPECT_GT(r["tokens_per_s"].get<double>(), 0);
    EXPECT_GE(r["ms_per_step"].get<double>(), 0);
  }
  EXPECT_EQ(read_file(p("run/samples.txt")),
            "==== step 0 ====\ntext 0\n==== step 3 ====\ntext 3\n==== step 4 ====\ntext 4\n");

  // summary.json: the run's figures, the trainer's own, the config and where it ran.
  EXPECT_EQ(json::parse(read_file(p("run/summary.json"))), summary);
  EXPECT_EQ(summary["final_val_loss"], 1.0);
  EXPECT_EQ(summary["best_val_loss"], 1.0);
  EXPECT_EQ(summary["final_train_loss"], 0.0);
  EXPECT_EQ(summary["parameters"], 3);
  EXPECT_EQ(summary["config"], config);
  for (const char* key : {"tokens_per_s", "ms_per_step", "wall_time_s", "peak_rss_mb", "cpu_isa", "cpu", "threads"})
    EXPECT_TRUE(summary.contains(key)) << key;
  EXPECT_GT(summary["peak_rss_mb"].get<double>(), 0);
  const std::string svg = read_file(p("run/loss.svg"));
  for (const char* text : {"a test run", "loss (nats)", "the floor", ">train<", ">val<"})
    EXPECT_NE(svg.find(text), std::string::npos) << text;

  // state.bin: the last save's step, data position, the set and the stream.
  const TrainState st = load_train_state(p("run/state.bin"));
  EXPECT_EQ(st.step, 5);
  EXPECT_EQ(st.best_val_loss, 1.0);
  EXPECT_EQ(st.data, json({{"cursor", 5}}));
  EXPECT_EQ(st.set("w").adam_steps, 5);
  EXPECT_EQ(st.rngs.at("noise"), set.noise.state());
  // Every file committed by a rename: no temporary file is left behind.
  EXPECT_EQ(files_in(p("run")), (std::set<std::string>{"run.json", "metrics.jsonl", "samples.txt", "w.txt",
                                                         "state.bin", "summary.json", "loss.svg"}));

  // A new run in the same folder starts its metrics and samples afresh.
  TrainingRun again("test", p("run"), "", 1);
  OneSet other;
  other.track(again);
  again.begin(config);
  EXPECT_EQ(read_file(p("run/samples.txt")), "");
  EXPECT_EQ(read_file(p("run/metrics.jsonl")), "");
}

// finish() writes summary.json and loss.svg whole or not at all: when the metrics log cannot be
// read, the previous summary stays as it was and no plot or temporary file appears.
TEST_F(TrainingRunTest, SummaryAndPlotAreWrittenWholeOrNotAtAll) {
  TrainingRun run("test", p("run"), "", 1);
  OneSet set;
  set.track(run);
  run.begin({});
  json record = {{"step", 0}};
  run.step_started();
  record["train_loss"] = 2.0;
  run.step_done(record, 10);
  write_file_atomic(p("run/summary.json"), "{\"from\": \"an earlier run\"}\n");
  std::ofstream(p("run/metrics.jsonl"), std::ios::app) << "{\"step\": 1, \"train_loss\": \n";
  const std::string e = error_of([&] { run.finish({"t"}, {}); });
  EXPECT_NE(e.find(p("run/metrics.jsonl") + ":2: not valid JSON"), std::string::npos) << e;
  EXPECT_EQ(read_file(p("run/summary.json")), "{\"from\": \"an earlier run\"}\n");
  EXPECT_EQ(files_in(p("run")), (std::set<std::string>{"run.json", "metrics.jsonl", "samples.txt", "summary.json"}));
}

// A diverged step stops the run with the step named, before it reaches metrics.jsonl.
TEST_F(TrainingRunTest, ANonFiniteLossStopsTheRun) {
  TrainingRun run("test", p("run"), "", 3);
  OneSet set;
  set.track(run);
  run.begin({});
  json record = {{"step", 1}, {"train_loss", 1.0}, {"grad_norm", INFINITY}};
  run.step_started();
  EXPECT_NE(error_of([&] { run.step_done(record, 1); }).find("step 1: the gradient norm is +inf"), std::string::npos);
  json val = {{"step", 2}};
  EXPECT_NE(error_of([&] { run.record_val(val, NAN); }).find("step 2: the validation loss is NaN"), std::string::npos);
  EXPECT_EQ(read_file(p("run/metrics.jsonl")), "");
}

// ---- exact resume of two parameter sets ----------------------------------------------------------

namespace {
// A whole run of `steps` into `out` (resuming `resume` when given) of a GPT and a scalar head:
// validation every 2 steps on a fixed batch (no dropout), a checkpoint every 4.
void train_two_sets(const TokenDataset& data, const std::string& out, const std::string& resume, int64_t steps) {
  TrainingRun run("two sets", out, resume, steps);
  TwoSets t = run.resuming() ? sog::testing::two_sets_from_files(data, run.resume_file("model.bin"),
                                                                 run.resume_file("head.bin"))
                             : sog::testing::fresh_two_sets(data);
  run.track_set("gpt", *t.opt_model, [&](const std::string& dir) { t.model->save(dir + "/model.bin"); });
  run.track_set("head", *t.opt_head, [&](const std::string& dir) { t.head->save(dir + "/head.bin"); });
  run.track_rng("dropout", t.dropout);
  int64_t step = run.begin({{"steps", steps}});
  if (run.resuming()) t.loader->restore(run.data_position<LoaderState>());
  const std::vector<int32_t> ids = {1, 5, 9, 2, 7, 3, 8, 4};
  const Tensor x = Tensor::from_ids({1, 8}, ids), y = Tensor::from_ids({1, 8}, {5, 9, 2, 7, 3, 8, 4, 6});
  for (; step < steps; step++) {
    json record = {{"step", step}};
    if (run.due(2, step)) {
      NoGradGuard no_grad;
      run.record_val(record, t.model->loss(x, y).item());
    }
    run.step_started();
    record["train_loss"] = t.step();
    run.step_done(record, 16);
    if (run.checkpoint_due(4, step)) run.save(step + 1, t.loader->state());
  }
  run.save(steps, t.loader->state());
  run.finish({"two sets"}, {});
}
}  // namespace

// 6 steps at once, or 3 and then 3 more resumed (into the same folder, and into another one):
// the same losses, weights, optimizer state and summary, bit for bit.
TEST_F(TrainingRunTest, TwoParameterSetsResumeExactly) {
  const TokenDataset data = sog::testing::tiny_data();
  train_two_sets(data, p("whole"), "", 6);
  train_two_sets(data, p("part"), "", 3);
  fs::copy(p("part"), p("part_copy"));
  train_two_sets(data, "", p("part"), 6);
  train_two_sets(data, p("elsewhere"), p("part_copy"), 6);

  auto losses = [&](const std::string& run, const char* key) {
    std::vector<std::pair<int64_t, double>> out;
    for (const json& r : read_jsonl(p(run + "/metrics.jsonl")))
      if (r.contains(key)) out.emplace_back(r["step"].get<int64_t>(), r[key].get<double>());
    return out;
  };
  ASSERT_EQ(losses("whole", "train_loss").size(), 6u);
  EXPECT_EQ(losses("part", "train_loss"), losses("whole", "train_loss"));
  // Validation at 0, 2, 4, 5 uninterrupted; at 0, 2 (the first run's last step), 4, 5 resumed.
  EXPECT_EQ(losses("part", "val_loss"), losses("whole", "val_loss"));
  for (const char* f : {"model.bin", "head.bin", "state.bin"}) {
    EXPECT_EQ(read_file(p("part/") + f), read_file(p("whole/") + f)) << f;
    EXPECT_EQ(read_file(p("elsewhere/") + f), read_file(p("whole/") + f)) << f;
  }
  const json a = json::parse(read_file(p("whole/summary.json"))), b = json::parse(read_file(p("part/summary.json")));
  for (const char* key : {"final_val_loss", "best_val_loss", "final_train_loss", "config"}) EXPECT_EQ(a[key], b[key]) << key;
  // Resumed into another folder: it holds only the resumed steps, and its run.json, so that it can
  // be resumed in turn.
  EXPECT_EQ(losses("elsewhere", "train_loss").size(), 3u);
  EXPECT_EQ(read_file(p("elsewhere/run.json")), read_file(p("part_copy/run.json")));
}

// ---- folders that cannot be resumed --------------------------------------------------------------

TEST_F(TrainingRunTest, ResumingAFolderThatDoesNotFitIsAClearError) {
  EXPECT_NE(error_of([&] { TrainingRun("t", "", "", 3); }).find("give --out RUN"), std::string::npos);
  std::string e = error_of([&] { TrainingRun("t", "", p("absent"), 3); });
  EXPECT_NE(e.find(p("absent") + ": no such run folder to resume"), std::string::npos) << e;

  // A folder with nothing in it (or a run that stopped before its first checkpoint).
  fs::create_directories(p("empty"));
  {
    TrainingRun run("t", "", p("empty"), 3);
    e = error_of([&] { run.resume_file("model.bin"); });
    EXPECT_NE(e.find(p("empty") + ": resuming needs model.bin, which is not there"), std::string::npos) << e;
    e = error_of([&] { run.saved_config(); });
    EXPECT_NE(e.find("resuming needs run.json"), std::string::npos) << e;
    write_file_atomic(p("empty/run.json"), R"({"model": "base.bin"})");
    EXPECT_EQ(run.saved<std::string>("model"), "base.bin");
    e = error_of([&] { run.saved<int>("lora_rank"); });  // a run.json of another program
    EXPECT_NE(e.find(p("empty/run.json") + ": field 'lora_rank': "), std::string::npos) << e;
    EXPECT_NE(e.find("written by another program?"), std::string::npos) << e;
    fs::remove(p("empty/run.json"));
    e = error_of([&] { run.begin({}); });
    EXPECT_NE(e.find(p("empty/state.bin") + ": no training state to resume from"), std::string::npos) << e;
  }

  // A run of two sets, "gpt" (5) and "head" (3), and an RNG stream, 2 steps done.
  AdamW gpt(5, {{0, 5, true}}, {}), head(3, {{0, 3, false}}, {}), head4(4, {{0, 4, false}}, {}), value(3, {{0, 3, false}}, {});
  Rng dropout(1), sampler(2);
  auto nothing = [](const std::string&) {};
  {
    TrainingRun run("t", p("run"), "", 2);
    run.track_set("gpt", gpt, nothing);
    run.track_set("head", head, nothing);
    run.track_rng("dropout", dropout);
    run.begin({});
    run.save(2, {{"epoch", 0}, {"cursor", 4}});
  }
  const std::string state = p("run/state.bin");
  // resume with these sets and streams, to `steps`; the error of begin(), or "".
  auto resume = [&](std::vector<std::pair<std::string, AdamW*>> sets, Rng* rng, int64_t steps) {
    TrainingRun run("t", "", p("run"), steps);
    for (auto& [name, opt] : sets) run.track_set(name, *opt, nothing);
    if (rng) run.track_rng(rng == &dropout ? "dropout" : "sampler", *rng);
    return error_of([&] { run.begin({}); });
  };
  EXPECT_EQ(resume({{"gpt", &gpt}, {"head", &head}}, &dropout, 4), "");
  e = resume({{"gpt", &gpt}}, &dropout, 4);
  EXPECT_NE(e.find(state + ": the training state holds the parameter sets (gpt, head) but this run trains (gpt)"),
            std::string::npos) << e;
  e = resume({{"gpt", &gpt}, {"value", &value}}, &dropout, 4);
  EXPECT_NE(e.find("holds the parameter sets (gpt, head) but this run trains (gpt, value)"), std::string::npos) << e;
  e = resume({{"gpt", &gpt}, {"head", &head4}}, &dropout, 4);
  EXPECT_NE(e.find(state + ": parameter set 'head': expected optimizer moments for 4 parameters, found 3"),
            std::string::npos) << e;
  e = resume({{"gpt", &gpt}, {"head", &head}}, &sampler, 4);
  EXPECT_NE(e.find(state + ": the training state has no RNG stream 'sampler' (it holds: dropout)"), std::string::npos)
      << e;
  e = resume({{"gpt", &gpt}, {"head", &head}}, &dropout, 2);
  EXPECT_NE(e.find(state + ": the run has taken 2 steps already and --steps is 2: nothing to train (give --steps above 2)"),
            std::string::npos) << e;
  {  // a data position of another loader's kind
    TrainingRun run("t", "", p("run"), 4);
    run.track_set("gpt", gpt, nothing);
    run.track_set("head", head, nothing);
    run.begin({});
    e = error_of([&] { run.data_position<LoaderState>(); });
    EXPECT_NE(e.find(state + ": bad data position in the training state"), std::string::npos) << e;
  }
  fs::resize_file(state, fs::file_size(state) - 4);  // a truncated state
  e = resume({{"gpt", &gpt}, {"head", &head}}, &dropout, 4);
  EXPECT_NE(e.find(state + ": wrong size"), std::string::npos) << e;
}
