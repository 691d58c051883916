// common/eval/techniques.h (chapter 06's techniques as evaluator specs, the row's JSON, the
// self-consistency curve from one set of samples) and bin/prompting's contract on a nano model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "byte_tokenizer.h"
#include "common/eval/reflection.h"
#include "common/eval/techniques.h"
#include "common/eval/tree_of_thoughts.h"
#include "common/io/atomic_file.h"
#include "common/nn/gpt.h"
#include "common/tokenizer/special_tokens.h"
#include "test_util.h"

using namespace sog;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

TechniqueOptions options(Technique t) {
  TechniqueOptions o;
  o.technique = t;
  return o;
}

// A report as the evaluator writes it: each question's samples with their extracted answers.
QuestionResult question(const std::string& task, const std::string& answer,
                        const std::vector<std::optional<std::string>>& extracted) {
  QuestionResult q;
  q.question = {"Q?", answer, task};
  for (const auto& e : extracted) {
    SampleResult s;
    s.extracted = e;
    s.correct = e && *e == answer;
    q.samples.push_back(s);
  }
  return q;
}

}  // namespace

TEST(PromptingTechniques, EachTechniqueIsItsEvaluatorSpec) {
  TechniqueOptions f = options(Technique::fewshot);
  f.shots = 8;
  EvalSpec s = technique_spec(f, 256);
  EXPECT_EQ(s.prompt.format, PromptFormat::qa_fewshot);
  EXPECT_EQ(s.prompt.shots, 8);
  EXPECT_EQ(s.max_new_tokens, 24);
  s = technique_spec(options(Technique::direct), 256);
  EXPECT_EQ(s.prompt.format, PromptFormat::chat);
  EXPECT_FALSE(s.prompt.chain_of_thought);
  EXPECT_EQ(s.samples, 1);
  s = technique_spec(options(Technique::cot), 256);
  EXPECT_TRUE(s.prompt.chain_of_thought);
  EXPECT_EQ(s.max_new_tokens, 64) << "a worked reply gets room";
  EXPECT_EQ(technique_spec(options(Technique::cot), 100).max_new_tokens, 50) << "at most half the context";
  TechniqueOptions sc = options(Technique::self_consistency);
  sc.samples = 9, sc.temperature = 0.8f, sc.cot = true;
  s = technique_spec(sc, 256);
  EXPECT_EQ(s.samples, 9);
  EXPECT_FLOAT_EQ(s.sampling.temperature, 0.8f);
  EXPECT_TRUE(s.prompt.chain_of_thought);
  TechniqueOptions ex = options(Technique::expert);
  ex.persona = "student";
  s = technique_spec(ex, 256);
  EXPECT_EQ(s.prompt.format, PromptFormat::solution_doc);
  EXPECT_EQ(s.prompt.persona, "student");
  ex.persona = "none";
  EXPECT_EQ(technique_spec(ex, 256).prompt.persona, "");
  // Bad options name themselves.
  ex.persona = "teacher";
  EXPECT_NE(sog::testing::error_of([&] { technique_spec(ex, 256); }).find("--persona 'teacher'"), std::string::npos);
  sc.temperature = 0;
  EXPECT_NE(sog::testing::error_of([&] { technique_spec(sc, 256); }).find("--temperature"), std::string::npos);
  EXPECT_NE(sog::testing::error_of([] { technique_from_name("magic"); }).find("--technique 'magic'"), std::string::npos);
  for (Technique t : {Technique::fewshot, Technique::direct, Technique::cot, Technique::self_consistency, Technique::expert})
    EXPECT_EQ(technique_from_name(technique_name(t)), t);
}

// The vote of the first n samples, for every n, from one set of samples; ties go to the answer
// sampled first, samples without an answer do not vote.
TEST(PromptingTechniques, VoteCurveFromOneSetOfSamples) {
  EvalReport r;
  r.spec.samples = 5;
  r.questions = {
      question("add", "5", {"4", "5", "5", "4", "4"}),              // n=1: 4 ✗  n=3: 5 ✓  n=5: 4 ✗
      question("add", "7", {"7", std::nullopt, "1", "1", "7"}),      // n=1 ✓  n=3: tie 7/1 → 7 ✓  n=5: tie → 7 ✓
      question("mul", "6", {std::nullopt, std::nullopt, "6", "2", "2"}),  // n=1: none ✗  n=3: 6 ✓  n=5: 2 ✗
  };
  const json curve = vote_curve(r, {1, 3, 5}, 10.0);
  ASSERT_EQ(curve.size(), 3u);
  EXPECT_EQ(curve[0]["samples"], 1);
  EXPECT_NEAR(curve[0]["accuracy"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(curve[1]["accuracy"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(curve[2]["accuracy"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_EQ(curve[1]["tokens_per_question"].get<double>(), 30.0);
  EXPECT_NEAR(curve[2]["per_task"]["add"]["accuracy"].get<double>(), 0.5, 1e-12);
  EXPECT_EQ(curve[2]["per_task"]["mul"]["n"], 1);
  EXPECT_THROW(vote_curve(r, {6}, 1.0), std::invalid_argument) << "only 5 samples were drawn";
}

// The row: per task and all, Wilson intervals, tokens per question; self-consistency scores the vote.
TEST(PromptingTechniques, RowIsTheContract) {
  EvalReport r;
  r.spec.samples = 3;
  r.questions = {question("add", "5", {"4", "5", "5"}), question("sub", "1", {"1", "2", "2"})};
  r.questions[0].vote = "5", r.questions[0].vote_correct = true;
  r.questions[1].vote = "2", r.questions[1].vote_correct = false;
  TechniqueOptions o = options(Technique::self_consistency);
  o.samples = 3;
  const json row = technique_row(o, r, 60, 1.5);
  EXPECT_EQ(row["technique"], "self-consistency");
  EXPECT_EQ(row["n"], 2);
  EXPECT_DOUBLE_EQ(row["accuracy"].get<double>(), 0.5) << "the vote's accuracy";
  EXPECT_DOUBLE_EQ(row["first_sample_accuracy"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(row["tokens_per_question"].get<double>(), 30.0);
  EXPECT_EQ(row["per_task"]["add"]["accuracy"], 1.0);
  EXPECT_EQ(row["per_task"]["sub"]["accuracy"], 0.0);
  const auto ci = row["accuracy_interval"];
  EXPECT_NEAR(ci[0].get<double>(), 0.0945, 1e-3);  // Wilson 1/2: [0.0945, 0.9055]
  EXPECT_NEAR(ci[1].get<double>(), 0.9055, 1e-3);
  EXPECT_EQ(row["settings"]["samples"], 3);
}

// bin/prompting eval on a nano model: the JSON contract for each technique; bad input.
TEST(PromptingCli, EvalWritesTheRowForEveryTechnique) {
  const std::string bin = std::string(SOG_BINARY_DIR) + "/bin/prompting";
  if (!fs::exists(bin)) GTEST_SKIP() << bin << " is not built";
  ::setenv("OMP_NUM_THREADS", "1", 1);
  const fs::path dir = sog::testing::fresh_temp_dir("prompting_cli");
  sog::testing::byte_tokenizer().save((dir / "tok").string());
  GPTConfig cfg = gpt_preset("nano", 256 + static_cast<int>(kSpecialTokens.size()));
  cfg.max_T = 128;
  GPT model(cfg);
  model.init_gpt2(3);
  model.save((dir / "m.bin").string());
  std::string rows;
  for (int i = 0; i < 4; i++) {
    rows += json({{"prompt", "What is " + std::to_string(i) + " + 2?"}, {"answer", std::to_string(i + 2)}, {"task", "add"}}).dump() + "\n";
    rows += json({{"prompt", "Reverse the word 'ab" + std::string(1, 'c' + i) + "'."}, {"answer", "x"}, {"task", "reverse"}}).dump() + "\n";
  }
  write_file_atomic((dir / "q.jsonl").string(), rows);
  const std::string common = "eval --model " + (dir / "m.bin").string() + " --tokenizer " + (dir / "tok").string() +
                             " --eval " + (dir / "q.jsonl").string() + " --max-new-tokens 6 --max-per-task 2";
  for (const std::string extra : {"--technique fewshot --shots 2", "--technique direct", "--technique cot",
                                  "--technique self-consistency --samples 3", "--technique expert --persona student",
                                  "--technique tot --breadth 2 --width 1 --max-depth 2",
                                  "--technique reflect --tries 2"}) {
    const auto r = sog::testing::run_command(bin, common + " " + extra + " --out " + (dir / "row.json").string(), dir);
    ASSERT_EQ(r.rc, 0) << extra << "\n" << r.out << r.err;
    const json row = json::parse(read_file((dir / "row.json").string()));
    for (const char* key : {"technique", "accuracy", "accuracy_interval", "n", "tokens_per_question", "per_task",
                            "wall_time_s", "settings"}) {
      EXPECT_TRUE(row.contains(key)) << extra << ": " << key;
    }
    EXPECT_EQ(row["n"], 4) << extra;
    EXPECT_GT(row["tokens_per_question"].get<double>(), 0.0) << extra;
    if (extra.find("reflect") != std::string::npos) {
      ASSERT_EQ(row["tries"].size(), 2u);
      EXPECT_EQ(row["first_attempt"], row["tries"][0]["accuracy"]);
      EXPECT_LE(row["tokens_per_question"].get<double>(), 2 * (6.0 + 1.0)) << "two attempts and their verdicts";
      EXPECT_EQ(row["check"]["n"], 8) << "every attempt checked";
      EXPECT_GE(row["tries"][1]["oracle_accuracy"].get<double>(), row["tries"][0]["accuracy"].get<double>());
    } else if (extra.find("tot") == std::string::npos) {
      EXPECT_TRUE(row.contains("prompts_cut")) << extra;
      EXPECT_LE(row["tokens_per_question"].get<double>(), extra.find("samples 3") != std::string::npos ? 18.0 : 6.0);
    } else {
      EXPECT_LE(row["candidates_per_question"].get<double>(), 2.0 + 2.0) << "breadth 2, width 1, depth ≤ 2";
    }
    EXPECT_EQ(row["per_task"]["add"]["n"], 2);
  }
  auto bad = sog::testing::run_command(bin, common + " --technique telepathy", dir);
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.err.find("--technique 'telepathy'"), std::string::npos) << bad.err;
  fs::remove_all(dir);
}

// Reflection's bookkeeping on attempts whose verdicts and grades are known.
TEST(Reflection, KeepsTheFirstAcceptedElseTheMostBelieved) {
  const std::vector<Attempt> a = {{false, 0.2, 5}, {false, 0.4, 6}, {true, 0.9, 7}, {false, 0.95, 8}};
  EXPECT_EQ(kept_attempt(a, 1).index, 0u);
  EXPECT_EQ(kept_attempt(a, 2).index, 1u) << "none accepted: the one believed most";
  EXPECT_EQ(kept_attempt(a, 2).made, 2);
  EXPECT_EQ(kept_attempt(a, 4).index, 2u) << "the first accepted, not the most believed";
  EXPECT_EQ(kept_attempt(a, 4).made, 3);
  EXPECT_THROW(kept_attempt(a, 5), std::invalid_argument);
  EXPECT_THROW(kept_attempt(a, 0), std::invalid_argument);
  EXPECT_NEAR(yes_probability(std::log(0.3), std::log(0.1)), 0.75, 1e-12);
}

TEST(Reflection, AucByHand) {
  // positives 0.9, 0.4; negatives 0.5, 0.1, 0.4: pairs won 3 of 6 for 0.9 vs all… (0.9 beats 3,
  // 0.4 beats 0.1 and ties 0.4): (3 + 1 + 0.5) / 6 = 0.75
  EXPECT_NEAR(roc_auc({0.9, 0.5, 0.4, 0.1, 0.4}, {true, false, true, false, false}), 0.75, 1e-12);
  EXPECT_NEAR(roc_auc({0.1, 0.9}, {false, true}), 1.0, 1e-12);
  EXPECT_NEAR(roc_auc({0.9, 0.1}, {false, true}), 0.0, 1e-12);
  EXPECT_NEAR(roc_auc({0.5, 0.5}, {false, true}), 0.5, 1e-12);
  EXPECT_TRUE(std::isnan(roc_auc({0.5, 0.7}, {true, true})));
}

TEST(Reflection, RetryCurveAndCheckQuality) {
  // q1: wrong (rejected), right (accepted)          → R=1 wrong, R=2 right; oracle right at R=2
  // q2: right (accepted)                             → right from R=1
  // q3: wrong (accepted), right (never reached)      → wrong at every R; oracle right at R=2
  std::vector<QuestionAttempts> qs = {{"add", {{false, 0.1, 4}, {true, 0.8, 6}}},
                                      {"add", {{true, 0.7, 3}, {false, 0.2, 9}}},
                                      {"sub", {{false, 0.6, 5}, {true, 0.9, 2}}}};
  const json curve = retry_curve(qs, 2);
  ASSERT_EQ(curve.size(), 2u);
  EXPECT_NEAR(curve[0]["accuracy"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(curve[0]["tokens_per_question"].get<double>(), (4 + 1 + 3 + 1 + 5 + 1) / 3.0, 1e-12);
  EXPECT_NEAR(curve[0]["oracle_accuracy"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(curve[1]["accuracy"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(curve[1]["tries_per_question"].get<double>(), (2 + 1 + 1) / 3.0, 1e-12);
  EXPECT_NEAR(curve[1]["tokens_per_question"].get<double>(), (4 + 1 + 6 + 1 + 3 + 1 + 5 + 1) / 3.0, 1e-12);
  EXPECT_NEAR(curve[1]["oracle_accuracy"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(curve[1]["oracle_tokens_per_question"].get<double>(), (4 + 6 + 3 + 5 + 2) / 3.0, 1e-12);
  EXPECT_EQ(curve[1]["per_task"]["sub"]["accuracy"], 0.0);

  const json q = check_quality(qs);
  EXPECT_EQ(q["n"], 6);
  // agree: q1 (wrong, no) (right, yes); q2 (right, yes) (wrong, no); q3 (wrong, yes ✗) (right, yes)
  EXPECT_NEAR(q["agreement"].get<double>(), 5.0 / 6, 1e-12);
  EXPECT_NEAR(q["yes_rate"].get<double>(), 4.0 / 6, 1e-12);
  EXPECT_NEAR(q["accepted_right"].get<double>(), 3.0 / 4, 1e-12);
  EXPECT_NEAR(q["rejected_wrong"].get<double>(), 2.0 / 3, 1e-12);
  // right scores 0.8, 0.7, 0.9 against wrong 0.1, 0.2, 0.6: every pair won
  EXPECT_NEAR(q["auc"].get<double>(), 1.0, 1e-12);
  EXPECT_TRUE(q["per_task"]["sub"].contains("auc"));
}

// Tree of thoughts' bookkeeping on a fake model whose lines and scores are known:
//   depth 1: "" → a (0.9), b (0.5), c (0.1)            keep a, b
//   depth 2: a → aA (0.2), aB (0.3), "Answer: 1" (0.4)  b → bA (0.8), bB (0.7), "Answer: 2" (0.95)
//            keep b+Answer: 2 (0.95, finished), bA (0.8)
//   depth 3: bA → bAx (0.1), bAy (0.05), "Answer: 3" (0.6)   keep the finished 0.95, and 0.6 (finished)
//   every kept partial finished: stop; the answer is "Answer: 2"'s path
TEST(TreeOfThoughts, BreadthFirstKeepsTheBestAndStopsWhenAllAreFinished) {
  std::map<std::string, double> scores = {
      {"a\n", 0.9}, {"b\n", 0.5}, {"c\n", 0.1},
      {"a\naA\n", 0.2}, {"a\naB\n", 0.3}, {"a\nAnswer: 1\n", 0.4},
      {"b\nbA\n", 0.8}, {"b\nbB\n", 0.7}, {"b\nAnswer: 2\n", 0.95},
      {"b\nbA\nbAx\n", 0.1}, {"b\nbA\nbAy\n", 0.05}, {"b\nbA\nAnswer: 3\n", 0.6}};
  std::vector<std::vector<std::string>> asked;  // the partials the proposer saw, per depth
  const ThoughtProposer propose = [&](const std::vector<std::string>& partials, int breadth) {
    EXPECT_EQ(breadth, 3);
    asked.push_back(partials);
    std::vector<std::vector<std::string>> out;
    for (const std::string& p : partials) {
      if (p.empty()) out.push_back({"a\n", "b\n", "c\n"});
      else if (p == "a\n") out.push_back({"aA\n", "aB\n", "Answer: 1\n"});
      else if (p == "b\n") out.push_back({"bA\n", "bB\n", "Answer: 2\n"});
      else out.push_back({"bAx\n", "bAy\n", "Answer: 3\n"});
    }
    return out;
  };
  const ThoughtScorer score = [&](const std::vector<std::string>& partials) {
    std::vector<double> out;
    for (const std::string& p : partials) out.push_back(scores.at(p));
    return out;
  };
  const ThoughtSearchResult r = tree_of_thoughts(propose, score, {3, 2, 8});
  EXPECT_EQ(r.solution, "b\nAnswer: 2\n");
  EXPECT_DOUBLE_EQ(r.score, 0.95);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.depth, 3);
  EXPECT_EQ(r.candidates, 3 + 6 + 3);
  ASSERT_EQ(asked.size(), 3u);
  EXPECT_EQ(asked[1], (std::vector<std::string>{"a\n", "b\n"}));
  EXPECT_EQ(asked[2], (std::vector<std::string>{"b\nbA\n"})) << "the finished partial is not expanded";
  // max_depth 1: no solution finished, the best partial is returned as such
  const ThoughtSearchResult shallow = tree_of_thoughts(propose, score, {3, 2, 1});
  EXPECT_EQ(shallow.solution, "a\n");
  EXPECT_FALSE(shallow.finished);
  // a proposer or a scorer that answers the wrong number of items is an error
  const ThoughtProposer short_proposer = [](const std::vector<std::string>&, int) {
    return std::vector<std::vector<std::string>>{};
  };
  EXPECT_THROW(tree_of_thoughts(short_proposer, score, {3, 2, 8}), std::runtime_error);
  EXPECT_THROW(tree_of_thoughts(propose, score, {0, 2, 8}), std::invalid_argument);
}

TEST(TreeOfThoughts, AFinishedThoughtHasAnAnswerLineOrStoppedMidLine) {
  EXPECT_FALSE(thought_finished(""));
  EXPECT_FALSE(thought_finished("40 + 2\n"));
  EXPECT_TRUE(thought_finished("40 + 2\nAnswer: 42\n"));
  EXPECT_FALSE(thought_finished("Answer: 42\nmore\n")) << "only the newest line counts";
  EXPECT_TRUE(thought_finished("40 + 2\nones: 0 +")) << "the reply stopped mid-line";
}
