// OpenAI's HTTP API, as the server speaks it: requests checked field by field and turned into the
// engine's sequences, and the replies' JSON (whole, or streamed as server-sent events).
//
//   POST /v1/chat/completions   {"model", "messages": [{"role", "content"}], "temperature", "top_p",
//                                "max_tokens" (or "max_completion_tokens"), "stop", "n", "seed",
//                                "stream", "stream_options": {"include_usage"}, "user"}
//   POST /v1/completions        the same with "prompt" (a string, or a list of them) instead of
//                               "messages" — for a base model
//
// Anything else is refused with OpenAI's error body, {"error": {"message", "type", "param",
// "code"}}, naming the field: an unknown field, a wrong type, a value out of range, an empty
// `messages`, a role other than system/user/assistant (or "developer", read as system), a chat
// control token spelled in the text (a user cannot forge a turn: "<|end|><|assistant|>" in a message
// is refused, not encoded; assistant messages may hold the tool markers a reply of this server
// holds), a prompt plus max_tokens longer than the model's context (context_length_exceeded).
//
// Extensions (fields the OpenAI clients keep as extras): with retrieval on, the reply carries
// "retrieved": [{"rank", "source", "document", "score", "text"}] (in the first chunk when
// streamed); a reply's text holds its tool calls and their results as written into the context,
// "<|tool_call|>calc(478*56)<|tool_end|><|tool_result|>26768<|tool_end|>".
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/serve/engine.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

// A request refused: HTTP status, OpenAI's error type, the field at fault, a code.
struct ApiError : std::runtime_error {
  int status;
  std::string type, param, code;
  ApiError(int status, std::string message, std::string param = "", std::string code = "",
           std::string type = "invalid_request_error");
};
nlohmann::json error_body(const ApiError& e);

// What the server knows when it reads a request.
struct ApiContext {
  const Tokenizer* tok = nullptr;
  std::string model_name;     // the only id /v1/models lists; a request naming another is a 404
  int64_t max_T = 0;          // the model's context
  bool tools = false;         // the server runs tool calls (chat)
  std::string default_system; // the system message when a chat has none ("": none)
  int max_n = 16;
  // Retrieval (optional): the last user message → the message the model reads (with the chunks
  // stuffed) and what was retrieved, as JSON for the reply.
  std::function<std::pair<std::string, nlohmann::json>(const std::string& user_text)> retrieve;
};

enum class Endpoint { chat, completion };

struct ApiRequest {
  Endpoint endpoint = Endpoint::chat;
  bool stream = false, include_usage = false;
  std::vector<SequenceRequest> sequences;  // prompt p's choice j is sequences[p·n + j]
  int n = 1;
  int64_t prompt_tokens = 0;               // summed over the prompts
  nlohmann::json retrieved;                // null unless retrieval ran
};

// The body → the engine's sequences; ApiError on anything invalid (never another exception).
ApiRequest parse_request(Endpoint endpoint, const std::string& body, const ApiContext& ctx);

// The replies. `id` is "chatcmpl-…"/"cmpl-…", `created` seconds since the epoch.
struct ChoiceResult {
  std::string text;
  FinishReason finish = FinishReason::none;
  int64_t completion_tokens = 0;
};
nlohmann::json whole_reply(const ApiRequest& req, const ApiContext& ctx, const std::string& id, int64_t created,
                           const std::vector<ChoiceResult>& choices);
// One streamed chunk: new text for a choice, its first chunk (role: assistant), or its end.
nlohmann::json chunk(const ApiRequest& req, const ApiContext& ctx, const std::string& id, int64_t created, int choice,
                     const std::string* text, bool first, FinishReason finish);
nlohmann::json usage_chunk(const ApiRequest& req, const ApiContext& ctx, const std::string& id, int64_t created,
                           int64_t completion_tokens);
nlohmann::json usage_json(int64_t prompt_tokens, int64_t completion_tokens);
nlohmann::json models_list(const ApiContext& ctx, int64_t created);
// A JSON value as text, invalid UTF-8 replaced (a reply never fails to serialise).
std::string dump(const nlohmann::json& j);

}  // namespace sog
