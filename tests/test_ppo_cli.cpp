// bin/ppo end to end on nano models made here: a training run and its files (the command's
// contract: metrics.jsonl's fields, the model folder, the dashboard), exact resume, the grader
// reward with a shared value head and LoRA, the safety rail on an injected NaN (the last
// checkpoint intact), the evaluation row's JSON, the over-optimisation plot, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "byte_tokenizer.h"
#include "common/io/atomic_file.h"
#include "common/io/metrics.h"
#include "common/nn/gpt.h"
#include "common/nn/model_folder.h"
#include "common/tokenizer/special_tokens.h"
#include "test_util.h"

using namespace sog;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::string kPpo = std::string(SOG_BINARY_DIR) + "/bin/ppo";

sog::testing::CommandResult run(const fs::path& scratch, const std::string& args) {
  return sog::testing::run_command(kPpo, args, scratch);
}

// A byte tokenizer, a random nano "SFT model" (L=2, C=32, maxT 64), a nano "reward model" (the
// same GPT + a random scalar head), and world prompts.
class PpoCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kPpo)) GTEST_SKIP() << kPpo << " is not built";
    ::setenv("OMP_NUM_THREADS", "1", 1);
    dir_ = sog::testing::fresh_temp_dir("ppo_cli");
    sog::testing::byte_tokenizer().save((dir_ / "tok").string());
    GPTConfig cfg = gpt_preset("nano", 256 + static_cast<int>(kSpecialTokens.size()));
    cfg.max_T = 64;
    GPT sft(cfg);
    sft.init_gpt2(3);
    sft.save(p("sft.bin"));
    ScalarHead head(cfg.C);
    head.init(5);
    save_model_folder(p("rm"), "reward", sft, &head);
    std::string prompts;
    for (int i = 0; i < 12; i++) {
      prompts += json({{"prompt", "What is " + std::to_string(i) + " + 2?"}, {"answer", std::to_string(i + 2)},
                       {"task", "add"}}).dump() + "\n";
      prompts += json({{"prompt", "Is '" + std::string(i % 2 ? "abba" : "abc") + "' a palindrome?"},
                       {"answer", i % 2 ? "yes" : "no"}, {"task", "palindrome"}}).dump() + "\n";
    }
    write_file_atomic(p("prompts.jsonl"), prompts);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string p(const std::string& rel) const { return (dir_ / rel).string(); }
  std::string train_args(const std::string& out, int steps, const std::string& extra = "") const {
    return "train --policy " + p("sft.bin") + " --reward-model " + p("rm") + " --tokenizer " + p("tok") +
           " --prompts " + p("prompts.jsonl") + " --out " + p(out) + " --steps " + std::to_string(steps) +
           " --batch-size 8 --minibatch 4 --ppo-epochs 2 --max-new-tokens 6 --lr 1e-4 --value-lr 1e-3 --seed 9 " + extra;
  }
  fs::path dir_;
};

bool same_bytes(const std::string& a, const std::string& b) { return read_file(a) == read_file(b); }

}  // namespace

// The run folder and metrics.jsonl's fields: every diagnostic the chapter promises, every step.
TEST_F(PpoCli, TrainWritesTheRunAndEveryDiagnostic) {
  auto r = run(dir_, train_args("run", 3));
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  for (const char* f : {"model.bin", "config.json", "value_head.bin", "value_model.bin", "state.bin", "run.json",
                        "metrics.jsonl", "dashboard.svg", "loss.svg", "summary.json", "samples.txt"}) {
    EXPECT_TRUE(fs::exists(p(std::string("run/") + f))) << f;
  }
  EXPECT_EQ(json::parse(read_file(p("run/config.json")))["kind"], "policy");
  const auto records = read_jsonl(p("run/metrics.jsonl"));
  ASSERT_EQ(records.size(), 3u);
  for (const char* key : {"rm_score", "score", "gold_accuracy", "kl_k1", "kl_k3", "entropy", "length",
                          "closed_fraction", "approx_kl", "clip_fraction", "ratio_mean", "ratio_max", "value_loss",
                          "explained_variance", "advantage_mean", "advantage_std", "kl_coef", "tokens_per_s",
                          "sample_tokens_per_s", "rollout_s", "scoring_s", "update_s", "policy_loss"}) {
    EXPECT_TRUE(records[0].contains(key)) << key;
  }
  EXPECT_EQ(records[0]["kl_k1"].get<double>(), 0.0) << "before any update the policy is the reference";
  EXPECT_EQ(records[0]["kl_k3"].get<double>(), 0.0);
  EXPECT_GT(records[2]["kl_k3"].get<double>(), 0.0) << "after updates the policy has moved";
  EXPECT_NE(records[0]["kl_coef"], records[2]["kl_coef"]) << "the adaptive controller moves β";
  const json summary = json::parse(read_file(p("run/summary.json")));
  EXPECT_GT(summary["memory"]["total_mb"].get<double>(), 0.0);
  EXPECT_TRUE(summary["time_split_s"].contains("update"));
  const std::string dash = read_file(p("run/dashboard.svg"));
  EXPECT_NE(dash.find("explained variance"), std::string::npos);
  EXPECT_NE(dash.find("KL coefficient"), std::string::npos);
}

// Two steps, then --resume to four, gives the bits of four steps in one go.
TEST_F(PpoCli, ResumeIsExact) {
  ASSERT_EQ(run(dir_, train_args("straight", 4, "--decay-steps 4")).rc, 0);
  ASSERT_EQ(run(dir_, train_args("half", 2, "--decay-steps 4")).rc, 0);
  auto r = run(dir_, "train --tokenizer " + p("tok") + " --resume " + p("half") + " --steps 4");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  for (const char* f : {"model.bin", "value_head.bin", "value_model.bin"}) {
    EXPECT_TRUE(same_bytes(p(std::string("straight/") + f), p(std::string("half/") + f))) << f;
  }
  const auto a = read_jsonl(p("straight/metrics.jsonl")), b = read_jsonl(p("half/metrics.jsonl"));
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t i = 0; i < 4; i++) {
    for (const char* key : {"rm_score", "kl_k1", "policy_loss", "value_loss", "kl_coef"}) EXPECT_EQ(a[i][key], b[i][key]) << key << " at " << i;
  }
}

// The grader drives, the value head sits on the policy, the policy trains adapters: the folder holds
// the base and the adapter, no value backbone, and it loads for eval.
TEST_F(PpoCli, GraderRewardSharedValueAndLoRA) {
  auto r = run(dir_, train_args("lora", 2, "--reward grader --value shared --lora-rank 4"));
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(p("lora/adapter.bin")));
  EXPECT_TRUE(fs::exists(p("lora/value_head.bin")));
  EXPECT_FALSE(fs::exists(p("lora/value_model.bin")));
  EXPECT_EQ(json::parse(read_file(p("lora/config.json")))["adapter"]["rank"], 4);
  const json summary = json::parse(read_file(p("lora/summary.json")));
  EXPECT_EQ(summary["memory"]["reference_weights_mb"].get<double>(), 0.0) << "LoRA's reference is the policy's base";
  for (const auto& rec : read_jsonl(p("lora/metrics.jsonl"))) {
    // with the grader driving, the score of a closed reply is its 1/0 verdict
    if (rec["closed_fraction"].get<double>() == 1.0) EXPECT_EQ(rec["score"], rec["gold_accuracy"]);
  }
  auto e = run(dir_, "eval --policy " + p("lora") + " --sft " + p("sft.bin") + " --reward-model " + p("rm") +
                         " --tokenizer " + p("tok") + " --prompts " + p("prompts.jsonl") +
                         " --samples 2 --max-per-task 2 --max-new-tokens 6 --out " + p("lora_eval.json"));
  ASSERT_EQ(e.rc, 0) << e.out << e.err;
  EXPECT_GE(json::parse(read_file(p("lora_eval.json")))["kl"].get<double>(), -1.0);
}

// A NaN reward stops the run at its step, naming the metric; the checkpoint before it is intact.
TEST_F(PpoCli, TheRailStopsOnInjectedNaNAndKeepsTheLastCheckpoint) {
  ASSERT_EQ(run(dir_, train_args("run", 2, "--decay-steps 4")).rc, 0);
  const std::string model_before = read_file(p("run/model.bin")), state_before = read_file(p("run/state.bin"));
  // The reward model's head becomes NaN: its scores, and the rewards, are NaN from here on.
  {
    std::fstream f(p("rm/head.bin"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1024);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    f.write(reinterpret_cast<const char*>(&nan), sizeof(nan));
  }
  auto r = run(dir_, "train --tokenizer " + p("tok") + " --resume " + p("run") + " --steps 4");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("step 2: rm_score = nan"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(p("run/model.bin")), model_before);
  EXPECT_EQ(read_file(p("run/state.bin")), state_before);
}

// eval's JSON row; best-of-N's KL is the analytic log N − (N − 1)/N.
TEST_F(PpoCli, EvalRowsForTheSftModelAndBestOfN) {
  const std::string common = "eval --policy " + p("sft.bin") + " --sft " + p("sft.bin") + " --reward-model " +
                             p("rm") + " --tokenizer " + p("tok") + " --prompts " + p("prompts.jsonl") +
                             " --samples 3 --max-per-task 2 --max-new-tokens 6";
  auto r = run(dir_, common + " --label SFT --out " + p("sft.json"));
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("| SFT |"), std::string::npos) << r.out;
  const json sft = json::parse(read_file(p("sft.json")));
  for (const char* key : {"rm_score", "rm_score_interval", "gold_accuracy", "gold_accuracy_interval", "kl", "entropy",
                          "distinct_2", "length", "closed_fraction", "per_task"}) {
    EXPECT_TRUE(sft.contains(key)) << key;
  }
  EXPECT_EQ(sft["questions"], 4);
  EXPECT_EQ(sft["kl"].get<double>(), 0.0) << "the SFT model against itself";
  EXPECT_TRUE(sft["per_task"].contains("add") && sft["per_task"].contains("palindrome"));
  const double d2 = sft["distinct_2"].get<double>();
  EXPECT_GT(d2, 0.0);
  EXPECT_LE(d2, 1.0);
  ASSERT_EQ(run(dir_, common + " --best-of 4 --out " + p("bo4.json")).rc, 0);
  const json bo = json::parse(read_file(p("bo4.json")));
  EXPECT_NEAR(bo["kl"].get<double>(), std::log(4.0) - 0.75, 1e-12);
  EXPECT_GE(bo["rm_score"].get<double>(), sft["rm_score"].get<double>() - 1e-9)
      << "the reward model's pick of 4 scores at least what one sample does on average";
}

TEST_F(PpoCli, OverOptimisationPlotFromSeveralRuns) {
  ASSERT_EQ(run(dir_, train_args("a", 2)).rc, 0);
  ASSERT_EQ(run(dir_, train_args("b", 2, "--kl-coef 0 --kl-target 0")).rc, 0);
  auto r = run(dir_, "plot --run 'β=0.05'=" + p("a") + " --run 'β=0'=" + p("b") + " --smooth 1 --out " + p("over.svg"));
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  const std::string svg = read_file(p("over.svg"));
  EXPECT_NE(svg.find("√KL"), std::string::npos);
  EXPECT_NE(svg.find("β=0.05"), std::string::npos);
  EXPECT_EQ(run(dir_, "plot --run " + p("a") + " --out " + p("x.svg")).rc, 1) << "LABEL=RUN is required";
}

TEST_F(PpoCli, BadInputIsAClearError) {
  auto r = run(dir_, "train --policy " + p("sft.bin") + " --reward-model " + p("rm") + " --tokenizer " + p("tok") +
                         " --prompts " + p("missing.jsonl") + " --out " + p("x") + " --steps 1");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("missing.jsonl"), std::string::npos) << r.err;
  r = run(dir_, train_args("y", 1, "--reward votes"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("--reward: expected rm or grader, found 'votes'"), std::string::npos) << r.err;
  r = run(dir_, train_args("z", 1, "--value both"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("--value"), std::string::npos) << r.err;
  r = run(dir_, train_args("w", 1, "--temperature 0"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("--temperature"), std::string::npos) << r.err;
}

// PPO-ptx: an SFT loss on demonstrations in every minibatch — logged, finite, and resumed exactly
// (the demonstrations' position is part of the state).
TEST_F(PpoCli, PtxMixesTheSftLossAndResumesExactly) {
  std::string convs;
  for (int i = 0; i < 10; i++) {
    convs += json({{"messages", {{{"role", "user"}, {"content", "What is " + std::to_string(i) + " + 1?"}},
                                 {{"role", "assistant"}, {"content", std::to_string(i + 1)}}}}}).dump() + "\n";
  }
  write_file_atomic(p("sft.jsonl"), convs);
  const std::string ptx = "--ptx-coef 0.5 --ptx-data " + p("sft.jsonl") + " --ptx-rows 2 --decay-steps 4";
  ASSERT_EQ(run(dir_, train_args("straight", 4, ptx)).rc, 0);
  ASSERT_EQ(run(dir_, train_args("half", 2, ptx)).rc, 0);
  auto r = run(dir_, "train --tokenizer " + p("tok") + " --resume " + p("half") + " --steps 4");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  const auto a = read_jsonl(p("straight/metrics.jsonl")), b = read_jsonl(p("half/metrics.jsonl"));
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t i = 0; i < 4; i++) {
    ASSERT_TRUE(a[i].contains("ptx_loss"));
    EXPECT_TRUE(std::isfinite(a[i]["ptx_loss"].get<double>()));
    EXPECT_GT(a[i]["ptx_loss"].get<double>(), 0.0);
    EXPECT_EQ(a[i]["ptx_loss"], b[i]["ptx_loss"]) << i;
  }
  EXPECT_TRUE(same_bytes(p("straight/model.bin"), p("half/model.bin")));
  EXPECT_EQ(run(dir_, train_args("bad", 1, "--ptx-coef 0.5")).rc, 1) << "--ptx-coef without --ptx-data";
}
