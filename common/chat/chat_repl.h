// `sft chat` and `prompting chat`: talk to a model through the chat template (see chat_repl.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "common/generate/sampler.h"
#include "common/generate/sampling_options.h"

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

// The REPL's flags, spelled the same in `sft chat` and `prompting chat`: --model, --lora,
// --tokenizer, --prompt, --system, the sampler's (sampling_options.h), --max-new-tokens, and
// --tools with its --world and --max-tool-calls. The defaults are opt's as given.
inline void add_chat_options(CLI::App* cmd, ChatOptions& opt) {
  cmd->add_option("--model", opt.model, "a checkpoint, run folder or model folder")->required();
  cmd->add_option("--lora", opt.lora, "an adapter to attach");
  cmd->add_option("--tokenizer", opt.tokenizer, "tokenizer folder")->required();
  cmd->add_option("--prompt", opt.prompt, "answer this message and exit");
  cmd->add_option("--system", opt.system, "a system message at the start of the conversation");
  add_sampling_options(cmd, opt.sampling, opt.seed);
  cmd->add_option("--max-new-tokens", opt.max_new_tokens)->capture_default_str();
  auto* tools_flag = cmd->add_flag("--tools", opt.tools,
                                   "run the model's tool calls (calc, lookup) as it writes them, and show them "
                                   "as [tool] lines (system message: the world's tool prompt unless --system)");
  cmd->add_option("--world", opt.world, "with --tools: a world folder whose people.jsonl lookup answers from")
      ->needs(tools_flag);
  cmd->add_option("--max-tool-calls", opt.max_tool_calls, "with --tools: calls run per reply; later ones get an error")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->needs(tools_flag);
}

}  // namespace sog
