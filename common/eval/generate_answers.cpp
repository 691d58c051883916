#include "common/eval/generate_answers.h"

#include <algorithm>
#include <stdexcept>

#include "common/generate/generate_batch.h"
#include "common/generate/tool_generate.h"

namespace sog {

// How an answer ended, from what its generator reports: `stopped` (by a stop id or the stop rule)
// is the stop id when the last token is one, else the stop rule.
static void finish_answer(Answer& answer, bool stopped, const AnswerSettings& settings, const Tokenizer& tok) {
  const auto& stops = settings.stop.stop_ids;
  if (!answer.ids.empty() && std::find(stops.begin(), stops.end(), answer.ids.back()) != stops.end()) {
    answer.stop_id = answer.ids.back();
  }
  answer.stop_rule = stopped && answer.stop_id < 0;
  answer.text = tok.decode(answer.ids);
}

std::vector<Answer> generate_answers(GPT& model, const Tokenizer& tok, const std::vector<AnswerRequest>& requests,
                                     const AnswerSettings& settings, std::span<const Person> people) {
  std::vector<Answer> out(requests.size());
  if (!settings.tools) {  // every prompt decoded together; row i is generate() on prompt i alone
    std::vector<std::vector<int32_t>> prompts;
    std::vector<uint64_t> seeds;
    for (const AnswerRequest& request : requests) {
      prompts.push_back(request.prompt);
      seeds.push_back(request.seed);
    }
    std::vector<Sampler> samplers = make_samplers(settings.sampling, seeds);
    BatchGenerateOptions options;
    options.max_new_tokens = settings.stop.max_new_tokens;
    options.stop_ids = settings.stop.stop_ids;
    if (settings.stop.should_stop) {
      options.should_stop = [&](int64_t, const std::vector<int32_t>& generated) {
        return settings.stop.should_stop(generated);
      };
    }
    std::vector<GeneratedRow> rows = generate_batch(model, prompts, options, samplers);
    for (size_t i = 0; i < requests.size(); i++) {
      out[i].ids = std::move(rows[i].tokens);
      finish_answer(out[i], rows[i].stopped, settings, tok);
    }
    return out;
  }
  for (size_t i = 0; i < requests.size(); i++) {  // tools: one prompt at a time, calls run as they close
    Answer& answer = out[i];
    ToolGenerateOptions options;
    options.generate = settings.stop;
    options.max_tool_calls = kMaxToolCallsPerAnswer;
    options.people = people;
    Sampler sampler(settings.sampling, requests[i].seed);
    const ToolTranscript transcript = generate_with_tools(model, requests[i].prompt, tok, options, sampler);
    answer.ids = transcript.tokens();
    answer.tool_calls = static_cast<int>(transcript.calls.size());
    finish_answer(answer, transcript.stopped_by_itself(), settings, tok);
  }
  return out;
}

AnswerGenerator model_answer_generator(GPT& model, const Tokenizer& tok, std::span<const Person> people) {
  return [&model, &tok, people](const std::vector<AnswerRequest>& requests, const AnswerSettings& settings) {
    return generate_answers(model, tok, requests, settings, people);
  };
}

}  // namespace sog
