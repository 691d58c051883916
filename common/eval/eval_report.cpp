#include "common/eval/eval_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace sog {

using json = nlohmann::json;

Interval wilson_interval(int correct, int total, double z) {
  if (total <= 0) return {0.0, 1.0};
  const double n = total, p = correct / n, z2 = z * z;
  const double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

std::optional<std::string> majority_vote(const std::vector<std::optional<std::string>>& answers) {
  std::vector<std::pair<std::string, int>> tally;  // in first-sampled order
  for (const auto& a : answers) {
    if (!a) continue;
    auto it = std::find_if(tally.begin(), tally.end(), [&](const auto& t) { return t.first == *a; });
    if (it == tally.end()) tally.push_back({*a, 1});
    else it->second++;
  }
  if (tally.empty()) return std::nullopt;
  const auto* best = &tally.front();
  for (const auto& t : tally)
    if (t.second > best->second) best = &t;  // strictly more: a tie keeps the earlier answer
  return best->first;
}

static double rate(int k, int n) { return n ? static_cast<double>(k) / n : 0.0; }

// The counts and rates of one row of the table.
static json row_json(const TaskResult& t, int samples) {
  const Interval ci = wilson_interval(t.correct, t.total);
  json r = {{"correct", t.correct}, {"well_formed", t.well_formed}, {"total", t.total},
            {"accuracy", rate(t.correct, t.total)}, {"well_formed_rate", rate(t.well_formed, t.total)},
            {"accuracy_interval", {ci.low, ci.high}}};
  if (t.chance) r["chance"] = *t.chance;
  if (samples > 1) {
    const Interval vi = wilson_interval(t.vote_correct, t.total);
    r["vote_correct"] = t.vote_correct;
    r["vote_accuracy"] = rate(t.vote_correct, t.total);
    r["vote_interval"] = {vi.low, vi.high};
  }
  return r;
}

json report_json(const EvalReport& report) {
  const EvalSpec& s = report.spec;
  json j = row_json(report.all, s.samples);
  j.update({{"mode", prompt_format_name(s.prompt.format)}, {"shots", shots_in_prompt(s.prompt)}, {"seed", s.seed},
            {"max_new_tokens", s.max_new_tokens}, {"max_per_task", s.max_per_task}, {"samples", s.samples},
            {"temperature", s.sampling.temperature}, {"top_k", s.sampling.top_k}, {"top_p", s.sampling.top_p},
            {"system", system_prompt_of(s.prompt)}, {"chain_of_thought", s.prompt.chain_of_thought},
            {"tools", s.prompt.tools}});
  json tasks = json::array();
  for (const TaskResult& t : report.tasks) {
    json r = row_json(t, s.samples);
    r["task"] = t.task;
    tasks.push_back(r);
  }
  j["tasks"] = tasks;

  json examples = json::array(), failures = json::array(), questions = json::array();
  const size_t kept = static_cast<size_t>(std::max(0, s.examples_kept));
  for (const QuestionResult& q : report.questions) {
    const SampleResult& first = q.samples.front();
    json& list = first.correct ? examples : failures;
    if (list.size() < kept) {
      list.push_back({{"task", q.question.task}, {"prompt", q.question.prompt}, {"answer", q.question.answer},
                      {"completion", first.completion}, {"well_formed", first.well_formed}, {"page", q.page}});
    }
    json completions = json::array(), answers = json::array(), correct = json::array(), formed = json::array();
    for (const SampleResult& r : q.samples) {
      completions.push_back(r.completion);
      answers.push_back(r.extracted ? json(*r.extracted) : json(nullptr));
      correct.push_back(r.correct);
      formed.push_back(r.well_formed);
    }
    json record = {{"task", q.question.task}, {"prompt", q.question.prompt}, {"answer", q.question.answer},
                   {"completions", completions}, {"answers", answers}, {"correct", correct}, {"well_formed", formed}};
    if (s.samples > 1) {
      record["vote"] = q.vote ? json(*q.vote) : json(nullptr);
      record["vote_correct"] = q.vote_correct;
    }
    questions.push_back(record);
  }
  j["examples"] = examples;
  j["failures"] = failures;
  j["questions"] = questions;
  return j;
}

static std::string format(const char* fmt, double a, double b = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

static std::string percent(double x) { return format("%.1f%%", 100.0 * x); }

static std::string chance_text(const std::optional<double>& c) {
  if (!c) return "";
  return format(*c < 0.01 ? "%.2f%%" : "%.1f%%", 100.0 * *c);
}

// "33.3% (2/6) | 9.7–70.0%"
static std::string accuracy_cells(int correct, int total) {
  const Interval ci = wilson_interval(correct, total);
  return percent(rate(correct, total)) + " (" + std::to_string(correct) + "/" + std::to_string(total) + ") | " +
         format("%.1f–%.1f%%", 100.0 * ci.low, 100.0 * ci.high);
}

std::string report_markdown(const EvalReport& report) {
  const EvalSpec& s = report.spec;
  std::string md = "mode " + std::string(prompt_format_name(s.prompt.format));
  if (s.prompt.format != PromptFormat::chat) md += ", " + std::to_string(s.prompt.shots) + "-shot";
  if (!system_prompt_of(s.prompt).empty()) md += ", system prompt";
  if (s.prompt.chain_of_thought) md += ", chain of thought";
  if (s.prompt.tools) md += ", tools";
  if (s.sampling.temperature <= 0.0f) {
    md += ", greedy";
  } else {
    md += ", " + std::to_string(s.samples) + (s.samples == 1 ? " sample" : " samples") +
          format(" at temperature %g", s.sampling.temperature);
    if (s.sampling.top_k > 0) md += ", top-k " + std::to_string(s.sampling.top_k);
    if (s.sampling.top_p < 1.0f) md += format(", top-p %g", s.sampling.top_p);
  }
  md += ", at most " + std::to_string(s.max_new_tokens) + " new tokens, seed " + std::to_string(s.seed) + "\n\n";

  const bool with_chance =
      std::any_of(report.tasks.begin(), report.tasks.end(), [](const TaskResult& t) { return t.chance.has_value(); });
  const bool vote = s.samples > 1;
  md += "| task | questions |";
  if (with_chance) md += " chance |";
  md += vote ? " accuracy (first sample) |" : " accuracy |";
  md += " 95% interval | well-formed |";
  if (vote) md += " majority of " + std::to_string(s.samples) + " | 95% interval |";
  md += "\n|---|---:|";
  if (with_chance) md += "---:|";
  md += "---:|---:|---:|";
  if (vote) md += "---:|---:|";
  md += "\n";
  auto row = [&](const TaskResult& t, const std::string& name) {
    md += "| " + name + " | " + std::to_string(t.total) + " |";
    if (with_chance) md += " " + chance_text(t.chance) + " |";
    md += " " + accuracy_cells(t.correct, t.total) + " | " + percent(rate(t.well_formed, t.total)) + " |";
    if (vote) md += " " + accuracy_cells(t.vote_correct, t.total) + " |";
    md += "\n";
  };
  for (const TaskResult& t : report.tasks) row(t, t.task);
  row(report.all, "**all**");
  return md;
}

}  // namespace sog
