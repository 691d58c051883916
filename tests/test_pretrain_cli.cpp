// bin/pretrain end to end on a tiny corpus: train, resume, sample, eval, and the run folder.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>

#include "common/data/shard.h"
#include "common/io/atomic_file.h"
#include "common/io/metrics.h"
#include "common/nn/gpt.h"
#include "common/world/grader.h"
#include "common/tokenizer/special_tokens.h"
#include "common/tokenizer/tokenizer.h"
#include "byte_tokenizer.h"
#include "test_util.h"
#include "text_shards.h"

using namespace sog;
namespace fs = std::filesystem;

namespace {

const std::string kPretrain = std::string(SOG_BINARY_DIR) + "/bin/pretrain";

struct Result {
  int status;
  std::string output;  // stdout then stderr
};

Result run(const fs::path& scratch, const std::string& args) {
  sog::testing::CommandResult r = sog::testing::run_command(kPretrain, args, scratch);
  return {r.rc, r.out + r.err};
}

// A byte tokenizer and shards of a small repetitive text, written with the library's own writers.
class PretrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kPretrain)) GTEST_SKIP() << kPretrain << " is not built";
    dir_ = sog::testing::fresh_temp_dir("pretrain_cli");
    Tokenizer tok = sog::testing::byte_tokenizer();
    tok.save((dir_ / "tok").string());
    std::string text;
    for (int i = 0; i < 60; i++) text += "the cat sat on the mat. the dog sat on the log. ";
    sog::testing::write_text_shards(dir_ / "shards", tok, text);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string common_args(const std::string& preset = "nano") const {
    return "--data " + (dir_ / "shards").string() + " --tokenizer " + (dir_ / "tok").string() +
           " --preset " + preset + " -B 4 -T 16 --lr 3e-3 --warmup 2 --decay-steps 12 --eval-every 4 --eval-batches 2"
           " --sample-every 6 --sample-tokens 8 --seed 5";
  }
  fs::path dir_;
};

std::vector<double> train_losses(const fs::path& metrics) {
  std::vector<double> out;
  for (const auto& r : read_jsonl(metrics.string())) out.push_back(r["train_loss"].get<double>());
  return out;
}

}  // namespace

TEST_F(PretrainCli, WritesTheRunFolderAndStartsAtLnV) {
  Result r = run(dir_, "train " + common_args() + " --steps 12 --out " + (dir_ / "run").string());
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* f : {"model.bin", "state.bin", "metrics.jsonl", "summary.json", "loss.svg", "samples.txt"})
    EXPECT_TRUE(fs::exists(dir_ / "run" / f)) << f;
  auto records = read_jsonl((dir_ / "run/metrics.jsonl").string());
  ASSERT_EQ(records.size(), 12u);
  for (const char* key : {"step", "train_loss", "lr", "grad_norm", "tokens_per_s", "ms_per_step"})
    EXPECT_TRUE(records[0].contains(key)) << key;
  EXPECT_TRUE(records[0].contains("val_loss"));
  const double ln_v = std::log(256.0 + kSpecialTokens.size());
  EXPECT_NEAR(records[0]["train_loss"].get<double>(), ln_v, 0.02 * ln_v);
  EXPECT_LT(records.back()["train_loss"].get<double>(), records[0]["train_loss"].get<double>());
  auto summary = nlohmann::json::parse(read_file((dir_ / "run/summary.json").string()));
  for (const char* key : {"final_val_loss", "best_val_loss", "tokens_per_s", "parameters", "wall_time_s"})
    EXPECT_TRUE(summary.contains(key)) << key;
}

// Stop at step 6, resume to 12: the losses of steps 6..11 equal those of an uninterrupted run.
TEST_F(PretrainCli, ResumeEqualsUninterrupted) {
  Result full = run(dir_, "train " + common_args() + " --steps 12 --out " + (dir_ / "full").string());
  ASSERT_EQ(full.status, 0) << full.output;
  Result first = run(dir_, "train " + common_args() + " --steps 6 --out " + (dir_ / "part").string());
  ASSERT_EQ(first.status, 0) << first.output;
  Result second = run(dir_, "train " + common_args() + " --steps 12 --resume " + (dir_ / "part").string());
  ASSERT_EQ(second.status, 0) << second.output;
  std::vector<double> a = train_losses(dir_ / "full/metrics.jsonl"), b = train_losses(dir_ / "part/metrics.jsonl");
  ASSERT_EQ(a.size(), 12u);
  ASSERT_EQ(b.size(), 12u);
  for (size_t i = 0; i < 12; i++) EXPECT_EQ(a[i], b[i]) << "step " << i;
  EXPECT_EQ(read_file((dir_ / "full/model.bin").string()), read_file((dir_ / "part/model.bin").string()));
}

TEST_F(PretrainCli, SampleAndEval) {
  ASSERT_EQ(run(dir_, "train " + common_args() + " --steps 4 --out " + (dir_ / "run").string()).status, 0);
  std::string model = (dir_ / "run/model.bin").string(), tok = (dir_ / "tok").string();
  Result a = run(dir_, "sample --model " + model + " --tokenizer " + tok + " --prompt 'the cat' --max-new-tokens 10 --temperature 0");
  Result b = run(dir_, "sample --model " + model + " --tokenizer " + tok + " --prompt 'the cat' --max-new-tokens 10 --temperature 0");
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_EQ(a.output, b.output);  // greedy is deterministic
  EXPECT_EQ(a.output.rfind("the cat", 0), 0u) << a.output;
  Result e = run(dir_, "eval --model " + model + " --data " + (dir_ / "shards").string() + " -B 2 -T 16");
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find("val loss"), std::string::npos) << e.output;
}

TEST_F(PretrainCli, BadInputsAreClearErrors) {
  Result r = run(dir_, "train " + common_args("huge") + " --steps 2 --out " + (dir_ / "run").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("unknown model preset 'huge'"), std::string::npos) << r.output;
  write_file_atomic((dir_ / "bad.bin").string(), "not a model");
  Result s = run(dir_, "sample --model " + (dir_ / "bad.bin").string() + " --tokenizer " + (dir_ / "tok").string());
  EXPECT_NE(s.status, 0);
  EXPECT_NE(s.output.find("bad.bin"), std::string::npos) << s.output;
}

// A run that diverges stops at once with a message naming the step, and saves nothing after it:
// an absurd learning rate blows the weights up in one update, and a poisoned checkpoint makes the
// very first loss NaN.
TEST_F(PretrainCli, StopsAtTheFirstNonFiniteLoss) {
  std::string args = common_args();
  args.replace(args.find("--lr 3e-3"), 9, "--lr 1e30");
  Result r = run(dir_, "train " + args + " --steps 12 --out " + (dir_ / "diverged").string());
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("step 1: the training loss is"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("training diverged"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "diverged/model.bin"));
  EXPECT_EQ(train_losses(dir_ / "diverged/metrics.jsonl").size(), 1u);  // step 0 only, and finite

  ASSERT_EQ(run(dir_, "train " + common_args() + " --steps 2 --out " + (dir_ / "poisoned").string()).status, 0);
  GPT model = GPT::load((dir_ / "poisoned/model.bin").string());
  model.lnfw.f32()[0] = NAN;  // the final LayerNorm's first gain: every logit becomes NaN
  model.save((dir_ / "poisoned/model.bin").string());
  Result p = run(dir_, "train " + common_args() + " --steps 4 --resume " + (dir_ / "poisoned").string());
  EXPECT_NE(p.status, 0) << p.output;
  EXPECT_NE(p.output.find("step 2: the training loss is NaN"), std::string::npos) << p.output;
}

// `fewshot` builds K-shot Q:/A: pages, answers greedily and grades each task; the counts add up,
// and every page holds K solved questions of the question's own task, never the question itself.
TEST_F(PretrainCli, FewshotReportsPerTaskAccuracy) {
  ASSERT_EQ(run(dir_, "train " + common_args() + " --steps 2 --out " + (dir_ / "run").string()).status, 0);
  std::string eval;
  std::map<std::string, std::pair<std::string, std::string>> pool;  // prompt → (answer, task)
  for (int i = 0; i < 5; i++) pool["What is the cat number " + std::to_string(i) + "?"] = {"mat " + std::to_string(i), "cat"};
  for (int i = 0; i < 3; i++) pool["What sat " + std::to_string(i) + "?"] = {"dog " + std::to_string(i), "dog"};
  for (const auto& [prompt, at] : pool)
    eval += nlohmann::json({{"prompt", prompt}, {"answer", at.first}, {"task", at.second}}).dump() + "\n";
  write_file_atomic((dir_ / "eval.jsonl").string(), eval);
  Result r = run(dir_, "fewshot --model " + (dir_ / "run/model.bin").string() + " --tokenizer " + (dir_ / "tok").string() +
                           " --eval " + (dir_ / "eval.jsonl").string() + " --shots 2 --max-new-tokens 4 --out " +
                           (dir_ / "fewshot.json").string());
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(read_file((dir_ / "fewshot.json").string()));
  ASSERT_EQ(j["tasks"].size(), 2u);
  EXPECT_EQ(j["tasks"][0]["task"], "cat");
  EXPECT_EQ(j["tasks"][0]["total"], 5);
  EXPECT_EQ(j["tasks"][1]["total"], 3);
  int correct = 0;
  for (const auto& t : j["tasks"]) {
    EXPECT_DOUBLE_EQ(t["accuracy"].get<double>(), t["correct"].get<double>() / t["total"].get<double>()) << t["task"];
    correct += t["correct"].get<int>();
  }
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), correct / 8.0);
  EXPECT_EQ(j["shots"], 2);
  EXPECT_NE(r.output.find("mode qa-fewshot, 2-shot, greedy"), std::string::npos) << r.output;
  // The fields the pipeline's report reads, and the evaluator's additions.
  EXPECT_EQ(j["total"], 8);
  EXPECT_EQ(j["model"], (dir_ / "run/model.bin").string());
  EXPECT_EQ(j["mode"], "qa-fewshot");
  for (const char* key : {"well_formed_rate", "accuracy_interval", "questions"}) EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["questions"].size(), 8u);

  // Eight questions: each is recorded, graded as counted, on a page of its own making.
  ASSERT_EQ(j["examples"].size(), static_cast<size_t>(correct));
  ASSERT_EQ(j["failures"].size(), static_cast<size_t>(8 - correct));
  std::set<std::string> seen;
  for (const char* list : {"examples", "failures"}) {
    for (const auto& e : j[list]) {
      const std::string prompt = e["prompt"], page = e["page"];
      seen.insert(prompt);
      EXPECT_EQ(is_correct(e["completion"].get<std::string>(), e["answer"].get<std::string>()), std::string(list) == "examples")
          << prompt;
      // The page: "Q: p\nA: a\n" per example, then "Q: prompt\nA:".
      const std::string tail = "Q: " + prompt + "\nA:";
      ASSERT_TRUE(page.ends_with(tail)) << page;
      std::istringstream lines(page.substr(0, page.size() - tail.size()));
      std::string q, a;
      int shots = 0;
      while (std::getline(lines, q) && std::getline(lines, a)) {
        ASSERT_TRUE(q.starts_with("Q: ") && a.starts_with("A: ")) << page;
        const std::string ex = q.substr(3);
        ASSERT_TRUE(pool.count(ex)) << "an example that is not in the pool: " << ex;
        EXPECT_NE(ex, prompt) << "the question is among its own examples:\n" << page;
        EXPECT_EQ(pool[ex].second, pool[prompt].second) << "an example of another task:\n" << page;
        EXPECT_EQ(a.substr(3), pool[ex].first) << page;
        shots++;
      }
      EXPECT_EQ(shots, 2) << page;
      EXPECT_EQ(page.find("A: " + pool[prompt].first + "\n"), std::string::npos) << "the answer is shown:\n" << page;
    }
  }
  EXPECT_EQ(seen.size(), 8u);

  write_file_atomic((dir_ / "bad.jsonl").string(), "{\"prompt\":\"x\"}\n");
  Result bad = run(dir_, "fewshot --model " + (dir_ / "run/model.bin").string() + " --tokenizer " + (dir_ / "tok").string() +
                             " --eval " + (dir_ / "bad.jsonl").string());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("bad.jsonl:1"), std::string::npos) << bad.output;
}

// The evaluator's options through `fewshot`: N samples and their majority vote, the table as
// Markdown; tools run (a missing world is a clear error); greedy "samples" are a clear error.
TEST_F(PretrainCli, FewshotSamplesVoteAndRefusesWhatItCannotDo) {
  ASSERT_EQ(run(dir_, "train " + common_args() + " --steps 2 --out " + (dir_ / "run").string()).status, 0);
  write_file_atomic((dir_ / "eval.jsonl").string(), R"({"prompt":"the cat?","answer":"mat","task":"cat"})" "\n"
                                                    R"({"prompt":"the dog?","answer":"log","task":"dog"})" "\n");
  const std::string base = "fewshot --model " + (dir_ / "run/model.bin").string() + " --tokenizer " + (dir_ / "tok").string() +
                           " --eval " + (dir_ / "eval.jsonl").string() + " --shots 1 --max-new-tokens 4";
  Result r = run(dir_, base + " --samples 3 --temperature 0.9 --out " + (dir_ / "v.json").string() + " --markdown " +
                           (dir_ / "v.md").string());
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(read_file((dir_ / "v.json").string()));
  EXPECT_EQ(j["samples"], 3);
  for (const char* key : {"vote_accuracy", "vote_interval", "vote_correct"}) EXPECT_TRUE(j.contains(key)) << key;
  ASSERT_EQ(j["questions"].size(), 2u);
  EXPECT_EQ(j["questions"][0]["completions"].size(), 3u);
  EXPECT_TRUE(j["questions"][0].contains("vote"));
  const std::string md = read_file((dir_ / "v.md").string());
  EXPECT_NE(md.find("| majority of 3 |"), std::string::npos) << md;
  EXPECT_NE(r.output.find(md), std::string::npos) << "the table printed is the table written";

  // Tools run inside generation; lookup's people come from a world folder's people.jsonl.
  Result tools = run(dir_, base + " --tools --out " + (dir_ / "t.json").string());
  ASSERT_EQ(tools.status, 0) << tools.output;
  const auto with_tools = nlohmann::json::parse(read_file((dir_ / "t.json").string()));
  EXPECT_EQ(with_tools["tools"], true);
  EXPECT_EQ(with_tools["max_new_tokens"], 4) << "--max-new-tokens given: it wins";
  Result no_world = run(dir_, base + " --tools --world " + (dir_ / "nowhere").string());
  EXPECT_NE(no_world.status, 0);
  EXPECT_NE(no_world.output.find("people.jsonl"), std::string::npos) << no_world.output;
  Result greedy = run(dir_, base + " --samples 2");
  EXPECT_NE(greedy.status, 0);
  EXPECT_NE(greedy.output.find("--samples 2 with --temperature 0"), std::string::npos) << greedy.output;
}
