// `sft chat` (and `prompting chat`): the assistant the chapter trained, in a terminal (llama2.c's
// chat loop).
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
//
// --tools: generation runs the model's tool calls (generate_with_tools): a call the model closes
// is executed by the runtime (calc; lookup on the people of --world DIR's people.jsonl) and the
// result fed back before the model goes on. The model's text streams as usual, except a call,
// which is shown once closed, on a line of its own with the runtime's answer, marked [tool]:
//
//   assistant: Thought: I will use the calculator.
//   [tool] calc(478*56) → 26768
//   Answer: 26768
//
// The system message defaults to the world's tool prompt (tools_system_prompt), the one the SFT
// tool traces were trained with. The conversation keeps the whole transcript, results included.
#include "common/chat/chat_repl.h"

#include <unistd.h>

#include <iostream>
#include <span>
#include <string>

#include "common/chat/chat_template.h"
#include "common/generate/generate.h"
#include "common/generate/tool_generate.h"
#include "common/tokenizer/special_tokens.h"
#include "common/nn/load_model.h"
#include "common/tokenizer/utf8.h"
#include "common/world/people_file.h"
#include "common/world/task.h"

namespace sog {

namespace {

// Prints a reply as it is generated: the model's text as it comes (whole characters only), a tool
// call held back until the runtime has answered it, then "[tool] CALL → RESULT" on its own line.
class ReplyPrinter {
 public:
  // hold_calls: tools run, so a call is shown with its result (else tool tokens are plain text).
  ReplyPrinter(const Tokenizer& tok, const ChatTokens& t, bool hold_calls) : tok_(tok), t_(t), hold_calls_(hold_calls) {}

  void on_event(const ToolEvent& e) {
    switch (e.kind) {
      case ToolEvent::Kind::model_token: on_token(e.token); break;
      case ToolEvent::Kind::tool_call: break;  // shown with its result
      case ToolEvent::Kind::tool_result: {
        std::string_view call = e.call->call;  // "<|tool_call|>calc(478*56)<|tool_end|>"
        if (call.starts_with(kToolCall)) call.remove_prefix(kToolCall.size());
        if (call.ends_with(kToolEnd)) call.remove_suffix(kToolEnd.size());
        print(text_.finish());
        print((at_line_start_ ? "" : "\n") + std::string("[tool] ") + std::string(call) + " → " + e.call->result + "\n");
        call_.clear();
        after_tool_line_ = true;
        break;
      }
    }
  }
  void on_token(int32_t id) {
    if (id == t_.end || id == t_.eot) return;
    if (hold_calls_ && (id == t_.tool_call || !call_.empty())) {  // inside a call: held until answered
      call_.push_back(id);
      if (id != t_.tool_result) return;
      print(text_.push(tok_.decode_bytes(call_)));  // the model wrote a result itself: no call runs
      call_.clear();
      return;
    }
    print(text_.push(tok_.decode_bytes(std::span<const int32_t>(&id, 1))));
  }
  // The end of the reply: a call never closed is shown as written; a newline ends the reply
  // (a [tool] line ends with its own).
  void finish() {
    if (!call_.empty()) print(text_.push(tok_.decode_bytes(call_)));
    print(text_.finish());
    if (!after_tool_line_) print("\n");
  }

 private:
  void print(std::string_view s) {
    if (!started_ && !s.empty()) {  // the template's space before the reply is not shown
      s = reply_text(s);
      started_ = true;
    }
    if (s.empty()) return;
    std::cout << s << std::flush;
    at_line_start_ = s.back() == '\n';
    after_tool_line_ = false;
  }
  const Tokenizer& tok_;
  const ChatTokens& t_;
  const bool hold_calls_;
  Utf8Stream text_;
  std::vector<int32_t> call_;  // the tokens of a call not yet answered
  bool started_ = false;       // something of the reply has come
  bool at_line_start_ = true;  // right after "assistant: ", a [tool] line needs no newline first
  bool after_tool_line_ = false;  // the last thing printed is a [tool] line
};

}  // namespace

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

  ToolGenerateOptions tools;
  std::vector<Person> people;
  if (opt.tools) {
    people = world_people(opt.world);
    tools.generate = gen;
    tools.max_tool_calls = opt.max_tool_calls;
    tools.people = people;
    std::cerr << "tools: calc and lookup, at most " << opt.max_tool_calls << " calls per reply; "
              << (opt.world.empty() ? std::string("no --world: lookup has no people")
                                    : std::to_string(people.size()) + " people from " + opt.world + "/people.jsonl")
              << "\n";
  }
  const std::string system = opt.system.empty() && opt.tools ? std::string(tools_system_prompt) : opt.system;

  Chat chat;
  auto reset = [&] {
    chat.clear();
    if (!system.empty()) chat.push_back({ChatRole::system, system});
  };
  reset();

  // One turn: the reply to `line`, streamed, appended to the conversation.
  auto answer = [&](const std::string& line) {
    chat.push_back({ChatRole::user, opt.user_message ? opt.user_message(line) : line});
    std::vector<int32_t> prompt = render_for_completion(tok, chat);
    const size_t first_turn = system.empty() ? 0 : 1;
    // Keep room for the reply: drop the oldest exchange (user + assistant) while the prompt is too long.
    while (static_cast<int64_t>(prompt.size()) + std::min<int64_t>(opt.max_new_tokens, max_T / 2) > max_T &&
           chat.size() > first_turn + 1) {
      chat.erase(chat.begin() + first_turn, chat.begin() + std::min(chat.size() - 1, first_turn + 2));
      prompt = render_for_completion(tok, chat);
      std::cerr << "(the conversation is longer than the model's context of " << max_T
                << " tokens: the oldest exchange is forgotten)\n";
    }
    std::cout << "assistant: " << std::flush;
    ReplyPrinter printer(tok, t, opt.tools);  // prints whole characters only: one may span several tokens
    std::vector<int32_t> reply;
    if (opt.tools) {
      reply = generate_with_tools(model, prompt, tok, tools, sampler, [&](const ToolEvent& e) { printer.on_event(e); })
                  .tokens();
    } else {
      reply = generate(model, prompt, gen, sampler, [&](int32_t id) { printer.on_token(id); });
    }
    printer.finish();
    if (!reply.empty() && (reply.back() == t.end || reply.back() == t.eot)) reply.pop_back();
    chat.push_back({ChatRole::assistant, std::string(reply_text(tok.decode(reply)))});
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
