// `sft chat` and `prompting chat`: talk to a model through the chat template (see chat_repl.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "common/generate/sampler.h"

namespace sog {

struct ChatOptions {
  std::string model, lora, tokenizer;
  std::string prompt;   // non-empty: answer this one message and exit
  std::string system;   // an optional system message that starts every conversation
  SamplingConfig sampling{0.7f, 0, 1.0f};
  int64_t max_new_tokens = 256;
  uint64_t seed = 1337;
  // --tools: the model's tool calls run during generation (common/generate/tool_generate.h)
  bool tools = false;
  std::string world;       // a world folder: lookup answers from its people.jsonl
  int max_tool_calls = 8;  // per reply
  // Optional: what the model reads as the user's message, made from the line typed (chapter 06
  // stuffs retrieved documents around it and prints them). The conversation keeps what it returns.
  std::function<std::string(const std::string& line)> user_message;
};

// Returns the process exit code.
int run_chat(const ChatOptions& opt);

}  // namespace sog
