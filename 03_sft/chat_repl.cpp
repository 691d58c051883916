// `sft chat`: the assistant the chapter trained, in a terminal (llama2.c's chat loop).
//
//   loop:  read a line from stdin ──▶ append {user, line} to the conversation
//          render_for_completion(conversation)   <|endoftext|>…<|user|>line<|end|><|assistant|>
//          generate with the KV cache, printing each token as it comes, until <|end|>
//          append {assistant, reply} ──▶ the next turn sees the whole conversation
//
// Commands: /reset forgets the conversation, /quit (or end of input) leaves. When the conversation
// no longer fits in the model's context (maxT), the oldest exchanges are dropped (the system
// message stays). `--prompt TEXT` answers once and exits: scriptable.
//
// Output: each reply is printed after "assistant: " and ends with a newline; on a terminal the
// REPL also prompts with "user: ".
#include "03_sft/chat_repl.h"

#include <unistd.h>

#include <iostream>
#include <span>
#include <string>

#include "common/chat/chat_template.h"
#include "common/generate/generate.h"
#include "common/nn/load_model.h"
#include "common/tokenizer/utf8.h"

namespace sog {

int run_chat(const ChatOptions& opt) {
  Tokenizer tok = Tokenizer::load(opt.tokenizer);
  LoadedModel sm = load_model(opt.model, opt.lora, tok, opt.tokenizer);
  GPT& model = *sm.model;
  const ChatTokens t(tok);
  Sampler sampler(opt.sampling, opt.seed);
  GenerateOptions gen;
  gen.max_new_tokens = opt.max_new_tokens;
  gen.stop_ids = {t.end, t.eot};
  const int64_t max_T = model.config().max_T;

  Chat chat;
  auto reset = [&] {
    chat.clear();
    if (!opt.system.empty()) chat.push_back({ChatRole::system, opt.system});
  };
  reset();

  // One turn: the reply to `line`, streamed, appended to the conversation.
  auto answer = [&](const std::string& line) {
    chat.push_back({ChatRole::user, line});
    std::vector<int32_t> prompt = render_for_completion(tok, chat);
    const size_t first_turn = opt.system.empty() ? 0 : 1;
    // Keep room for the reply: drop the oldest exchange (user + assistant) while the prompt is too long.
    while (static_cast<int64_t>(prompt.size()) + std::min<int64_t>(opt.max_new_tokens, max_T / 2) > max_T &&
           chat.size() > first_turn + 1) {
      chat.erase(chat.begin() + first_turn, chat.begin() + std::min(chat.size() - 1, first_turn + 2));
      prompt = render_for_completion(tok, chat);
      std::cerr << "(the conversation is longer than the model's context of " << max_T
                << " tokens: the oldest exchange is forgotten)\n";
    }
    std::cout << "assistant: " << std::flush;
    Utf8Stream text;  // prints whole characters only: one may span several tokens
    std::vector<int32_t> reply = generate(model, prompt, gen, sampler, [&](int32_t id) {
      if (id == t.end || id == t.eot) return;
      std::cout << text.push(tok.decode_bytes(std::span<const int32_t>(&id, 1))) << std::flush;
    });
    std::cout << text.finish() << std::endl;
    if (!reply.empty() && (reply.back() == t.end || reply.back() == t.eot)) reply.pop_back();
    chat.push_back({ChatRole::assistant, tok.decode(reply)});
  };

  if (!opt.prompt.empty()) {
    answer(opt.prompt);
    return 0;
  }
  const bool terminal = ::isatty(STDIN_FILENO);
  if (terminal) std::cout << "Chat with " << opt.model << " (/reset forgets, /quit leaves)\n";
  std::string line;
  while (true) {
    if (terminal) std::cout << "user: " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line == "/quit") break;
    if (line == "/reset") {
      reset();
      std::cout << "(conversation reset)" << std::endl;
      continue;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    answer(line);
  }
  return 0;
}

}  // namespace sog
