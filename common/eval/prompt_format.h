// How a question is put to a model (the prompt) and how its reply ends (the stop rules), in three
// named formats — the names are `sft eval --mode`'s. Every prompt starts with <|endoftext|>, the
// token the model saw before every document.
//
//   qa-fewshot   chapter 02's Q/A sheet: K solved questions of the same task, then the question
//                (question_set.h); the reply runs to the end of the line.
//                  <|endoftext|>Q: What is 12 + 7?
//                  A: 19
//                  Q: What is 40 + 2?
//                  A:
//   fewshot-doc  the talk's "assistant document" for a base model (chat_template.h), K examples;
//                the reply runs to the end of the line.
//                  <|endoftext|>The following is a conversation between a user and a helpful,
//                  accurate assistant. The assistant gives the answer alone, on one line.
//
//                  [SYSTEM PROMPT, a paragraph of its own]
//
//                  User: What is 12 + 7?
//                  Assistant: 19
//
//                  User: What is 40 + 2?
//                  Assistant:
//   chat         the chat template's completion prompt (chat_template.h), no examples; the reply
//                runs to <|end|>.
//                  <|endoftext|>[<|system|> SYSTEM PROMPT<|end|>]<|user|> What is 40 + 2?<|end|><|assistant|>
//   solution-doc the world's worked-solution document, as the base model read it in pretraining:
//                the question, then who solves it (options.persona); no examples; the reply is a
//                worked solution, over when its "Answer:" line ends or the next question begins.
//                  <|endoftext|>Q: What is 40 + 2?
//                  Expert solution:          persona "expert" ("student": Student solution:;
//                                            "": nothing — the model picks who writes)
//
// Every reply also ends at <|endoftext|> and after max_new_tokens.
//
// Options:
//   shots             solved examples, drawn by the caller (ShotPool); chat takes none
//   system            chat: a system message; fewshot-doc: a paragraph after the header;
//                     qa-fewshot: refused (the sheet has no place for one)
//   chain_of_thought  the question (not the examples' questions, whose answers are direct) ends
//                     with " Think step by step." (task.h's step_by_step_suffix, as in the world's
//                     SFT conversations), and the reply is a worked solution: in a document it runs
//                     until the line holding "Answer:" ends, or until the next question begins
//                     ("\nQ:" on a sheet, "\nUser:" in a document). It is graded the way the
//                     world's grader grades worked solutions (grader.h: the answer is the last
//                     "Answer:" line's; all "Answer:" lines must agree), and its format is worked.
//   tools             the reply may call tools; its format is tool; the system prompt defaults to
//                     the world's tools_system_prompt (task.h) in chat and fewshot-doc. A document
//                     reply ends as with chain of thought.
//
// Well-formed: the reply ended its turn by itself — chat: on <|end|>; a document: on its stop
// rule (the end of the line, or of the "Answer:" line) — not on <|endoftext|> nor at
// max_new_tokens, and it has the world's format for what was asked (grader.h's is_well_formed:
// direct, worked or tool).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/eval/generate_answers.h"
#include "common/generate/generate.h"
#include "common/tokenizer/tokenizer.h"
#include "common/world/question_set.h"
#include "common/world/task.h"

namespace sog {

enum class PromptFormat { qa_fewshot, fewshot_doc, chat, solution_doc };
std::string_view prompt_format_name(PromptFormat format);  // "qa-fewshot", "fewshot-doc", "chat", "solution-doc"
// Throws std::invalid_argument naming the valid names.
PromptFormat prompt_format_from_name(std::string_view name);

struct PromptOptions {
  PromptFormat format = PromptFormat::chat;
  int shots = 0;
  std::string system;
  bool chain_of_thought = false;
  bool tools = false;
  bool no_system = false;  // tools on without the default tools prompt: no system message at all
  std::string persona;  // solution-doc: "expert", "student" or "" (no one named)
};

// Throws std::invalid_argument for shots < 0, a system prompt on a Q/A sheet or a solution
// document, a persona other than expert/student/"" or outside a solution document, and examples,
// tools or chain of thought in a solution document (it is a worked solution already).
void validate(const PromptOptions& options);
// The examples a prompt holds: options.shots, 0 in chat.
int shots_in_prompt(const PromptOptions& options);
// The system prompt used: options.system, or tools_system_prompt with tools on (chat, fewshot-doc)
// unless no_system.
std::string system_prompt_of(const PromptOptions& options);
// What the reply should look like: tool with tools on, worked with chain of thought or in a
// solution document, else direct.
AnswerFormat answer_format_of(const PromptOptions& options);

struct EvalPrompt {
  std::string page;          // the prompt as text, without the <|endoftext|> it starts with
  std::vector<int32_t> ids;  // what the model reads: <|endoftext|> + the page's tokens (uncut)
};
EvalPrompt build_prompt(const Tokenizer& tok, const PromptOptions& options, const SolvedExamples& shots,
                        const std::string& question);

// How a reply ends, and whether it is well-formed (the rules above). Holds a reference to tok.
struct ReplyRules {
  GenerateOptions stop;   // max_new_tokens, stop ids, stop rule
  int32_t turn_end = -1;  // chat: <|end|>; documents: -1 (the stop rule ends the turn)
  AnswerFormat format = AnswerFormat::direct;
  bool ended_turn(const Answer& answer) const;
  bool well_formed(const Answer& answer) const;
};
ReplyRules reply_rules(const Tokenizer& tok, const PromptOptions& options, int64_t max_new_tokens);

}  // namespace sog
