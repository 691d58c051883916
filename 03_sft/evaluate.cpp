// `sft eval`: the chapter's table. Each held-out question is asked (greedily by default) and graded
// exactly by the world's grader (common/world/grader.h); accuracy is reported per task. The
// evaluator is common/eval's (evaluator.h); this file only loads the model it runs on.
//
//   chat         (a) a base model, zero-shot, in the chat format it never saw; (c), (d) the SFT
//                models. The prompt is the chat template's completion prompt:
//                  <|endoftext|><|user|>How old is Catherine?<|end|><|assistant|>
//                and the reply runs to <|end|> (or <|endoftext|>, or max_new_tokens).
//   fewshot-doc  (b) the talk's trick: a base model made to act as an assistant by a document
//                that looks like a transcript of one (chat_template.h), K solved examples of the
//                same task, then "User: QUESTION\nAssistant:"; the reply runs to the newline.
//   qa-fewshot   chapter 02's "Q:/A:" page, for reference (the format the base model pretrained on).
// Examples come (seeded) from --shots-from, never the question itself.
//
// Beside accuracy, "well-formed": the reply has the assistant's format whether right or wrong —
// the model stopped by itself (chat: it wrote <|end|>; a document: it ended the line) after one
// non-empty line (grader.h's direct format). SFT teaches the format first; the facts and the
// arithmetic have to be in the base model already.
#include "03_sft/evaluate.h"

#include <stdexcept>

#include "common/nn/load_model.h"

namespace sog {

using json = nlohmann::json;

json run_eval(const std::string& model_path, const std::string& lora_path, const std::string& tokenizer_dir,
              const EvalCommand& command) {
  Tokenizer tok = Tokenizer::load(tokenizer_dir);
  LoadedModel sm = load_model(model_path, lora_path, tok, tokenizer_dir);
  return run_eval_command(command, *sm.model, tok, {{"model", model_path}, {"lora", lora_path}, {"eval", command.eval_file}});
}

}  // namespace sog
