// A command that evaluates a model on a question set (`pretrain fewshot`, `sft eval`, and the later
// chapters'): its flags, spelled the same everywhere, and its run — read the question set, run the
// evaluator (evaluator.h) with the model's generation step, print the table, write it.
//
//   --eval F.jsonl --shots-from F.jsonl --shots K --max-per-task N --max-new-tokens N --seed S
//   --samples N --temperature T --top-k K --top-p P      N answers per question (self-consistency)
//   --chain-of-thought --tools --world DIR              (and, where the format is chosen: --mode,
//                                                       --system, --persona)
//   --manifest DIR/manifest.json                        the world's chance levels, for the table
//   --out F.json --markdown F.md                        the report (eval_report.h)
//
// The caller adds --model and --tokenizer (and whatever else loading its model needs), loads the
// model, and calls run_eval_command.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "common/eval/evaluator.h"
#include "common/nn/gpt.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

struct EvalCommand {
  std::string eval_file, shots_from;  // shots_from: default eval_file
  std::string manifest;               // a world's manifest.json: chance levels (optional)
  std::string world;                  // a world folder: its people.jsonl is lookup's table (--tools)
  std::string json_out, markdown_out;
  std::string mode;                   // --mode, when the command lets the user choose the format
  EvalSpec spec;                      // the caller's defaults (format, shots, max_new_tokens) first
  bool max_new_tokens_given = false;  // --max-new-tokens was on the command line
};

// A reply that works (--chain-of-thought) or calls tools (--tools) is longer than a direct answer:
// without --max-new-tokens it gets at least this many tokens (a calculator trace is about 30), or
// half the model's context if that is less.
constexpr int64_t kWorkedReplyTokens = 64;

// choose_format: the command has --mode (its default: c.mode) and --system; otherwise the format
// is c.spec.prompt.format. A bad --mode is refused while the command line is parsed.
void add_eval_flags(CLI::App* cmd, EvalCommand& c, bool choose_format);

// Evaluates the model (its context: model.config().max_T), prints the Markdown table to stdout
// and writes --out and --markdown (each atomically). The JSON is report_json's with `header`'s
// fields (model, eval file, …) added at the top level. Returns that JSON.
nlohmann::json run_eval_command(const EvalCommand& c, GPT& model, const Tokenizer& tok, const nlohmann::json& header);

}  // namespace sog
