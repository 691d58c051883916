#include "common/eval/techniques.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "common/eval/eval_cli.h"
#include "common/eval/eval_report.h"
#include "common/eval/generate_answers.h"
#include "common/io/progress.h"

namespace sog {

using json = nlohmann::json;

static constexpr Technique kTechniques[] = {Technique::fewshot, Technique::direct, Technique::cot,
                                            Technique::self_consistency, Technique::expert, Technique::tools};

const char* technique_name(Technique t) {
  switch (t) {
    case Technique::fewshot: return "fewshot";
    case Technique::direct: return "direct";
    case Technique::cot: return "cot";
    case Technique::self_consistency: return "self-consistency";
    case Technique::expert: return "expert";
    case Technique::tools: return "tools";
  }
  return "?";
}

Technique technique_from_name(const std::string& name) {
  for (Technique t : kTechniques)
    if (name == technique_name(t)) return t;
  throw std::invalid_argument("--technique '" + name + "': expected fewshot, direct, cot, self-consistency, expert or tools");
}

EvalSpec technique_spec(const TechniqueOptions& o, int64_t context_length) {
  EvalSpec s;
  s.max_per_task = o.max_per_task;
  s.seed = o.seed;
  s.context_length = context_length;
  PromptOptions& p = s.prompt;
  switch (o.technique) {
    case Technique::fewshot:
      p.format = PromptFormat::qa_fewshot;
      p.shots = o.shots;
      break;
    case Technique::direct: p.format = PromptFormat::chat; break;
    case Technique::cot:
      p.format = PromptFormat::chat;
      p.chain_of_thought = true;
      break;
    case Technique::self_consistency:
      p.format = PromptFormat::chat;
      p.chain_of_thought = o.cot;
      if (o.samples < 1) throw std::invalid_argument("--samples must be ≥ 1");
      if (!(o.temperature > 0)) throw std::invalid_argument("--temperature must be > 0: a vote needs samples that differ");
      s.samples = o.samples;
      s.sampling = {o.temperature, 0, 1.0f};
      break;
    case Technique::expert:
      p.format = PromptFormat::solution_doc;
      p.persona = o.persona == "none" ? "" : o.persona;  // validate() below refuses any other name
      break;
    case Technique::tools:
      p.format = PromptFormat::chat;
      p.tools = true;
      if (o.system == "none") p.no_system = true;
      else if (o.system != "tools") p.system = o.system;
      break;
  }
  const bool worked = answer_format_of(p) != AnswerFormat::direct;
  s.max_new_tokens = o.max_new_tokens > 0 ? o.max_new_tokens
                     : worked             ? std::min(kWorkedReplyTokens, std::max<int64_t>(1, context_length / 2))
                                          : 24;
  validate(s);
  return s;
}

static json settings_json(const TechniqueOptions& o, const EvalSpec& s) {
  json j = {{"format", prompt_format_name(s.prompt.format)}, {"max_new_tokens", s.max_new_tokens},
            {"max_per_task", o.max_per_task}, {"seed", o.seed}, {"chain_of_thought", s.prompt.chain_of_thought}};
  if (o.technique == Technique::fewshot) j["shots"] = o.shots;
  if (o.technique == Technique::self_consistency) j["samples"] = o.samples, j["temperature"] = o.temperature;
  if (o.technique == Technique::expert) j["persona"] = o.persona;
  if (o.technique == Technique::tools) j["system"] = o.system;
  return j;
}

MeasuredRun run_measured(GPT& model, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                         const ShotPool& pool, const EvalSpec& spec, std::span<const Person> people) {
  MeasuredRun run;
  const AnswerGenerator inner = model_answer_generator(model, tok, people);
  const AnswerGenerator counted = [&](const std::vector<AnswerRequest>& requests, const AnswerSettings& settings) {
    std::vector<Answer> answers = inner(requests, settings);
    for (const Answer& a : answers) run.tokens += static_cast<int64_t>(a.ids.size());
    return answers;
  };
  const double t0 = steady_seconds();
  run.report = run_evaluation(questions, pool, tok, spec, counted);
  run.wall_s = steady_seconds() - t0;
  for (const QuestionResult& q : run.report.questions)
    run.prompts_cut += static_cast<int64_t>(q.prompt_tokens) > spec.context_length - spec.max_new_tokens;
  return run;
}

void AccuracyTally::add(const std::string& task, bool right) {
  auto& t = by_task_[task];
  t.first += right, t.second++;
  correct_ += right, total_++;
}

json AccuracyTally::json() const {
  const Interval ci = wilson_interval(correct_, total_);
  nlohmann::json out = {{"accuracy", total_ ? static_cast<double>(correct_) / total_ : 0.0},
                        {"accuracy_interval", {ci.low, ci.high}}, {"n", total_}, {"per_task", nlohmann::json::object()}};
  for (const auto& [task, ct] : by_task_) {
    const Interval ti = wilson_interval(ct.first, ct.second);
    out["per_task"][task] = {{"accuracy", ct.second ? static_cast<double>(ct.first) / ct.second : 0.0},
                             {"accuracy_interval", {ti.low, ti.high}}, {"n", ct.second}};
  }
  return out;
}

json technique_row(const TechniqueOptions& o, const EvalReport& report, int64_t tokens, double wall_s) {
  const bool vote = report.spec.samples > 1;
  AccuracyTally tally;
  int first = 0;
  for (const QuestionResult& q : report.questions) {
    tally.add(q.question.task, vote ? q.vote_correct : q.samples.at(0).correct);
    first += q.samples.at(0).correct;
  }
  const int total = tally.total();
  json row = tally.json();
  row["technique"] = technique_name(o.technique);
  row["tokens_per_question"] = total ? static_cast<double>(tokens) / total : 0.0;
  row["wall_time_s"] = wall_s;
  row["settings"] = settings_json(o, report.spec);
  if (vote) row["first_sample_accuracy"] = total ? static_cast<double>(first) / total : 0.0;
  return row;
}

json vote_curve(const EvalReport& report, const std::vector<int>& ns, double tokens_per_sample) {
  json curve = json::array();
  for (int n : ns) {
    if (n < 1 || n > report.spec.samples) {
      throw std::invalid_argument("vote_curve: n = " + std::to_string(n) + " outside 1 … " +
                                  std::to_string(report.spec.samples) + " (the samples drawn)");
    }
    AccuracyTally tally;
    for (const QuestionResult& q : report.questions) {
      std::vector<std::optional<std::string>> answers;
      for (int s = 0; s < n; s++) answers.push_back(q.samples[s].extracted);
      const std::optional<std::string> v = majority_vote(answers);
      tally.add(q.question.task, answer_right(q.question, v));
    }
    json point = tally.json();
    point["samples"] = n;
    point["tokens_per_question"] = tokens_per_sample * n;
    curve.push_back(point);
  }
  return curve;
}

}  // namespace sog
