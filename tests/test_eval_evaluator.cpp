// common/eval: the whole evaluator run through a scripted generator (answers from a table: some
// right, some wrong, some malformed) into an exact table; the statistics; the generation seam on a
// real (tiny, random) model.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "byte_tokenizer.h"
#include "common/chat/chat_template.h"
#include "common/eval/eval_report.h"
#include "common/eval/evaluator.h"
#include "common/eval/generate_answers.h"
#include "common/generate/tool_generate.h"
#include "common/generate/generate.h"
#include "common/nn/gpt_config.h"
#include "common/tensor/random.h"
#include "common/nn/gpt.h"
#include "test_util.h"

using namespace sog;
using json = nlohmann::json;

namespace {

const Tokenizer& tok() { return sog::testing::shared_byte_tokenizer(); }

const std::vector<QuestionRow> kQuestions = {
    {"What is 2 + 3?", "5", "add"},  {"How old is Ann?", "54", "age"}, {"What is 4 + 4?", "8", "add"},
    {"What is 6 + 1?", "7", "add"},  {"How old is Bob?", "30", "age"}, {"What is 9 + 9?", "18", "add"},
};

struct Scripted {
  std::string text;
  int32_t stop_id;
  bool stop_rule;
};

// Answers from a table: question → one scripted answer per sample. It finds the question as the
// one of the table that comes last in the prompt, and records every request it was given.
struct ScriptedGenerator {
  std::map<std::string, std::vector<Scripted>> table;
  std::vector<std::pair<std::string, AnswerRequest>> requests;  // (question, request)
  AnswerSettings settings;

  AnswerGenerator generator() {
    return [this](const std::vector<AnswerRequest>& batch, const AnswerSettings& s) {
      settings = s;
      std::vector<Answer> out;
      for (const AnswerRequest& r : batch) {
        const std::string prompt = tok().decode(r.prompt);
        std::string question;
        size_t best = 0;
        for (const auto& [q, _] : table) {
          size_t at = prompt.rfind(q);
          if (at != std::string::npos && (question.empty() || at > best)) question = q, best = at;
        }
        if (question.empty()) throw std::logic_error("no scripted answer for the prompt " + prompt);
        int sample = 0;
        for (const auto& [q, _] : requests) sample += q == question;
        const Scripted& a = table.at(question).at(static_cast<size_t>(sample));
        requests.push_back({question, r});
        out.push_back({tok().encode(a.text, AllowedSpecial::all), a.text, a.stop_id, a.stop_rule});
      }
      return out;
    };
  }
};

EvalSpec sheet_spec() {
  EvalSpec spec;
  spec.prompt.format = PromptFormat::qa_fewshot;
  spec.prompt.shots = 0;
  spec.max_per_task = 3;
  spec.max_new_tokens = 8;
  spec.context_length = 64;
  spec.examples_kept = 2;
  return spec;
}

json interval(int correct, int total) {
  Interval i = wilson_interval(correct, total);
  return {i.low, i.high};
}

}  // namespace

TEST(EvalStatistics, WilsonScoreInterval) {
  Interval a = wilson_interval(0, 20);  // a textbook value: 0 of 20 is not "certainly 0"
  EXPECT_DOUBLE_EQ(a.low, 0.0);
  EXPECT_NEAR(a.high, 0.1611, 1e-4);
  Interval b = wilson_interval(5, 10);
  EXPECT_NEAR(b.low, 0.2366, 1e-4);
  EXPECT_NEAR(b.high, 0.7634, 1e-4);
  Interval c = wilson_interval(20, 20);
  EXPECT_NEAR(c.low, 0.8389, 1e-4);
  EXPECT_DOUBLE_EQ(c.high, 1.0);
  Interval none = wilson_interval(0, 0);
  EXPECT_EQ(none.low, 0.0);
  EXPECT_EQ(none.high, 1.0);
}

TEST(EvalStatistics, MajorityVote) {
  using V = std::vector<std::optional<std::string>>;
  EXPECT_EQ(majority_vote(V{"a", "b", "b"}), "b");
  EXPECT_EQ(majority_vote(V{"a", "b"}), "a") << "a tie goes to the answer sampled first";
  EXPECT_EQ(majority_vote(V{"b", "a", "a", "b"}), "b");
  EXPECT_EQ(majority_vote(V{std::nullopt, std::nullopt, "c"}), "c") << "no answer, no vote";
  EXPECT_EQ(majority_vote(V{std::nullopt}), std::nullopt);
}

// Greedy, on a Q/A sheet: right, wrong, malformed and stopped-by-length answers, graded into the
// exact table, JSON and Markdown.
TEST(Evaluator, ScriptedAnswersGiveTheExactTable) {
  ScriptedGenerator fake;
  fake.table = {
      {"What is 2 + 3?", {{" 5\n", -1, true}}},           // right, well-formed
      {"How old is Ann?", {{"\n\n", -1, true}}},          // no answer at all
      {"What is 4 + 4?", {{" 9\n", -1, true}}},           // wrong, well-formed
      {"What is 6 + 1?", {{" 7", -1, false}}},            // right, but ran out of tokens: malformed
      {"How old is Bob?", {{" Answer: 30\n", -1, true}}}, // right, not the direct format
      {"What is 9 + 9?", {{" 18\n", -1, true}}},          // never asked: max_per_task 3
  };
  const std::map<std::string, double> chance = {{"add", 0.005}, {"age", 0.0136986301369863}, {"mul", 0.0001}};
  const ShotPool pool(kQuestions);
  EvalReport r = run_evaluation(kQuestions, pool, tok(), sheet_spec(), fake.generator(), chance);

  ASSERT_EQ(fake.requests.size(), 5u);
  EXPECT_EQ(fake.settings.stop.max_new_tokens, 8);
  EXPECT_EQ(fake.settings.stop.stop_ids, std::vector<int32_t>{tok().eot_id()});
  EXPECT_FALSE(fake.settings.tools);
  EXPECT_EQ(fake.settings.sampling.temperature, 0.0f);
  EXPECT_EQ(tok().decode(fake.requests[1].second.prompt), "<|endoftext|>Q: How old is Ann?\nA:");

  const double all_chance = (0.005 * 3 + 0.0136986301369863 * 2) / 5;
  auto record = [](const std::string& task, const std::string& prompt, const std::string& answer,
                   const std::string& completion, bool formed) {
    return json{{"task", task}, {"prompt", prompt}, {"answer", answer}, {"completion", completion},
                {"well_formed", formed}, {"page", "Q: " + prompt + "\nA:"}};
  };
  auto question = [](const std::string& task, const std::string& prompt, const std::string& answer,
                     const std::string& completion, json extracted, bool correct, bool formed) {
    return json{{"task", task}, {"prompt", prompt}, {"answer", answer}, {"completions", {completion}},
                {"answers", json::array({extracted})}, {"correct", {correct}}, {"well_formed", {formed}}};
  };
  const json expected = {
      {"mode", "qa-fewshot"}, {"shots", 0}, {"seed", 1337}, {"max_new_tokens", 8}, {"max_per_task", 3},
      {"samples", 1}, {"temperature", 0.0}, {"top_k", 0}, {"top_p", 1.0}, {"system", ""},
      {"chain_of_thought", false}, {"tools", false},
      {"total", 5}, {"correct", 3}, {"well_formed", 2}, {"accuracy", 3.0 / 5}, {"well_formed_rate", 2.0 / 5},
      {"accuracy_interval", interval(3, 5)}, {"chance", all_chance},
      {"tasks",
       {{{"task", "add"}, {"total", 3}, {"correct", 2}, {"well_formed", 2}, {"accuracy", 2.0 / 3},
         {"well_formed_rate", 2.0 / 3}, {"accuracy_interval", interval(2, 3)}, {"chance", 0.005}},
        {{"task", "age"}, {"total", 2}, {"correct", 1}, {"well_formed", 0}, {"accuracy", 1.0 / 2},
         {"well_formed_rate", 0.0}, {"accuracy_interval", interval(1, 2)}, {"chance", 0.0136986301369863}}}},
      {"examples",
       {record("add", "What is 2 + 3?", "5", " 5\n", true), record("add", "What is 6 + 1?", "7", " 7", false)}},
      {"failures",
       {record("age", "How old is Ann?", "54", "\n\n", false), record("add", "What is 4 + 4?", "8", " 9\n", true)}},
      {"questions",
       {question("add", "What is 2 + 3?", "5", " 5\n", "5", true, true),
        question("age", "How old is Ann?", "54", "\n\n", nullptr, false, false),
        question("add", "What is 4 + 4?", "8", " 9\n", "9", false, true),
        question("add", "What is 6 + 1?", "7", " 7", "7", true, false),
        question("age", "How old is Bob?", "30", " Answer: 30\n", "30", true, false)}},
  };
  json got = report_json(r);
  EXPECT_EQ(got, expected) << got.dump(1);

  EXPECT_EQ(report_markdown(r),
            "mode qa-fewshot, 0-shot, greedy, at most 8 new tokens, seed 1337\n\n"
            "| task | questions | chance | accuracy | 95% interval | well-formed |\n"
            "|---|---:|---:|---:|---:|---:|\n"
            "| add | 3 | 0.50% | 66.7% (2/3) | 20.8–93.9% | 66.7% |\n"
            "| age | 2 | 1.4% | 50.0% (1/2) | 9.5–90.5% | 0.0% |\n"
            "| **all** | 5 | 0.85% | 60.0% (3/5) | 23.1–88.2% | 40.0% |\n");
}

// N samples at a temperature: each with its own seed, derived from (seed, row, sample); the first
// sample's accuracy and the majority vote's (self-consistency) side by side.
TEST(Evaluator, SamplesAndMajorityVote) {
  const int32_t end = ChatTokens(tok()).end;
  ScriptedGenerator fake;
  fake.table = {
      {"What is 2 + 3?", {{"5<|end|>", end, false}, {"6<|end|>", end, false}, {"6<|end|>", end, false}}},
      {"How old is Ann?", {{"54<|end|>", end, false}, {"<|end|>", end, false}, {"55<|end|>", end, false}}},
      {"What is 4 + 4?", {{"9<|end|>", end, false}, {"8<|end|>", end, false}, {"8<|end|>", end, false}}},
  };
  EvalSpec spec;
  spec.prompt.format = PromptFormat::chat;
  spec.prompt.shots = 3;  // chat takes none
  spec.context_length = 64;
  spec.max_per_task = 2;
  spec.samples = 3;
  spec.sampling = {0.8f, 0, 1.0f};
  spec.seed = 99;
  const std::vector<QuestionRow> questions(kQuestions.begin(), kQuestions.begin() + 3);
  EvalReport r = run_evaluation(questions, ShotPool(questions), tok(), spec, fake.generator());

  ASSERT_EQ(fake.requests.size(), 9u);
  for (size_t i = 0; i < 9; i++) {
    EXPECT_EQ(fake.requests[i].second.seed, sample_seed(99, i / 3, i % 3)) << i;
    EXPECT_EQ(fake.requests[i].first, questions[i / 3].prompt);
  }
  EXPECT_EQ(fake.settings.sampling.temperature, 0.8f);
  EXPECT_EQ(fake.settings.stop.stop_ids, (std::vector<int32_t>{tok().eot_id(), end}));

  json j = report_json(r);
  EXPECT_EQ(j["shots"], 0);
  EXPECT_EQ(j["samples"], 3);
  EXPECT_EQ(j["correct"], 2);       // first samples: 5 right, 54 right, 9 wrong
  EXPECT_EQ(j["vote_correct"], 2);  // votes: 6 wrong, 54 right (tie with 55, sampled first), 8 right
  EXPECT_EQ(j["well_formed"], 3);
  EXPECT_EQ(j["vote_interval"], interval(2, 3));
  EXPECT_EQ(j["tasks"][0]["task"], "add");
  EXPECT_EQ(j["tasks"][0]["correct"], 1);
  EXPECT_EQ(j["tasks"][0]["vote_correct"], 1);
  EXPECT_EQ(j["tasks"][0]["vote_accuracy"], 0.5);
  const json& q0 = j["questions"][0];
  EXPECT_EQ(q0["completions"], json({"5<|end|>", "6<|end|>", "6<|end|>"}));
  EXPECT_EQ(q0["answers"], json({"5", "6", "6"}));
  EXPECT_EQ(q0["correct"], json({true, false, false}));
  EXPECT_EQ(q0["vote"], "6");
  EXPECT_EQ(q0["vote_correct"], false);
  EXPECT_EQ(j["questions"][1]["answers"], json({"54", nullptr, "55"}));
  EXPECT_EQ(j["questions"][1]["vote"], "54");
  EXPECT_EQ(j["questions"][2]["vote_correct"], true);
  EXPECT_FALSE(j.contains("chance"));

  const std::string md = report_markdown(r);
  EXPECT_NE(md.find("mode chat, 3 samples at temperature 0.8, at most 24 new tokens, seed 99\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| task | questions | accuracy (first sample) | 95% interval | well-formed | majority of 3 | 95% interval |"),
            std::string::npos) << md;
  EXPECT_NE(md.find("| **all** | 3 | 66.7% (2/3) | 20.8–93.9% | 100.0% | 66.7% (2/3) | 20.8–93.9% |"), std::string::npos) << md;
}

// The examples are drawn as the chapters' commands always drew them: one Rng(seed), question after
// question, only for the questions asked; a sample's seed depends on its row alone.
TEST(Evaluator, ShotsAreDrawnFromOneStreamInQuestionOrder) {
  ScriptedGenerator fake;
  for (const QuestionRow& q : kQuestions) fake.table[q.prompt] = {{" " + q.answer + "\n", -1, true}};
  EvalSpec spec = sheet_spec();
  spec.prompt.shots = 2;
  spec.max_per_task = 2;
  const ShotPool pool(kQuestions);
  EvalReport r = run_evaluation(kQuestions, pool, tok(), spec, fake.generator());

  Rng rng(spec.seed);
  std::vector<size_t> rows;
  for (const QuestionResult& q : r.questions) {
    rows.push_back(q.row);
    EXPECT_EQ(q.page, qa_sheet(pool.draw(q.question, 2, rng), q.question.prompt));
  }
  EXPECT_EQ(rows, (std::vector<size_t>{0, 1, 2, 4}));
  EXPECT_EQ(fake.requests[3].second.seed, sample_seed(spec.seed, 4, 0));
  EXPECT_EQ(r.all.correct, 4);
  EXPECT_EQ(r.all.well_formed, 4);
}

// A prompt longer than the context keeps its last tokens, leaving room for the reply: the oldest
// examples go first.
TEST(Evaluator, LongPromptsKeepTheirLastTokens) {
  ScriptedGenerator fake;
  fake.table = {{"What is 2 + 3?", {{" 5\n", -1, true}}}, {"What is 4 + 4?", {{" 8\n", -1, true}}}};
  EvalSpec spec = sheet_spec();
  spec.prompt.shots = 1;
  spec.context_length = 24;
  spec.max_new_tokens = 4;
  const std::vector<QuestionRow> two = {kQuestions[0], kQuestions[2]};
  EvalReport r = run_evaluation(two, ShotPool(two), tok(), spec, fake.generator());
  ASSERT_EQ(fake.requests.size(), 2u);
  EXPECT_EQ(r.questions[0].page, "Q: What is 4 + 4?\nA: 8\nQ: What is 2 + 3?\nA:");
  EXPECT_EQ(fake.requests[0].second.prompt, tok().encode("Q: What is 2 + 3?\nA:"));  // 20 = 24 - 4 tokens
  EXPECT_EQ(r.all.correct, 2);
}

TEST(Evaluator, BadSettingsAreClearErrors) {
  ScriptedGenerator fake;
  auto error = [&](EvalSpec spec) {
    return sog::testing::error_of([&] { run_evaluation(kQuestions, ShotPool(kQuestions), tok(), spec, fake.generator()); });
  };
  EvalSpec s = sheet_spec();
  s.samples = 4;
  EXPECT_NE(error(s).find("--samples 4 with --temperature 0: every sample would be the same"), std::string::npos) << error(s);
  s = sheet_spec();
  s.samples = 0;
  EXPECT_NE(error(s).find("--samples 0"), std::string::npos);
  s = sheet_spec();
  s.max_new_tokens = 64;
  EXPECT_NE(error(s).find("--max-new-tokens 64 leaves no room for the prompt in the model's context of 64"), std::string::npos)
      << error(s);
  s = sheet_spec();
  s.prompt.system = "x";
  EXPECT_NE(error(s).find("qa-fewshot"), std::string::npos);
  EXPECT_TRUE(fake.requests.empty());
}

// The generation seam on a real model: each answer is generate() on its prompt alone, with a
// Sampler seeded by its request; how it stopped is recorded. With tools, generate_with_tools.
TEST(GenerateAnswers, EqualsGenerateRowByRow) {
  GPTConfig cfg = gpt_preset("nano", tok().n_vocab());
  GPT model(cfg);
  model.init_gpt2(11);
  const int32_t nl = tok().encode("\n")[0];
  AnswerSettings settings;
  settings.stop.max_new_tokens = 6;
  settings.stop.stop_ids = {tok().eot_id(), 'a', 'e'};
  settings.stop.should_stop = [&](const std::vector<int32_t>& ids) {
    return std::find(ids.begin(), ids.end(), nl) != ids.end() || std::find(ids.begin(), ids.end(), 'o') != ids.end();
  };
  std::vector<AnswerRequest> requests;
  for (int i = 0; i < 12; i++) {
    std::vector<int32_t> prompt = {tok().eot_id()};
    for (int32_t id : tok().encode("Q: " + std::to_string(i * 37) + "?\nA:")) prompt.push_back(id);
    requests.push_back({prompt, 1000u + static_cast<uint64_t>(i)});
  }
  for (float temperature : {0.0f, 1.5f}) {
    settings.sampling = {temperature, 0, 1.0f};
    const std::vector<Answer> answers = generate_answers(model, tok(), requests, settings);
    ASSERT_EQ(answers.size(), requests.size());
    for (size_t i = 0; i < requests.size(); i++) {
      Sampler sampler(settings.sampling, requests[i].seed);
      const std::vector<int32_t> alone = generate(model, requests[i].prompt, settings.stop, sampler);
      const Answer& a = answers[i];
      EXPECT_EQ(a.ids, alone) << i;
      EXPECT_EQ(a.text, tok().decode(a.ids));
      const bool on_id = !a.ids.empty() && (a.ids.back() == tok().eot_id() || a.ids.back() == 'a' || a.ids.back() == 'e');
      EXPECT_EQ(a.stop_id, on_id ? a.ids.back() : -1) << i;
      EXPECT_EQ(a.stop_rule, !on_id && settings.stop.should_stop(a.ids)) << i;
      EXPECT_TRUE(a.ids.size() == 6 || a.stopped()) << i;  // shorter than max_new_tokens: it stopped by itself
    }
  }
  // Tools on: each answer is generate_with_tools on its prompt alone (the runtime's results are part
  // of the answer, as the model read them), calls counted.
  settings.tools = true;
  settings.sampling = {1.5f, 0, 1.0f};
  const std::vector<Answer> with_tools = generate_answers(model, tok(), requests, settings);
  ASSERT_EQ(with_tools.size(), requests.size());
  for (size_t i = 0; i < requests.size(); i++) {
    Sampler sampler(settings.sampling, requests[i].seed);
    ToolGenerateOptions options;
    options.generate = settings.stop;
    options.max_tool_calls = kMaxToolCallsPerAnswer;
    const ToolTranscript alone = generate_with_tools(model, requests[i].prompt, tok(), options, sampler);
    EXPECT_EQ(with_tools[i].ids, alone.tokens()) << i;
    EXPECT_EQ(with_tools[i].tool_calls, static_cast<int>(alone.calls.size())) << i;
  }
  EvalSpec spec = sheet_spec();
  spec.context_length = cfg.max_T;
  spec.prompt.tools = true;
  const EvalReport report =
      run_evaluation(kQuestions, ShotPool(kQuestions), tok(), spec, model_answer_generator(model, tok()));
  EvalSpec plain = spec;
  plain.prompt.tools = false;
  const EvalReport without =
      run_evaluation(kQuestions, ShotPool(kQuestions), tok(), plain, model_answer_generator(model, tok()));
  ASSERT_EQ(report.questions.size(), without.questions.size());  // the same questions, asked with tools
  for (const QuestionResult& q : report.questions) EXPECT_EQ(q.samples.size(), 1u);
}
