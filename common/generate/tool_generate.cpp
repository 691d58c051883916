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

void append(ToolTranscript& t, Source source, std::span<const int32_t> ids) {
  if (t.segments.empty() || t.segments.back().source != source) t.segments.push_back({source, {}});
  t.segments.back().tokens.insert(t.segments.back().tokens.end(), ids.begin(), ids.end());
}

}  // namespace

ToolIds::ToolIds(const Tokenizer& tok)
    : call(tok.require_special_id(kToolCall, "generation with tools")),
      result(tok.require_special_id(kToolResult, "generation with tools")),
      end(tok.require_special_id(kToolEnd, "generation with tools")) {}

std::vector<int32_t> encode_tool_observation(const Tokenizer& tok, std::string_view result) {
  const ToolIds t(tok);
  std::vector<int32_t> ids = {t.result};
  for (int32_t id : tok.encode(result, AllowedSpecial::none)) ids.push_back(id);
  ids.push_back(t.end);
  for (int32_t id : tok.encode("\n", AllowedSpecial::none)) ids.push_back(id);
  return ids;
}

ToolRuntime::ToolRuntime(const Tokenizer& tok, int max_tool_calls, std::span<const Person> people)
    : tok_(tok),
      ids_(tok),
      max_tool_calls_(max_tool_calls),
      people_(people) {
  if (max_tool_calls < 0)
    throw std::invalid_argument("generate_with_tools: max_tool_calls must be >= 0, found " + std::to_string(max_tool_calls));
}

const std::vector<int32_t>& ToolRuntime::on_model_token(int32_t token, const ToolEventCallback& on_event) {
  auto emit = [&](ToolEvent::Kind kind, int32_t id, const ToolCallRecord* call, const std::vector<int32_t>* obs) {
    if (on_event) on_event(ToolEvent{kind, id, call, obs});
  };
  observation_.clear();
  append(out_, Source::model, {&token, 1});
  reply_.push_back(token);
  out_.model_tokens++;
  emit(ToolEvent::Kind::model_token, token, nullptr, nullptr);
  if (token == ids_.call) open_call_ = static_cast<int64_t>(reply_.size()) - 1;
  if (token == ids_.result) open_call_ = -1;  // the model wrote a result itself: no call to run
  if (token != ids_.end || open_call_ < 0) return observation_;
  ToolCallRecord record;
  record.call = tok_.decode(std::span<const int32_t>(reply_).subspan(static_cast<size_t>(open_call_)));
  open_call_ = -1;
  record.executed = static_cast<int64_t>(out_.calls.size()) < max_tool_calls_;
  out_.calls.push_back(record);
  ToolCallRecord& call = out_.calls.back();
  emit(ToolEvent::Kind::tool_call, -1, &call, nullptr);
  call.result = call.executed ? run_tool_call(call.call, people_)
                              : "error: too many tool calls (at most " + std::to_string(max_tool_calls_) + " per answer)";
  observation_ = encode_tool_observation(tok_, call.result);
  append(out_, Source::runtime, observation_);
  reply_.insert(reply_.end(), observation_.begin(), observation_.end());
  emit(ToolEvent::Kind::tool_result, -1, &call, &observation_);
  return observation_;
}

ToolTranscript decode_with_tools(const std::vector<int32_t>& prompt, int64_t V, int64_t window, const Tokenizer& tok,
                                 const ToolGenerateOptions& options, Sampler& sampler,
                                 const ToolEventCallback& on_event, const CachedForward& forward) {
  if (prompt.empty()) throw std::invalid_argument("generate_with_tools: the prompt is empty (start from <|endoftext|>)");
  ToolRuntime runtime(tok, options.max_tool_calls, options.people);
  const GenerateOptions& gen = options.generate;
  ToolTranscript& out = runtime.transcript();
  std::vector<int32_t> context = prompt;  // prompt + transcript: what the model has read
  int64_t cached = 0;                     // positions the caches hold
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

  Tensor logits = prefill(window);
  while (out.model_tokens < gen.max_new_tokens) {
    const int32_t next = sampler.sample(logits.f32(), static_cast<int>(V));
    const std::vector<int32_t>& observation = runtime.on_model_token(next, on_event);
    std::vector<int32_t> pending = {next};  // what the model has not read yet
    pending.insert(pending.end(), observation.begin(), observation.end());
    context.insert(context.end(), pending.begin(), pending.end());
    if (std::find(gen.stop_ids.begin(), gen.stop_ids.end(), next) != gen.stop_ids.end()) {
      out.stop = StopReason::stop_id;
      break;
    }
    if (gen.should_stop && gen.should_stop(runtime.reply())) {
      out.stop = StopReason::should_stop;
      break;
    }
    if (out.model_tokens == gen.max_new_tokens) break;
    logits = feed(pending);
  }
  return std::move(out);
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
