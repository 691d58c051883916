// The server's model loop: requests from many HTTP threads decoded together, continuously batched.
//
//   HTTP thread                              the engine's thread (one, owns the model)
//   ───────────                              ───────────────────────────────────────────
//   gen = engine.submit(choices)  ──queue──▶ between two steps: a free row of the BatchDecoder
//                                            takes a waiting sequence (its prompt prefilled alone)
//   gen->wait(…) → text deltas    ◀──events─ every live row draws its token (its own Sampler),
//                                            runs a tool call it closed, checks its stop strings
//                                            and max_tokens, sends its new text; then one
//                                            BatchDecoder::step decodes all of them together
//   gen->cancel() (client left)   ─────────▶ the row is released at the next step
//
// A request's n choices are n sequences; a sequence that arrives while others decode joins them at
// the next step (continuous batching), and a finished one frees its row at once. Each sequence
// gives exactly the tokens it would give alone (batch_decoder.h): a greedy or seeded request is
// reproducible whatever else the server is doing.
//
// Text: a sequence's tokens become text as they come (special tokens as their names: a tool call
// reads "<|tool_call|>calc(2*3)<|tool_end|>", its result "<|tool_result|>6<|tool_end|>"); the stop
// ids (<|end|>, <|endoftext|>) end it and are not text. Stop strings end it too and are cut from
// the text (the text that could begin one is held back until it cannot), and a character split
// across tokens is sent whole.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/generate/batch_decoder.h"
#include "common/generate/sampler.h"
#include "common/nn/gpt.h"
#include "common/tokenizer/tokenizer.h"
#include "common/tokenizer/utf8.h"
#include "common/world/people.h"

namespace sog {

// One sequence to generate (a choice of a request).
struct SequenceRequest {
  std::vector<int32_t> prompt;     // non-empty, + max_tokens ≤ the model's maxT (the API checks)
  SamplingConfig sampling;
  uint64_t seed = 0;
  int64_t max_tokens = 16;         // model tokens at most (a tool's result is not counted)
  std::vector<std::string> stop;   // stop strings (cut from the text)
  std::vector<int32_t> stop_ids;   // stop tokens (not text)
  bool tools = false;              // run the model's tool calls (calc, lookup)
};

enum class FinishReason { none, stop, length, cancelled, error };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "cancelled", "error"

// What a request's reader receives: new text of one choice, or its end.
struct SequenceEvent {
  int choice = 0;
  std::string text;                    // whole UTF-8 characters
  FinishReason finish = FinishReason::none;  // not none: the choice ended (text, if any, came before)
  int64_t completion_tokens = 0;       // with finish: the model tokens it wrote
  std::string error;                   // with FinishReason::error
  std::vector<int32_t> tokens;         // with finish: every token of the sequence after its prompt —
                                       // the model's and the runtime's, a stop id last if one ended it
};

// One request's channel between the engine and the HTTP thread that waits for it.
class Generation {
 public:
  explicit Generation(int choices) : remaining_(choices) {}
  // The events that came since the last call, waiting up to `timeout` for the first one.
  std::vector<SequenceEvent> wait(std::chrono::milliseconds timeout);
  bool done() const;  // every choice ended and its events were taken
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  void post(SequenceEvent e);  // (the engine)

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SequenceEvent> events_;
  int remaining_;
  std::atomic<bool> cancelled_{false};
};

struct EngineOptions {
  int64_t rows = 16;          // sequences decoded together (the KV cache's rows)
  int64_t max_queued = 256;   // sequences waiting for a row; more is QueueFull (HTTP 503)
  int max_tool_calls = 8;     // per sequence
  std::vector<Person> people; // lookup's table
};

struct EngineStats {
  int64_t live = 0, queued = 0, rows = 0;
  int64_t steps = 0, tokens = 0, sequences = 0;  // since start
};

class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Engine {
 public:
  // The model and tokenizer must outlive the engine; nothing else may use the model meanwhile.
  Engine(GPT& model, const Tokenizer& tok, EngineOptions options);
  ~Engine();  // stops the thread; sequences still running end as cancelled
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues one sequence per choice (choice i = choices[i]); throws QueueFull when they do not fit.
  std::shared_ptr<Generation> submit(std::vector<SequenceRequest> choices);
  EngineStats stats() const;

 private:
  struct Waiting {
    std::shared_ptr<Generation> gen;
    int choice;
    SequenceRequest request;
    void cancel() const { gen->post({choice, "", FinishReason::cancelled, 0, "", {}}); }  // never started
  };
  struct Live;
  void run();
  void admit(std::vector<std::unique_ptr<Live>>& rows, BatchDecoder& decoder);
  void finish(std::unique_ptr<Live>& row, BatchDecoder& decoder, int64_t r, FinishReason why,
              const std::string& error = "");

  GPT& model_;
  const Tokenizer& tok_;
  EngineOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Waiting> queue_;
  bool stopping_ = false;
  int64_t live_ = 0;
  std::atomic<int64_t> steps_{0}, tokens_{0}, sequences_{0};
  std::thread thread_;
};

// The text a run of bytes may be sent as: everything but a stop string's possible beginning, in
// whole characters (Utf8Stream: an unfinished one waits, ill-formed bytes become U+FFFD as
// Tokenizer::decode makes them). Exposed for the tests.
class StopText {
 public:
  explicit StopText(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Appends bytes; returns the text that is now safe to send. Sets stopped() when a stop string
  // appeared: what precedes it is returned, it and everything after are dropped.
  std::string push(std::string_view bytes);
  std::string flush();  // the end: whatever is held back (a broken character as U+FFFD)
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;  // bytes a stop string may begin with
  Utf8Stream text_;   // the bytes released, sent in whole characters
  bool stopped_ = false;
};

}  // namespace sog
