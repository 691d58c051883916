#include "common/serve/engine.h"

#include <algorithm>
#include <exception>

#include "common/generate/tool_generate.h"

namespace sog {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::cancelled: return "cancelled";
    case FinishReason::error: return "error";
    case FinishReason::none: break;
  }
  return "none";
}

// ---- Generation -------------------------------------------------------------------------------

std::vector<SequenceEvent> Generation::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !events_.empty(); });
  std::vector<SequenceEvent> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

bool Generation::done() const {
  std::lock_guard lock(mu_);
  return remaining_ == 0 && events_.empty();
}

void Generation::post(SequenceEvent e) {
  {
    std::lock_guard lock(mu_);
    if (e.finish != FinishReason::none) remaining_--;
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

// ---- StopText ---------------------------------------------------------------------------------

std::string StopText::push(std::string_view bytes) {
  if (stopped_) return "";
  held_.append(bytes);
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = text_.push(std::string_view(held_).substr(0, first));
    out += text_.finish();
    held_.clear();
    return out;
  }
  // Hold back the longest end of the text that a stop string begins with.
  size_t hold = 0;
  for (const std::string& s : stops_) {
    for (size_t k = std::min(s.size() - 1, held_.size()); k > hold; k--) {
      if (std::string_view(held_).substr(held_.size() - k) == std::string_view(s).substr(0, k)) {
        hold = k;
        break;
      }
    }
  }
  const size_t release = held_.size() - hold;
  std::string out = text_.push(std::string_view(held_).substr(0, release));
  held_.erase(0, release);
  return out;
}

std::string StopText::flush() {
  if (stopped_) return "";
  std::string out = text_.push(held_);
  out += text_.finish();
  held_.clear();
  return out;
}

// ---- Engine -----------------------------------------------------------------------------------

struct Engine::Live {
  std::shared_ptr<Generation> gen;
  int choice = 0;
  SequenceRequest request;
  Sampler sampler;
  std::unique_ptr<ToolRuntime> tools;
  StopText text;
  int64_t produced = 0;
  std::vector<int32_t> tokens;  // after the prompt: the model's and the runtime's
  Live(Waiting w, const Tokenizer& tok, const EngineOptions& o)
      : gen(std::move(w.gen)),
        choice(w.choice),
        request(std::move(w.request)),
        sampler(request.sampling, request.seed),
        tools(request.tools ? std::make_unique<ToolRuntime>(tok, o.max_tool_calls, o.people) : nullptr),
        text(request.stop) {}
};

Engine::Engine(GPT& model, const Tokenizer& tok, EngineOptions options)
    : model_(model), tok_(tok), options_(std::move(options)) {
  if (options_.rows < 1) throw std::invalid_argument("Engine: rows must be >= 1, found " + std::to_string(options_.rows));
  thread_ = std::thread([this] { run(); });
}

Engine::~Engine() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::shared_ptr<Generation> Engine::submit(std::vector<SequenceRequest> choices) {
  auto gen = std::make_shared<Generation>(static_cast<int>(choices.size()));
  {
    std::lock_guard lock(mu_);
    // Sequences whose clients left give up their places first.
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (!it->gen->cancelled()) {
        ++it;
        continue;
      }
      it->cancel();
      it = queue_.erase(it);
    }
    if (static_cast<int64_t>(queue_.size() + choices.size()) > options_.max_queued) {
      throw QueueFull("the server is busy: " + std::to_string(queue_.size()) + " sequences wait for a row (at most " +
                      std::to_string(options_.max_queued) + "); retry later");
    }
    for (size_t i = 0; i < choices.size(); i++) queue_.push_back({gen, static_cast<int>(i), std::move(choices[i])});
  }
  cv_.notify_all();
  return gen;
}

EngineStats Engine::stats() const {
  std::lock_guard lock(mu_);
  return {live_, static_cast<int64_t>(queue_.size()), options_.rows, steps_, tokens_, sequences_};
}

void Engine::finish(std::unique_ptr<Live>& row, BatchDecoder& decoder, int64_t r, FinishReason why,
                    const std::string& error) {
  SequenceEvent e;
  e.choice = row->choice;
  e.text = row->text.flush();
  if (why == FinishReason::cancelled || why == FinishReason::error) e.text.clear();
  e.finish = why;
  e.completion_tokens = row->produced;
  e.error = error;
  e.tokens = std::move(row->tokens);
  {
    std::lock_guard lock(mu_);
    live_--;
  }
  row->gen->post(std::move(e));  // after: a reader that sees its request done sees the row free
  decoder.release(r);
  row.reset();
}

// Free rows take waiting sequences (a request already cancelled is dropped unstarted).
void Engine::admit(std::vector<std::unique_ptr<Live>>& rows, BatchDecoder& decoder) {
  for (int64_t r = 0; r < static_cast<int64_t>(rows.size()); r++) {
    if (rows[r]) continue;
    Waiting w;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) return;
      w = std::move(queue_.front());
      queue_.pop_front();
      live_++;
    }
    sequences_++;
    rows[r] = std::make_unique<Live>(std::move(w), tok_, options_);
    if (rows[r]->gen->cancelled()) {
      finish(rows[r], decoder, r, FinishReason::cancelled);
      r--;  // the row is free again
      continue;
    }
    try {
      decoder.start(r, rows[r]->request.prompt);
    } catch (const std::exception& ex) {
      finish(rows[r], decoder, r, FinishReason::error, ex.what());
      r--;
    }
  }
}

void Engine::run() {
  BatchDecoder decoder(model_, options_.rows, model_.config().max_T);
  std::vector<std::unique_ptr<Live>> rows(static_cast<size_t>(options_.rows));
  const int V = static_cast<int>(model_.config().V);
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || live_ > 0; });
      if (stopping_) break;
    }
    admit(rows, decoder);
    try {
      // Every live row draws its token, then ends or is pushed into the step.
      for (int64_t r = 0; r < options_.rows; r++) {
        std::unique_ptr<Live>& row = rows[r];
        if (!row) continue;
        if (row->gen->cancelled()) {
          finish(row, decoder, r, FinishReason::cancelled);
          continue;
        }
        const int32_t next = row->sampler.sample(decoder.logits(r), V);
        row->produced++;
        row->tokens.push_back(next);
        tokens_++;
        const std::vector<int32_t>& ids = row->request.stop_ids;
        if (std::find(ids.begin(), ids.end(), next) != ids.end()) {
          finish(row, decoder, r, FinishReason::stop);
          continue;
        }
        std::string bytes = tok_.decode_bytes(std::span<const int32_t>(&next, 1));
        std::span<const int32_t> observation;
        if (row->tools) {
          observation = row->tools->on_model_token(next);
          bytes += tok_.decode_bytes(observation);
          row->tokens.insert(row->tokens.end(), observation.begin(), observation.end());
        }
        SequenceEvent e;
        e.choice = row->choice;
        e.text = row->text.push(bytes);
        if (!e.text.empty()) row->gen->post(std::move(e));
        if (row->text.stopped()) {
          finish(row, decoder, r, FinishReason::stop);
        } else if (row->produced >= row->request.max_tokens) {
          finish(row, decoder, r, FinishReason::length);
        } else if (!observation.empty()) {
          decoder.push_with(r, next, observation);
        } else {
          decoder.push(r, next);
        }
      }
      decoder.step();
      steps_++;
    } catch (const std::exception& ex) {  // the model failed: every live sequence ends with the error
      for (int64_t r = 0; r < options_.rows; r++)
        if (rows[r]) finish(rows[r], decoder, r, FinishReason::error, ex.what());
    }
  }
  for (int64_t r = 0; r < options_.rows; r++)
    if (rows[r]) finish(rows[r], decoder, r, FinishReason::cancelled);
  std::lock_guard lock(mu_);
  for (const Waiting& w : queue_) w.cancel();
  queue_.clear();
}

}  // namespace sog
