// `prompting serve`: the model behind OpenAI's HTTP API, and a web chat at `/` (cpp-httplib).
//
//   GET  /                      the web chat (one page, compiled in: common/serve/web/chat.html)
//   GET  /health                {"status": "ok", "live", "queued", "rows", "steps", "tokens", …}
//   GET  /v1/models             the one model served
//   POST /v1/chat/completions   openai_api.h (whole, or streamed: server-sent events, then [DONE])
//   POST /v1/completions        the same for a base model's plain text
//
// Every request is read and checked on its HTTP thread; its sequences then go to the one engine
// thread (engine.h), which batches them with whatever else is running. A client that disconnects
// — streaming or not — cancels its sequences at the next step. Errors are OpenAI's JSON with the
// status that fits: 400 a bad request, 404 an unknown path or model, 413 a body over the limit,
// 503 the queue is full, 500 the model failed.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "common/serve/engine.h"
#include "common/serve/openai_api.h"

namespace sog {

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless told otherwise
  int port = 8000;                 // 0: any free port (the one bound is printed and given to on_listen)
  size_t max_body_bytes = 1 << 20;
  int http_threads = 64;           // connections served at once (a streaming reply holds one)
  std::function<void(int port)> on_listen;  // called once the socket is bound, before serving
};

// Serves until the process is interrupted (SIGINT, SIGTERM); returns the exit code.
int serve(Engine& engine, const ApiContext& ctx, const ServerOptions& options);

// The web chat page (HTML + JS, no external resource).
const std::string& web_chat_page();

}  // namespace sog
