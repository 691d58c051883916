// bin/reward end to end on a nano model made here: comparison data sampled and ranked, a reward
// model trained on a hand-made preference it can learn, its evaluation (the command's JSON
// contract), scoring and the normalisation, exact resume, best-of-N, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "byte_tokenizer.h"
#include "common/io/atomic_file.h"
#include "common/io/metrics.h"
#include "common/nn/gpt.h"
#include "common/tokenizer/special_tokens.h"
#include "test_util.h"

using namespace sog;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::string kReward = std::string(SOG_BINARY_DIR) + "/bin/reward";

struct Result {
  int status;
  std::string out, err;
  std::string all() const { return out + err; }
};

Result run(const fs::path& scratch, const std::string& args) {
  sog::testing::CommandResult r = sog::testing::run_command(kReward, args, scratch);
  return {r.rc, r.out, r.err};
}

std::string pair_line(const std::string& prompt, const std::string& chosen, const std::string& rejected) {
  return json({{"prompt", prompt}, {"chosen", chosen}, {"rejected", rejected}, {"task", "palindrome"}}).dump() + "\n";
}

size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

// A byte tokenizer, a random nano "SFT model" (L=2, C=32, maxT 64), world-style prompts, and a
// hand-made preference a nano reward model learns in a few dozen steps: "yes" over "no no".
class RewardCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kReward)) GTEST_SKIP() << kReward << " is not built";
    ::setenv("OMP_NUM_THREADS", "1", 1);
    dir_ = sog::testing::fresh_temp_dir("reward_cli");
    sog::testing::byte_tokenizer().save((dir_ / "tok").string());
    GPTConfig cfg = gpt_preset("nano", 256 + static_cast<int>(kSpecialTokens.size()));
    cfg.max_T = 64;
    GPT sft(cfg);
    sft.init_gpt2(3);
    sft.save((dir_ / "sft.bin").string());
    std::string prompts;
    for (int i = 0; i < 6; i++)
      prompts += json({{"prompt", "What is " + std::to_string(i) + " + 2?"}, {"answer", std::to_string(i + 2)}, {"task", "add"}}).dump() + "\n";
    write_file_atomic((dir_ / "prompts.jsonl").string(), prompts);
    std::string train, val, flipped;
    for (int i = 0; i < 24; i++) train += pair_line("Is " + std::to_string(i) + " ok?", "yes", "no no");
    for (int i = 0; i < 6; i++) {
      val += pair_line("Is x" + std::to_string(i) + " ok?", "yes", "no no");
      flipped += pair_line("Is x" + std::to_string(i) + " ok?", "no no", "yes");
    }
    write_file_atomic((dir_ / "train.jsonl").string(), train);
    write_file_atomic((dir_ / "val.jsonl").string(), val);
    write_file_atomic((dir_ / "flipped.jsonl").string(), flipped);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string p(const std::string& rel) const { return (dir_ / rel).string(); }
  std::string train_args(int steps, const std::string& extra = "") const {
    return "train --model " + p("sft.bin") + " --tokenizer " + p("tok") + " --data " + p("train.jsonl") +
           " --val-data " + p("val.jsonl") + " --steps " + std::to_string(steps) +
           " --groups-per-step 4 --lr 3e-3 --min-lr 3e-4 --warmup 2 --eval-every 10 --seed 5 " + extra;
  }
  fs::path dir_;
};

std::vector<double> column(const std::string& metrics, const char* key) {
  std::vector<double> out;
  for (const auto& r : read_jsonl(metrics))
    if (r.contains(key)) out.push_back(r[key].get<double>());
  return out;
}

}  // namespace

// `data`: K samples per prompt from the model, ranked by the world's labeler, in both files; the
// counts agree with the files.
TEST_F(RewardCli, DataSamplesRanksAndWritesBothFiles) {
  Result r = run(dir_, "data --model " + p("sft.bin") + " --tokenizer " + p("tok") + " --prompts " + p("prompts.jsonl") +
                           " --k 4 --max-new-tokens 6 --out " + p("data"));
  ASSERT_EQ(r.status, 0) << r.all();
  json s = json::parse(read_file(p("data/summary.json")));
  EXPECT_EQ(s["prompts"], 6);
  EXPECT_EQ(s["per_task"]["add"]["prompts"], 6);
  EXPECT_EQ(count_lines(p("data/rankings.jsonl")), 6u);
  EXPECT_EQ(count_lines(p("data/pairs.jsonl")), s["pairs"].get<size_t>());
  for (const auto& row : read_jsonl(p("data/rankings.jsonl"))) {
    EXPECT_LE(row["completions"].size(), 4u);
    for (const auto& pr : row["pairs"]) EXPECT_LT(pr[0].get<int>(), pr[1].get<int>()) << "rank order, better first";
  }
  EXPECT_NE(r.out.find("| add | 6 |"), std::string::npos) << r.out;
}

// A reward model learns "yes" over "no no"; eval reports it on held-out prompts (and the flipped
// file as the opposite), in the command's JSON contract; the folder is a reward model; the
// normalisation puts the training replies' mean reward at 0.
TEST_F(RewardCli, TrainEvalScoreAndNormalisation) {
  Result t = run(dir_, train_args(30, "--out " + p("rm")));
  ASSERT_EQ(t.status, 0) << t.all();
  for (const char* f : {"model.bin", "head.bin", "config.json", "state.bin", "metrics.jsonl", "summary.json", "loss.svg"})
    EXPECT_TRUE(fs::exists(dir_ / "rm" / f)) << f;
  EXPECT_EQ(json::parse(read_file(p("rm/config.json")))["kind"], "reward");
  std::vector<double> loss = column(p("rm/metrics.jsonl"), "train_loss");
  ASSERT_EQ(loss.size(), 30u);
  EXPECT_LT(loss.back(), 0.3 * loss.front()) << "the preference is learnable";

  Result e = run(dir_, "eval --model " + p("rm") + " --tokenizer " + p("tok") + " --data " + p("val.jsonl") + " --out " +
                           p("eval.json") + " --calibration " + p("cal.svg"));
  ASSERT_EQ(e.status, 0) << e.all();
  json ev = json::parse(read_file(p("eval.json")));
  EXPECT_EQ(ev["accuracy"], 1.0) << ev.dump(1);
  EXPECT_EQ(ev["pairs"], 6);
  EXPECT_EQ(ev["per_task"]["palindrome"]["pairs"], 6);
  EXPECT_EQ(ev["per_task"]["palindrome"]["accuracy"], 1.0);
  EXPECT_TRUE(fs::exists(p("cal.svg")));
  Result f = run(dir_, "eval --model " + p("rm") + " --tokenizer " + p("tok") + " --data " + p("flipped.jsonl") + " --out " + p("flipped.json"));
  ASSERT_EQ(f.status, 0) << f.all();
  EXPECT_EQ(json::parse(read_file(p("flipped.json")))["accuracy"], 0.0);

  // The training replies ("yes" and "no no" of the 24 training prompts) average a reward of 0.
  std::string items;
  for (int i = 0; i < 24; i++)
    for (const char* c : {"yes", "no no"})
      items += json({{"prompt", "Is " + std::to_string(i) + " ok?"}, {"completion", c}}).dump() + "\n";
  write_file_atomic(p("items.jsonl"), items);
  Result sc = run(dir_, "score --model " + p("rm") + " --tokenizer " + p("tok") + " --data " + p("items.jsonl"));
  ASSERT_EQ(sc.status, 0) << sc.all();
  std::istringstream lines(sc.out);
  double sum = 0;
  int n = 0, yes_above = 0;
  std::vector<double> rewards;
  for (std::string line; std::getline(lines, line); n++) rewards.push_back(std::stod(line.substr(0, line.find('\t'))));
  ASSERT_EQ(n, 48);
  for (int i = 0; i < 48; i += 2) yes_above += rewards[i] > rewards[i + 1];
  for (double r : rewards) sum += r;
  EXPECT_NEAR(sum / n, 0.0, 1e-3);
  EXPECT_EQ(yes_above, 24);
  Result one = run(dir_, "score --model " + p("rm") + " --tokenizer " + p("tok") + " --prompt 'Is 3 ok?' --completion yes");
  ASSERT_EQ(one.status, 0) << one.all();
  EXPECT_EQ(std::stod(one.out.substr(0, one.out.find('\t'))), rewards[6]);
}

// LoRA: the base stays as it was, the adapters and the head train; the folder holds model.bin
// (the base), adapter.bin and head.bin, and eval and score load it whole.
TEST_F(RewardCli, LoRARewardModel) {
  Result t = run(dir_, train_args(30, "--lora-rank 4 --lora-alpha 8 --out " + p("rm_lora")));
  ASSERT_EQ(t.status, 0) << t.all();
  for (const char* f : {"model.bin", "adapter.bin", "head.bin", "config.json"})
    EXPECT_TRUE(fs::exists(dir_ / "rm_lora" / f)) << f;
  EXPECT_EQ(read_file(p("rm_lora/model.bin")), read_file(p("sft.bin"))) << "the base is not trained";
  json config = json::parse(read_file(p("rm_lora/config.json")));
  EXPECT_EQ(config["kind"], "reward");
  EXPECT_EQ(config["adapter"]["rank"], 4);
  std::vector<double> loss = column(p("rm_lora/metrics.jsonl"), "train_loss");
  ASSERT_EQ(loss.size(), 30u);
  EXPECT_LT(loss.back(), 0.5 * loss.front()) << "the adapters and the head learn the preference";
  Result e = run(dir_, "eval --model " + p("rm_lora") + " --tokenizer " + p("tok") + " --data " + p("val.jsonl") +
                           " --out " + p("eval_lora.json"));
  ASSERT_EQ(e.status, 0) << e.all();
  EXPECT_GE(json::parse(read_file(p("eval_lora.json")))["accuracy"].get<double>(), 5.0 / 6.0);
}

// --resume continues exactly: the same losses and the same weights, backbone (or adapters, with
// their dropout stream) and head.
TEST_F(RewardCli, ResumeEqualsUninterrupted) {
  for (const std::string extra : {std::string(""), std::string("--lora-rank 2 --lora-alpha 4 --lora-dropout 0.1 ")}) {
    ASSERT_EQ(run(dir_, train_args(12, extra + "--decay-steps 12 --out " + p("whole"))).status, 0);
    Result a = run(dir_, train_args(6, extra + "--decay-steps 12 --out " + p("part")));
    ASSERT_EQ(a.status, 0) << a.all();
    Result b = run(dir_, train_args(12, "--decay-steps 12 --resume " + p("part")));
    ASSERT_EQ(b.status, 0) << b.all();
    std::vector<double> x = column(p("whole/metrics.jsonl"), "train_loss"), y = column(p("part/metrics.jsonl"), "train_loss");
    ASSERT_EQ(x.size(), 12u);
    ASSERT_EQ(y.size(), 12u);
    for (size_t i = 0; i < 12; i++) EXPECT_EQ(x[i], y[i]) << extra << "step " << i;
    for (const char* f : {"model.bin", "head.bin", "adapter.bin"}) {
      if (!fs::exists(dir_ / "whole" / f)) continue;
      EXPECT_EQ(read_file(p(std::string("whole/") + f)), read_file(p(std::string("part/") + f))) << extra << f;
    }
    EXPECT_EQ(fs::exists(dir_ / "whole" / "adapter.bin"), !extra.empty());
    fs::remove_all(dir_ / "whole");
    fs::remove_all(dir_ / "part");
  }
}

// best-of-n: SFT greedy, one sample, best of 1, 2, 4 by the reward model, the oracle above it.
TEST_F(RewardCli, BestOfN) {
  ASSERT_EQ(run(dir_, train_args(4, "--out " + p("rm"))).status, 0);
  Result r = run(dir_, "best-of-n --model " + p("rm") + " --policy " + p("sft.bin") + " --tokenizer " + p("tok") +
                           " --prompts " + p("prompts.jsonl") + " --n 4 --max-new-tokens 6 --out " + p("bon.json"));
  ASSERT_EQ(r.status, 0) << r.all();
  json b = json::parse(read_file(p("bon.json")));
  EXPECT_EQ(b["questions"], 6);
  ASSERT_EQ(b["best_of"].size(), 3u);
  std::vector<int> sizes;
  for (const auto& x : b["best_of"]) {
    sizes.push_back(x["n"].get<int>());
    EXPECT_GE(x["oracle"].get<double>(), x["accuracy"].get<double>());
  }
  EXPECT_EQ(sizes, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(b["best_of"][0]["accuracy"], b["sample_accuracy"]) << "best of 1 is the first sample";
  EXPECT_TRUE(b["per_task"].contains("add"));
}

TEST_F(RewardCli, BadInputIsAClearError) {
  write_file_atomic(p("bad.jsonl"), pair_line("a", "b", "c") + R"({"prompt": "a", "chosen": 3, "rejected": "c"})" "\n");
  Result t = run(dir_, "train --model " + p("sft.bin") + " --tokenizer " + p("tok") + " --data " + p("bad.jsonl") + " --out " + p("x"));
  EXPECT_NE(t.status, 0);
  EXPECT_NE(t.err.find(p("bad.jsonl") + ":2"), std::string::npos) << t.all();
  EXPECT_NE(t.err.find("\"chosen\""), std::string::npos) << t.all();
  Result e = run(dir_, "eval --model " + p("sft.bin") + " --tokenizer " + p("tok") + " --data " + p("val.jsonl"));
  EXPECT_NE(e.status, 0);
  EXPECT_NE(e.err.find("no scalar head"), std::string::npos) << e.all();
  Result s = run(dir_, "score --model " + p("sft.bin") + " --tokenizer " + p("tok"));
  EXPECT_NE(s.status, 0);
  write_file_atomic(p("noprompt.jsonl"), R"({"prompt": "x", "answer": "1"})" "\n");
  Result d = run(dir_, "data --model " + p("sft.bin") + " --tokenizer " + p("tok") + " --prompts " + p("noprompt.jsonl") + " --out " + p("d"));
  EXPECT_NE(d.status, 0);
  EXPECT_NE(d.err.find(p("noprompt.jsonl")), std::string::npos) << d.all();
}
