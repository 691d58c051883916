#include "common/generate/tool_generate.h"

#include <algorithm>
#include <stdexcept>

#include "common/autograd/tape.h"
#include "common/tokenizer/special_tokens.h"
#include "common/world/tools.h"

namespace sog {

std::string_view source_name(Source source) { return source == Source::model ? "model" : "runtime"; }

std::vector<int32_t> ToolTranscript::tokens() const {
  std::vector<int32_t> all;
  for (const TranscriptSegment& s : segments) all.insert(all.end(), s.tokens.begin(), s.tokens.end());
  return all;
}

namespace {

struct ToolIds {
  int32_t call, result, end;
  explicit ToolIds(const Tokenizer& tok)
      : call(tok.require_special_id(kToolCall, "generation with tools")),
        result(tok.require_special_id(kToolResult, "generation with tools")),
        end(tok.require_special_id(kToolEnd, "generation with tools")) {}
};

void append(ToolTranscript& t, Source source, std::span<const int32_t> ids) {
  if (t.segments.empty() || t.segments.back().source != source) t.segments.push_back({source, {}});
  t.segments.back().tokens.insert(t.segments.back().tokens.end(), ids.begin(), ids.end());
}

}  // namespace

std::vector<int32_t> encode_tool_observation(const Tokenizer& tok, std::string_view result) {
  const ToolIds t(tok);
  std::vector<int32_t> ids = {t.result};
  for (int32_t id : tok.encode(result, AllowedSpecial::none)) ids.push_back(id);
  ids.push_back(t.end);
  for (int32_t id : tok.encode("\n", AllowedSpecial::none)) ids.push_back(id);
  return ids;
}

ToolTranscript decode_with_tools(const std::vector<int32_t>& prompt, int64_t V, int64_t window, const Tokenizer& tok,
                                 const ToolGenerateOptions& options, Sampler& sampler,
                                 const ToolEventCallback& on_event, const CachedForward& forward) {
  if (prompt.empty()) throw std::invalid_argument("generate_with_tools: the prompt is empty (start from <|endoftext|>)");
  if (options.max_tool_calls < 0)
    throw std::invalid_argument("generate_with_tools: max_tool_calls must be >= 0, found " + std::to_string(options.max_tool_calls));
  const ToolIds ids(tok);
  const GenerateOptions& gen = options.generate;
  ToolTranscript out;
  std::vector<int32_t> context = prompt;  // prompt + transcript: what the model has read
  std::vector<int32_t> reply;             // the transcript's tokens (for should_stop)
  int64_t cached = 0;                     // positions the caches hold
  int64_t open_call = -1;                 // index in `reply` of the <|tool_call|> of an unclosed call
  auto prefill = [&](int64_t keep) {
    keep = std::min<int64_t>(keep, static_cast<int64_t>(context.size()));
    cached = keep;
    return forward(std::vector<int32_t>(context.end() - keep, context.end()), true);
  };
  // New tokens after the cached ones: one forward continuing the caches, or — when they would
  // overflow the window — a fresh prefill of the context's last window/2 tokens (decode_with_cache).
  auto feed = [&](const std::vector<int32_t>& fresh_ids) {
    const int64_t n = static_cast<int64_t>(fresh_ids.size());
    if (cached + n > window) return prefill(window / 2);
    cached += n;
    return forward(fresh_ids, false);
  };
  auto emit = [&](ToolEvent::Kind kind, int32_t token, const ToolCallRecord* call, const std::vector<int32_t>* obs) {
    if (on_event) on_event(ToolEvent{kind, token, call, obs});
  };

  Tensor logits = prefill(window);
  while (out.model_tokens < gen.max_new_tokens) {
    const int32_t next = sampler.sample(logits.f32(), static_cast<int>(V));
    append(out, Source::model, {&next, 1});
    context.push_back(next);
    reply.push_back(next);
    out.model_tokens++;
    emit(ToolEvent::Kind::model_token, next, nullptr, nullptr);
    if (std::find(gen.stop_ids.begin(), gen.stop_ids.end(), next) != gen.stop_ids.end()) {
      out.stop = StopReason::stop_id;
      break;
    }
    std::vector<int32_t> pending = {next};  // what the model has not read yet
    if (next == ids.call) open_call = static_cast<int64_t>(reply.size()) - 1;
    if (next == ids.result) open_call = -1;  // the model wrote a result itself: no call to run
    if (next == ids.end && open_call >= 0) {
      ToolCallRecord record;
      record.call = tok.decode(std::span<const int32_t>(reply).subspan(static_cast<size_t>(open_call)));
      open_call = -1;
      record.executed = static_cast<int64_t>(out.calls.size()) < options.max_tool_calls;
      out.calls.push_back(record);
      emit(ToolEvent::Kind::tool_call, -1, &out.calls.back(), nullptr);
      out.calls.back().result = record.executed ? run_tool_call(record.call, options.people)
                                                : "error: too many tool calls (at most " +
                                                      std::to_string(options.max_tool_calls) + " per answer)";
      const std::vector<int32_t> observation = encode_tool_observation(tok, out.calls.back().result);
      append(out, Source::runtime, observation);
      context.insert(context.end(), observation.begin(), observation.end());
      reply.insert(reply.end(), observation.begin(), observation.end());
      pending.insert(pending.end(), observation.begin(), observation.end());
      emit(ToolEvent::Kind::tool_result, -1, &out.calls.back(), &observation);
    }
    if (gen.should_stop && gen.should_stop(reply)) {
      out.stop = StopReason::should_stop;
      break;
    }
    if (out.model_tokens == gen.max_new_tokens) break;
    logits = feed(pending);
  }
  return out;
}

ToolTranscript generate_with_tools(GPT& model, const std::vector<int32_t>& prompt, const Tokenizer& tok,
                                   const ToolGenerateOptions& options, Sampler& sampler,
                                   const ToolEventCallback& on_event) {
  const GPTConfig& cfg = model.config();
  NoGradGuard no_grad;
  std::vector<KVCache> caches = model.make_caches(1, cfg.max_T);
  return decode_with_tools(prompt, cfg.V, cfg.max_T, tok, options, sampler, on_event, gpt_cached_forward(model, caches));
}

}  // namespace sog
