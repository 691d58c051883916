// Generation that runs tools: the model writes a call, the runtime executes it and writes the
// result into the context, and the model goes on from there — the loop of ReAct and Toolformer,
// on the world's call syntax (common/world/tools.h).
//
//   model    Thought: I will use the calculator.\n<|tool_call|>calc(478*56)<|tool_end|>
//   runtime                                      <|tool_result|>26768<|tool_end|>\n
//   model    Answer: 26768<|end|>
//
// Token by token (the three tool markers are special tokens, one id each):
//   1. decode as generate.h does: prefill the prompt once, then one position per sampled token
//      through the KV cache;
//   2. when the model samples <|tool_end|> and its last <|tool_call|> has no <|tool_result|> and no
//      <|tool_end|> after it, the tokens from that <|tool_call|> on are a call: decoded to text, run
//      by run_tool_call (calculator, lookup on the given people), its result becomes the tokens
//      encode_tool_observation(result) — the bytes of tool_observation(result), the same ids the
//      SFT traces trained on;
//   3. <|tool_end|> and the observation go through the model in ONE forward that continues the
//      caches: the context is never prefilled again. Only when the caches would overflow the
//      window does the loop slide as decode_with_cache does (the last window/2 tokens of the whole
//      context, observation included, are prefilled afresh);
//   4. generation continues until a stop id, should_stop, or max_new_tokens MODEL tokens (the
//      runtime's tokens are not counted: a result never cuts an answer short).
//
// Bounded calls: at most max_tool_calls calls per generation are run. A call beyond that is not
// run; the runtime answers it with the observation "error: too many tool calls (at most N per
// answer)" and generation goes on, so the model can still answer from what it has (a model stuck
// in calls ends at max_new_tokens). A bad call (unparsable, unknown tool or person, overflow, …) is
// answered by its "error: …" observation, never an exception. A call closed by the last allowed
// token is still run and its result appended, so a transcript never ends on an unanswered call.
//
// Departure from a text-level runtime (pending_tool_call on decoded text): the check is on token
// ids, so ordinary text that merely spells "<|tool_end|>" never triggers a call, and the result
// text is encoded as ordinary text (a result can never forge a control token).
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/generate/generate.h"
#include "common/generate/sampler.h"
#include "common/nn/gpt.h"
#include "common/tokenizer/tokenizer.h"
#include "common/world/people.h"

namespace sog {

// Who wrote a stretch of the transcript.
enum class Source { model, runtime };
std::string_view source_name(Source source);  // "model", "runtime"

struct TranscriptSegment {
  Source source = Source::model;
  std::vector<int32_t> tokens;
};

struct ToolCallRecord {
  std::string call;    // as the model wrote it: "<|tool_call|>calc(478*56)<|tool_end|>"
  std::string result;  // what the runtime answered: "26768", "error: division by zero", …
  bool executed = true;  // false: past max_tool_calls, answered with the limit's error unrun
};

enum class StopReason { stop_id, should_stop, max_new_tokens };

struct ToolTranscript {
  // Model and runtime segments in order (consecutive tokens of one source share a segment).
  std::vector<TranscriptSegment> segments;
  std::vector<ToolCallRecord> calls;  // every call the model closed, in order
  int64_t model_tokens = 0;           // tokens the model wrote (≤ max_new_tokens)
  StopReason stop = StopReason::max_new_tokens;
  // True when the model ended by itself (a stop id, or should_stop), false when cut at max_new_tokens.
  bool stopped_by_itself() const { return stop != StopReason::max_new_tokens; }
  std::vector<int32_t> tokens() const;  // every segment, in order: the whole reply
};

struct ToolGenerateOptions {
  // max_new_tokens counts model tokens; should_stop sees the whole transcript so far (model and
  // runtime tokens), after the runtime has answered a call the model just closed.
  GenerateOptions generate;
  int max_tool_calls = 8;         // calls run per generation; later calls get the limit's error
  std::span<const Person> people;  // lookup's table (empty: lookup answers that none are loaded)
};

// What happened, as it happens, for a live display:
//   model_token  the model wrote `token`
//   tool_call    the model closed `call` (result not yet known)
//   tool_result  the runtime answered `call`, and `observation` are the tokens it fed the model
struct ToolEvent {
  enum class Kind { model_token, tool_call, tool_result };
  Kind kind = Kind::model_token;
  int32_t token = -1;
  const ToolCallRecord* call = nullptr;
  const std::vector<int32_t>* observation = nullptr;
};
using ToolEventCallback = std::function<void(const ToolEvent&)>;

// "<|tool_result|>" RESULT "<|tool_end|>" "\n" as ids: the markers as their special ids, the result
// and the newline as ordinary text (AllowedSpecial::none). Equal to the ids the chat template gives
// the same observation inside an SFT trace (encode_assistant_text).
std::vector<int32_t> encode_tool_observation(const Tokenizer& tok, std::string_view result);

// The three tool tokens' ids, looked up in this order (std::runtime_error naming the first one the
// tokenizer lacks).
struct ToolIds {
  int32_t call, result, end;
  explicit ToolIds(const Tokenizer& tok);
};

// The runtime's half of generation with tools, one model token at a time: it records the
// transcript, and when the model closes a call (step 2 above) it runs it and returns the
// observation's ids — the tokens the model must read next, after the one it wrote. decode_with_tools
// drives one over a sequence; the server (common/serve) one per row of its batch.
class ToolRuntime {
 public:
  // Throws std::runtime_error when the tokenizer lacks the tool tokens. `tok` and `people` must
  // outlive the runtime.
  ToolRuntime(const Tokenizer& tok, int max_tool_calls, std::span<const Person> people);
  // The model wrote `token` (on_event hears it, then a call and its result if it closed one).
  // Returns the runtime's tokens to feed after it: empty unless a call was closed.
  const std::vector<int32_t>& on_model_token(int32_t token, const ToolEventCallback& on_event = {});
  ToolTranscript& transcript() { return out_; }
  const std::vector<int32_t>& reply() const { return reply_; }  // every token so far, both sources

 private:
  const Tokenizer& tok_;
  ToolIds ids_;
  int max_tool_calls_;
  std::span<const Person> people_;
  ToolTranscript out_;
  std::vector<int32_t> reply_;
  std::vector<int32_t> observation_;  // the last call's, or empty
  int64_t open_call_ = -1;            // index in reply_ of the <|tool_call|> of an unclosed call
};

// The loop over any model: forward(ids, fresh) is decode_with_cache's CachedForward (feed ids after
// the cached positions, or into empty caches when fresh; return the last logits, (1, Vp) on the
// host). `window` is the most positions the caches hold (the model's maxT). Throws
// std::runtime_error when the tokenizer lacks the tool tokens.
ToolTranscript decode_with_tools(const std::vector<int32_t>& prompt, int64_t V, int64_t window, const Tokenizer& tok,
                                 const ToolGenerateOptions& options, Sampler& sampler,
                                 const ToolEventCallback& on_event, const CachedForward& forward);

// On the CPU GPT, with its KV caches. With no call written, the tokens equal generate()'s for the
// same sampler state.
ToolTranscript generate_with_tools(GPT& model, const std::vector<int32_t>& prompt, const Tokenizer& tok,
                                   const ToolGenerateOptions& options, Sampler& sampler,
                                   const ToolEventCallback& on_event = {});

}  // namespace sog
