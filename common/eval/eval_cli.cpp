#include "common/eval/eval_cli.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "common/eval/eval_report.h"
#include "common/io/atomic_file.h"
#include "common/io/metrics.h"
#include "common/world/people_file.h"
#include "common/world/question_set.h"
#include "common/world/render.h"

namespace sog {

void add_eval_flags(CLI::App* cmd, EvalCommand& c, bool choose_format) {
  EvalSpec& s = c.spec;
  cmd->add_option("--eval", c.eval_file, "JSONL of {prompt, answer, task} (e.g. the world's eval_test.jsonl)")->required();
  cmd->add_option("--shots-from", c.shots_from, "JSONL the examples are drawn from (default: --eval)");
  if (choose_format) {
    cmd->add_option("--mode", c.mode, "chat | fewshot-doc | qa-fewshot | solution-doc")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& name) -> std::string {
              try {
                prompt_format_from_name(name);
              } catch (const std::invalid_argument& e) {
                return e.what();
              }
              return "";
            },
            "MODE"));
    cmd->add_option("--system", s.prompt.system, "a system prompt (chat: a system message; fewshot-doc: a paragraph)");
    cmd->add_option("--persona", s.prompt.persona, "solution-doc: who solves — expert | student (default: no one named)");
  }
  cmd->add_option("--shots", s.prompt.shots, "solved examples in a few-shot prompt (0: zero-shot)")->capture_default_str();
  cmd->add_flag("--chain-of-thought", s.prompt.chain_of_thought,
                "ask for a worked solution (\"Think step by step.\"), graded on its \"Answer:\" line");
  cmd->add_flag("--tools", s.prompt.tools, "let the model call tools (calc, lookup) while it answers");
  cmd->add_option("--world", c.world, "a world folder: lookup answers from its people.jsonl (with --tools)");
  cmd->add_option("--max-per-task", s.max_per_task, "0: all questions")->capture_default_str();
  cmd->add_option("--max-new-tokens", s.max_new_tokens, "default with --chain-of-thought or --tools: at least 64")
      ->capture_default_str()
      ->each([&c](const std::string&) { c.max_new_tokens_given = true; });
  cmd->add_option("--samples", s.samples, "answers per question; above 1, the majority vote is reported too")
      ->capture_default_str();
  cmd->add_option("--temperature", s.sampling.temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", s.sampling.top_k, "0 = off")->capture_default_str();
  cmd->add_option("--top-p", s.sampling.top_p, "1 = off")->capture_default_str();
  cmd->add_option("--seed", s.seed, "draws the examples; seeds every sample")->capture_default_str();
  cmd->add_option("--manifest", c.manifest, "a world's manifest.json: the chance level of each task, in the table");
  cmd->add_option("--out", c.json_out, "write the results as JSON here");
  cmd->add_option("--markdown", c.markdown_out, "write the table as Markdown here");
}

nlohmann::json run_eval_command(const EvalCommand& c, GPT& model, const Tokenizer& tok, const nlohmann::json& header) {
  EvalSpec spec = c.spec;
  if (!c.mode.empty()) spec.prompt.format = prompt_format_from_name(c.mode);
  spec.context_length = model.config().max_T;
  if (!c.max_new_tokens_given && answer_format_of(spec.prompt) != AnswerFormat::direct) {
    spec.max_new_tokens = std::max(spec.max_new_tokens, std::min(kWorkedReplyTokens, spec.context_length / 2));
  }
  const std::vector<QuestionRow> questions = read_question_rows(c.eval_file);
  const ShotPool pool(read_question_rows(c.shots_from.empty() ? c.eval_file : c.shots_from));
  const std::map<std::string, double> chance = c.manifest.empty() ? std::map<std::string, double>{}
                                                                   : read_chance_levels(c.manifest);
  if (!c.world.empty() && !spec.prompt.tools) {
    throw std::invalid_argument("--world " + c.world + " is lookup's table: give --tools too");
  }
  const std::vector<Person> people = world_people(c.world);
  const EvalReport report =
      run_evaluation(questions, pool, tok, spec, model_answer_generator(model, tok, people), chance);

  const std::string markdown = report_markdown(report);
  std::fputs(markdown.c_str(), stdout);
  nlohmann::json j = report_json(report);
  j.update(header);
  if (!c.json_out.empty()) write_json_atomic(c.json_out, j);
  if (!c.markdown_out.empty()) write_file_atomic(c.markdown_out, markdown);
  return j;
}

}  // namespace sog
