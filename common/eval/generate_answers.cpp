#include "common/eval/generate_answers.h"

#include <algorithm>
#include <stdexcept>

#include "common/generate/tool_generate.h"

namespace sog {

std::vector<Answer> generate_answers(GPT& model, const Tokenizer& tok, const std::vector<AnswerRequest>& requests,
                                     const AnswerSettings& settings, std::span<const Person> people) {
  std::vector<Answer> out;
  out.reserve(requests.size());
  for (const AnswerRequest& request : requests) {
    Answer answer;
    GenerateOptions options = settings.stop;
    if (settings.stop.should_stop) {  // the same rule, noting that it fired
      options.should_stop = [&](const std::vector<int32_t>& generated) {
        answer.stop_rule = settings.stop.should_stop(generated);
        return answer.stop_rule;
      };
    }
    Sampler sampler(settings.sampling, request.seed);
    if (settings.tools) {
      ToolGenerateOptions tool_options;
      tool_options.generate = options;
      tool_options.max_tool_calls = kMaxToolCallsPerAnswer;
      tool_options.people = people;
      const ToolTranscript transcript = generate_with_tools(model, request.prompt, tok, tool_options, sampler);
      answer.ids = transcript.tokens();
      answer.tool_calls = static_cast<int>(transcript.calls.size());
    } else {
      answer.ids = generate(model, request.prompt, options, sampler);
    }
    const auto& stops = settings.stop.stop_ids;
    if (!answer.ids.empty() && std::find(stops.begin(), stops.end(), answer.ids.back()) != stops.end()) {
      answer.stop_id = answer.ids.back();
    }
    answer.text = tok.decode(answer.ids);
    out.push_back(std::move(answer));
  }
  return out;
}

AnswerGenerator model_answer_generator(GPT& model, const Tokenizer& tok, std::span<const Person> people) {
  return [&model, &tok, people](const std::vector<AnswerRequest>& requests, const AnswerSettings& settings) {
    return generate_answers(model, tok, requests, settings, people);
  };
}

}  // namespace sog
