// `sft eval`: accuracy per task on the world's held-out questions, in the three ways the chapter's
// table compares (see evaluate.cpp), and the model loading every subcommand shares.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/eval/eval_cli.h"
#include "common/nn/gpt.h"
#include "common/nn/lora.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

// A checkpoint, optionally with a LoRA adapter attached (not merged: the adapter path runs beside
// the frozen weights, exactly as in training). Heap-held so the attached pointer stays valid.
struct SftModel {
  std::unique_ptr<GPT> model;
  std::unique_ptr<LoRA> lora;
};
// Checks that the tokenizer's vocabulary is the model's, naming both files when not.
SftModel load_sft_model(const std::string& model_path, const std::string& lora_path, const Tokenizer& tok,
                        const std::string& tokenizer_dir);

// `sft eval`: the evaluator (common/eval) on the model, with an optional adapter attached. The
// chapter's table compares the formats (--mode):
//   chat         the chat template: <|user|>QUESTION<|end|><|assistant|> → reply up to <|end|>
//   fewshot-doc  the talk's "assistant document" for a base model (chat_template.h), K examples
//   qa-fewshot   chapter 02's page of "Q: …\nA: …" lines, K examples
// Returns the report's JSON (eval_report.h) with "model", "lora" and "eval" added.
nlohmann::json run_eval(const std::string& model_path, const std::string& lora_path, const std::string& tokenizer_dir,
                        const EvalCommand& command);

}  // namespace sog
