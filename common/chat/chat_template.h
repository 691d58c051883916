// The chat template: how a conversation becomes one sequence of token ids, and which of those ids
// the SFT loss trains on. This is the whole of SFT's "masking story" (nanochat's
// render_conversation): the model is trained on exactly the tokens an assistant would write.
//
// Layout, token by token (special tokens from common/tokenizer/special_tokens.h, each ONE id):
//
//   <|endoftext|>                                  a new document starts               mask 0
//   <|system|> ␠SYSTEM TEXT <|end|>                optional, anywhere (usually first)   mask 0
//   <|user|> ␠USER TEXT <|end|>                                                         mask 0
//   <|assistant|>                                  the turn marker (the prompt gives it) mask 0
//       ␠ASSISTANT TEXT                            what the model must learn to write   mask 1
//       <|end|>                                    the model must also learn to STOP    mask 1
//   <|user|> … <|end|><|assistant|> … <|end|>      further turns, the same
//
// A message's text follows its marker after one space (␠, kTextLead), and nothing else comes
// between the tokens: no newline after a marker, none after <|end|>. E.g. the conversation
// [user "What is 2 + 3?", assistant "5"] on a byte-level tokenizer renders as
//
//   ids   <|endoftext|> <|user|> ␠ W h a t ␠ i s ␠ 2 ␠ + ␠ 3 ? <|end|> <|assistant|> ␠ 5 <|end|>
//   mask        0          0     0 0 0 0 0 0 0 0 0 0 0 0 0 0 0    0          0      1 1    1
//
// Why the space: with GPT-2's pre-tokenization a word or number carries the space before it
// (" 5" and "5" are different tokens once merges have run), and the base read every answer of its
// documents after a space — "A: 19", "Assistant: 19", "is 34 years old". An assistant that had to
// write "19" right after its marker would answer in tokens the base rarely saw in that role, and
// SFT would have to teach the answer anew rather than the format; with the space the reply's first
// token is the one the base already predicts there. (Llama 2's template has the same space:
// "[/INST] answer".) Measured in chapter 03's README: facts and string questions answered after
// SFT went up with the space, with everything else equal.
//
// Design choices:
// - Text is encoded with AllowedSpecial::none, so a user who types "<|end|>" gets ordinary
//   characters, never the control token (no forged turns).
// - Assistant text may contain tool calls (the world's tool traces): the three tool tokens inside
//   an assistant message ARE special tokens. A call <|tool_call|>calc(12*7)<|tool_end|> is written
//   by the model (mask 1); the observation <|tool_result|>84<|tool_end|> is written by the runtime
//   (common/world/tools.h), so it is mask 0 — the model must not learn to invent tool results.
// - Roles are system, user, assistant. A tool's output lives inside the assistant message as an
//   observation (above), not as a role of its own.
// - The sequence starts with <|endoftext|>, the token the base model saw before every document.
//
// For generation, render_for_completion gives the prompt up to and including the <|assistant|>
// that opens the reply; the model then writes the reply (its space first, fused with the first
// word, never a separate prompt token: a prompt that ended with the space would split that word
// where training never did) and <|end|>. reply_text turns what it wrote back into message text.
//
// A base model never saw the chat tokens (their embeddings are untrained). The talk's trick for
// making it act as an assistant anyway is a plain-text document that looks like a transcript:
// fewshot_assistant_document (below).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/tokenizer/tokenizer.h"

namespace sog {

enum class ChatRole { system, user, assistant };
std::string_view role_name(ChatRole role);  // "system", "user", "assistant"
std::optional<ChatRole> role_from_name(std::string_view name);  // role_name's inverse; nullopt otherwise

// (The world's generator has its own `Conversation` with fixed fields; a chat is just messages.)
struct ChatMessage {
  ChatRole role = ChatRole::user;
  std::string content;
  bool operator==(const ChatMessage&) const = default;
};
using Chat = std::vector<ChatMessage>;

struct RenderedChat {
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;  // mask[i] = 1: ids[i] is an assistant token the loss trains on
};

// What separates a marker from its message's text (the layout above).
inline constexpr std::string_view kTextLead = " ";

// A generated reply, decoded, as a message's text: without the one space the template puts
// before every message (kTextLead), so that rendering the message again gives the same tokens.
std::string_view reply_text(std::string_view decoded);
// A decoded completion (what followed <|assistant|>, its stop token included) as the assistant
// message it would be in a conversation: " 42<|end|>" → "42" (one trailing <|end|> or
// <|endoftext|> and the leading space removed).
std::string reply_of_completion(std::string_view completion);

// The ids of the special tokens the template uses, looked up once (std::runtime_error naming the
// missing token when the tokenizer lacks one: a tokenizer without the chat tokens cannot chat).
struct ChatTokens {
  int32_t eot, system, user, assistant, end, tool_call, tool_result, tool_end;
  explicit ChatTokens(const Tokenizer& tok);
};

// The whole conversation → ids and the loss mask (the layout above).
RenderedChat render_conversation(const Tokenizer& tok, const Chat& messages);

// The prompt for the model's next reply: every message except a final assistant one (which is what
// the model should write), then <|assistant|>.
std::vector<int32_t> render_for_completion(const Tokenizer& tok, const Chat& messages);

// Assistant text → ids with the tool tokens as specials; mask per id (1, except an observation
// <|tool_result|> … <|tool_end|>, which is 0). Exposed for the tests.
RenderedChat encode_assistant_text(const Tokenizer& tok, std::string_view text);

// The "assistant document" for a base model: plain text, no token it never saw.
//
//   The following is a conversation between a user and a helpful, accurate assistant. The
//   assistant gives the answer alone, on one line.
//
//   User: What is 12 + 7?
//   Assistant: 19
//
//   User: How old is Catherine?
//   Assistant:
//
// Each example is a (question, answer) pair; the document ends right after "Assistant:" so that
// completing the document is answering. The reply ends at the newline (or at "User:").
inline constexpr std::string_view kAssistantDocumentHeader =
    "The following is a conversation between a user and a helpful, accurate assistant. "
    "The assistant gives the answer alone, on one line.\n\n";
std::string fewshot_assistant_document(const std::vector<std::pair<std::string, std::string>>& examples,
                                       std::string_view question);

}  // namespace sog
