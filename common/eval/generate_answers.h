// The evaluator's generation step, behind one function: many prompts in, one completion per
// prompt out, each with how it ended. Everything else of the evaluation (prompts, grading, the
// table) is built on this seam, so the way the completions are produced can change under it
// without changing anything else, nor any number:
//
//   requests (prompt ids, seed) ──generate_answers──▶ answers (ids, text, how it stopped)
//
//   batched    the prompts decoded together (generate_batch, common/generate/generate_batch.h),
//              each row with its own Sampler seeded by its request's seed; row i is exactly
//              generate() on prompt i alone: the same answers as one prompt at a time, faster
//   tools      tool calls run inside generation (calc, lookup) and continue from the KV cache
//              (generate_with_tools, common/generate/tool_generate.h): the answer is the whole
//              transcript, the runtime's results included, as the model read it
//
// Tests replace the whole step with a scripted AnswerGenerator (answers from a table).
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/generate/generate.h"
#include "common/generate/sampler.h"
#include "common/nn/gpt.h"
#include "common/tokenizer/tokenizer.h"
#include "common/world/people.h"

namespace sog {

struct AnswerRequest {
  std::vector<int32_t> prompt;  // ids, already cut to fit the model's context with the reply
  uint64_t seed = 0;            // the row's sampler seed (unused when greedy)
};

// What every row of one call shares.
struct AnswerSettings {
  GenerateOptions stop;                    // max_new_tokens, stop ids, stop rule (should_stop)
  SamplingConfig sampling{0.0f, 0, 1.0f};  // temperature 0: greedy
  bool tools = false;                      // run tool calls inside generation
};

struct Answer {
  std::vector<int32_t> ids;  // the new tokens, the stop id included
  std::string text;          // tok.decode(ids): special tokens as their strings
  int32_t stop_id = -1;      // the stop id it ended on, or -1
  bool stop_rule = false;    // it ended because the stop rule (should_stop) said so
  int tool_calls = 0;        // calls the model closed (tools on)
  // It stopped by itself, not because it reached max_new_tokens.
  bool stopped() const { return stop_id >= 0 || stop_rule; }
};

// Row i of the result answers requests[i].
using AnswerGenerator =
    std::function<std::vector<Answer>(const std::vector<AnswerRequest>& requests, const AnswerSettings& settings)>;

// The model's answers. With settings.tools, calls run with `people` as lookup's table (empty:
// lookup answers that no people are loaded) and at most kMaxToolCallsPerAnswer calls per answer.
constexpr int kMaxToolCallsPerAnswer = 4;
std::vector<Answer> generate_answers(GPT& model, const Tokenizer& tok, const std::vector<AnswerRequest>& requests,
                                     const AnswerSettings& settings, std::span<const Person> people = {});

// generate_answers on this model, tokenizer and people (all must outlive the generator).
AnswerGenerator model_answer_generator(GPT& model, const Tokenizer& tok, std::span<const Person> people = {});

}  // namespace sog
