// `sft eval`: accuracy per task on the world's held-out questions, in the three ways the chapter's
// table compares (see evaluate.cpp). Models load through common/nn/load_model.h (a checkpoint,
// optionally with a LoRA adapter attached, not merged).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/eval/eval_cli.h"

namespace sog {

// `sft eval`: the evaluator (common/eval) on the model, with an optional adapter attached. The
// chapter's table compares the formats (--mode):
//   chat         the chat template: <|user|>QUESTION<|end|><|assistant|> → reply up to <|end|>
//   fewshot-doc  the talk's "assistant document" for a base model (chat_template.h), K examples
//   qa-fewshot   chapter 02's page of "Q: …\nA: …" lines, K examples
// Returns the report's JSON (eval_report.h) with "model", "lora" and "eval" added.
nlohmann::json run_eval(const std::string& model_path, const std::string& lora_path, const std::string& tokenizer_dir,
                        const EvalCommand& command);

}  // namespace sog
