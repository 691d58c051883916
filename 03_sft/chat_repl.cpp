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
#include <string>

#include "03_sft/evaluate.h"
#include "common/chat/chat_template.h"
#include "common/generate/generate.h"

namespace sog {

namespace {

// Prints decoded tokens as they come, holding back an unfinished UTF-8 character (one character
// may span several byte-level tokens; printing it early would show U+FFFD).
class TokenPrinter {
 public:
  explicit TokenPrinter(const Tokenizer& tok) : tok_(tok) {}
  void add(int32_t id) {
    pending_ += tok_.decode_bytes(std::span<const int32_t>(&id, 1));
    size_t complete = pending_.size();
    for (size_t back = 1; back <= std::min<size_t>(3, pending_.size()); back++) {
      unsigned char c = static_cast<unsigned char>(pending_[pending_.size() - back]);
      if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
      size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      if (need > back) complete = pending_.size() - back;  // the last character is unfinished
      break;
    }
    std::cout << pending_.substr(0, complete) << std::flush;
    pending_.erase(0, complete);
  }
  void finish() {
    if (!pending_.empty()) std::cout << tok_.decode(tok_.encode(pending_));  // U+FFFD for a cut character
    pending_.clear();
    std::cout << std::endl;
  }

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

}  // namespace

int run_chat(const ChatOptions& opt) {
  Tokenizer tok = Tokenizer::load(opt.tokenizer);
  SftModel sm = load_sft_model(opt.model, opt.lora, tok, opt.tokenizer);
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
    TokenPrinter printer(tok);
    std::vector<int32_t> reply = generate(model, prompt, gen, sampler, [&](int32_t id) {
      if (id != t.end && id != t.eot) printer.add(id);
    });
    printer.finish();
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
