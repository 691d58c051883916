#include "common/serve/server.h"

#include <httplib.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>

#include "common/chat/chat_template.h"

namespace sog {

using json = nlohmann::json;

namespace {

httplib::Server* g_server = nullptr;  // for the signal handler
extern "C" void stop_on_signal(int) {
  if (g_server) g_server->stop();
}

std::string new_id(const char* prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char hex[25];
  std::snprintf(hex, sizeof hex, "%016llx%08llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng() & 0xFFFFFFFFu));
  return std::string(prefix) + hex;
}

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(dump(error_body(e)), "application/json");
}

constexpr std::chrono::milliseconds kPoll{50};  // how often a waiting reply checks its client is still there

// The events of one request turned into what the client reads. A chat reply's text starts after
// the template's space (reply_text), so each choice's first text loses it.
class ReplyState {
 public:
  ReplyState(const ApiRequest& req) : req_(req), results_(req.sequences.size()), started_(req.sequences.size()) {}
  // Returns the text of e to send (possibly empty); records the choice's end.
  std::string take(const SequenceEvent& e) {
    std::string text = e.text;
    const size_t c = static_cast<size_t>(e.choice);
    if (req_.endpoint == Endpoint::chat && !started_[c] && !text.empty()) text = std::string(reply_text(text));
    if (!e.text.empty()) started_[c] = true;
    ChoiceResult& r = results_[c];
    r.text += text;
    if (e.finish != FinishReason::none) {
      r.finish = e.finish;
      r.completion_tokens = e.completion_tokens;
      completion_tokens_ += e.completion_tokens;
      if (e.finish == FinishReason::error && error_.empty()) error_ = e.error;
    }
    return text;
  }
  const std::vector<ChoiceResult>& results() const { return results_; }
  int64_t completion_tokens() const { return completion_tokens_; }
  const std::string& error() const { return error_; }

 private:
  const ApiRequest& req_;
  std::vector<ChoiceResult> results_;
  std::vector<bool> started_;
  int64_t completion_tokens_ = 0;
  std::string error_;
};

ApiError model_failed(const std::string& what) {
  return ApiError(500, "the model failed: " + what, "", "model_error", "server_error");
}

void handle_completion(Engine& engine, const ApiContext& ctx, Endpoint endpoint, const httplib::Request& http,
                       httplib::Response& res) {
  auto req = std::make_shared<ApiRequest>();
  std::shared_ptr<Generation> gen;
  try {
    *req = parse_request(endpoint, http.body, ctx);
    gen = engine.submit(req->sequences);
  } catch (const ApiError& e) {
    return send_error(res, e);
  } catch (const QueueFull& e) {
    return send_error(res, ApiError(503, e.what(), "", "server_busy", "server_error"));
  }
  const std::string id = new_id(endpoint == Endpoint::chat ? "chatcmpl-" : "cmpl-");
  const int64_t created = now_seconds();
  const ApiContext* c = &ctx;
  auto cancel_unless_done = [gen](bool success) {
    if (!success) gen->cancel();
  };
  if (req->stream) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [req, gen, id, created, c](size_t, httplib::DataSink& sink) {
          auto send = [&](const json& j) {
            const std::string s = "data: " + dump(j) + "\n\n";
            return sink.write(s.data(), s.size());
          };
          ReplyState state(*req);
          const int choices = static_cast<int>(req->sequences.size());
          for (int i = 0; i < choices; i++) {
            const std::string empty;
            if (req->endpoint == Endpoint::chat && !send(chunk(*req, *c, id, created, i, &empty, true, FinishReason::none))) {
              gen->cancel();
              return false;
            }
          }
          while (!gen->done()) {
            for (const SequenceEvent& e : gen->wait(kPoll)) {
              const std::string text = state.take(e);
              bool ok = true;
              if (e.finish == FinishReason::error) {
                ok = send(error_body(model_failed(e.error)));
              } else {
                if (!text.empty()) ok = send(chunk(*req, *c, id, created, e.choice, &text, false, FinishReason::none));
                if (ok && e.finish != FinishReason::none)
                  ok = send(chunk(*req, *c, id, created, e.choice, nullptr, false, e.finish));
              }
              if (!ok) {
                gen->cancel();
                return false;
              }
            }
            if (!sink.is_writable()) {  // the client left
              gen->cancel();
              return false;
            }
          }
          if (req->include_usage && !send(usage_chunk(*req, *c, id, created, state.completion_tokens()))) return false;
          static const std::string done = "data: [DONE]\n\n";
          sink.write(done.data(), done.size());
          sink.done();
          return true;
        },
        cancel_unless_done);
    return;
  }
  // Whole: the reply is written when every choice has ended; meanwhile the connection is watched
  // (through the same chunked writer), so a client that gives up cancels the work.
  res.set_chunked_content_provider(
      "application/json",
      [req, gen, id, created, c](size_t, httplib::DataSink& sink) {
        ReplyState state(*req);
        while (!gen->done()) {
          for (const SequenceEvent& e : gen->wait(kPoll)) state.take(e);
          if (!sink.is_writable()) {
            gen->cancel();
            return false;
          }
        }
        const std::string body = state.error().empty() ? dump(whole_reply(*req, *c, id, created, state.results()))
                                                       : dump(error_body(model_failed(state.error())));
        sink.write(body.data(), body.size());
        sink.done();
        return true;
      },
      cancel_unless_done);
}

}  // namespace

int serve(Engine& engine, const ApiContext& ctx, const ServerOptions& options) {
  httplib::Server svr;
  const int threads = options.http_threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_payload_max_length(options.max_body_bytes);
  // A reply goes out in several writes (headers, then the body or its chunks): with Nagle's
  // algorithm on, a write waits for the ACK of the one before, which the client delays ~40 ms.
  svr.set_tcp_nodelay(true);
  const size_t max_body = options.max_body_bytes;
  svr.set_error_handler([max_body](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      send_error(res, ApiError(404, "unknown path " + req.method + " " + req.path +
                                        " (POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /)",
                               "", "not_found"));
    } else if (res.status == 413) {
      send_error(res, ApiError(413, "the body is larger than " + std::to_string(max_body) + " bytes", "", "body_too_large"));
    } else {
      const int status = res.status;
      send_error(res, ApiError(status, "the request could not be served (HTTP " + std::to_string(status) + ")", "", "",
                               status >= 500 ? "server_error" : "invalid_request_error"));
    }
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, "internal error: " + what, "", "internal_error", "server_error"));
  });

  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(web_chat_page(), "text/html; charset=utf-8");
  });
  svr.Get("/health", [&engine](const httplib::Request&, httplib::Response& res) {
    const EngineStats s = engine.stats();
    res.set_content(dump(json{{"status", "ok"},
                              {"live", s.live},
                              {"queued", s.queued},
                              {"rows", s.rows},
                              {"steps", s.steps},
                              {"tokens", s.tokens},
                              {"sequences", s.sequences}}),
                    "application/json");
  });
  const int64_t started = now_seconds();
  svr.Get("/v1/models", [&ctx, started](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(models_list(ctx, started)), "application/json");
  });
  svr.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    handle_completion(engine, ctx, Endpoint::chat, req, res);
  });
  svr.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    handle_completion(engine, ctx, Endpoint::completion, req, res);
  });

  int port = options.port;
  if (port == 0) {
    port = svr.bind_to_any_port(options.host);
  } else if (!svr.bind_to_port(options.host, port)) {
    port = -1;
  }
  if (port < 0) {
    std::fprintf(stderr, "serve: error: cannot listen on %s:%d (in use, or not an address of this machine)\n",
                 options.host.c_str(), options.port);
    return 1;
  }
  std::printf("serving %s on http://%s:%d (web chat at /, OpenAI API at /v1)\n", ctx.model_name.c_str(),
              options.host.c_str(), port);
  std::fflush(stdout);
  if (options.on_listen) options.on_listen(port);
  g_server = &svr;
  std::signal(SIGINT, stop_on_signal);
  std::signal(SIGTERM, stop_on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  const bool ok = svr.listen_after_bind();
  g_server = nullptr;
  return ok ? 0 : 1;
}

}  // namespace sog
