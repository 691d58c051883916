#include "common/chat/chat_template.h"

#include <stdexcept>

#include "common/tokenizer/special_tokens.h"

namespace sog {

std::string_view role_name(ChatRole role) {
  switch (role) {
    case ChatRole::system: return "system";
    case ChatRole::user: return "user";
    case ChatRole::assistant: return "assistant";
  }
  return "?";
}

std::optional<ChatRole> role_from_name(std::string_view name) {
  for (ChatRole r : {ChatRole::system, ChatRole::user, ChatRole::assistant})
    if (role_name(r) == name) return r;
  return std::nullopt;
}

namespace {

int32_t require_special(const Tokenizer& tok, std::string_view name) {
  return tok.require_special_id(name, "chat template");
}

void append(RenderedChat& out, int32_t id, uint8_t mask) {
  out.ids.push_back(id);
  out.mask.push_back(mask);
}

void append(RenderedChat& out, const std::vector<int32_t>& ids, uint8_t mask) {
  out.ids.insert(out.ids.end(), ids.begin(), ids.end());
  out.mask.insert(out.mask.end(), ids.size(), mask);
}

int32_t role_token(const ChatTokens& t, ChatRole role) {
  switch (role) {
    case ChatRole::system: return t.system;
    case ChatRole::user: return t.user;
    case ChatRole::assistant: return t.assistant;
  }
  return t.user;
}

}  // namespace

ChatTokens::ChatTokens(const Tokenizer& tok)
    : eot(require_special(tok, kEndOfText)),
      system(require_special(tok, kSystem)),
      user(require_special(tok, kUser)),
      assistant(require_special(tok, kAssistant)),
      end(require_special(tok, kEnd)),
      tool_call(require_special(tok, kToolCall)),
      tool_result(require_special(tok, kToolResult)),
      tool_end(require_special(tok, kToolEnd)) {}

// "Thought: …\n<|tool_call|>calc(2*3)<|tool_end|><|tool_result|>6<|tool_end|>\nAnswer: 6"
//   → text pieces encoded as ordinary text, the tool tokens as their ids; inside an observation
//     (from <|tool_result|> to its <|tool_end|>, both included) the mask is 0.
RenderedChat encode_assistant_text(const Tokenizer& tok, std::string_view text) {
  const ChatTokens t(tok);
  const std::pair<std::string_view, int32_t> markers[] = {
      {kToolCall, t.tool_call}, {kToolResult, t.tool_result}, {kToolEnd, t.tool_end}};
  RenderedChat out;
  bool in_observation = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    // the next tool marker at or after pos
    size_t best = std::string_view::npos;
    const std::pair<std::string_view, int32_t>* which = nullptr;
    for (const auto& m : markers) {
      size_t at = text.find(m.first, pos);
      if (at < best) best = at, which = &m;
    }
    std::string_view piece = text.substr(pos, best == std::string_view::npos ? std::string_view::npos : best - pos);
    if (!piece.empty()) append(out, tok.encode(piece, AllowedSpecial::none), in_observation ? 0 : 1);
    if (!which) break;
    if (which->second == t.tool_result) in_observation = true;
    append(out, which->second, in_observation ? 0 : 1);
    if (which->second == t.tool_end) in_observation = false;
    pos = best + which->first.size();
  }
  return out;
}

RenderedChat render_conversation(const Tokenizer& tok, const Chat& messages) {
  const ChatTokens t(tok);
  RenderedChat out;
  append(out, t.eot, 0);
  for (const ChatMessage& m : messages) {
    append(out, role_token(t, m.role), 0);
    const std::string text = std::string(kTextLead) + m.content;
    if (m.role == ChatRole::assistant) {
      RenderedChat body = encode_assistant_text(tok, text);
      out.ids.insert(out.ids.end(), body.ids.begin(), body.ids.end());
      out.mask.insert(out.mask.end(), body.mask.begin(), body.mask.end());
      append(out, t.end, 1);  // learning to stop is part of the answer
    } else {
      append(out, tok.encode(text, AllowedSpecial::none), 0);
      append(out, t.end, 0);
    }
  }
  return out;
}

std::string_view reply_text(std::string_view decoded) {
  if (decoded.starts_with(kTextLead)) decoded.remove_prefix(kTextLead.size());
  return decoded;
}

std::string reply_of_completion(std::string_view completion) {
  for (std::string_view stop : {kEnd, kEndOfText}) {
    if (completion.ends_with(stop)) {
      completion.remove_suffix(stop.size());
      break;
    }
  }
  return std::string(reply_text(completion));
}

std::vector<int32_t> render_for_completion(const Tokenizer& tok, const Chat& messages) {
  Chat prompt = messages;
  if (!prompt.empty() && prompt.back().role == ChatRole::assistant) prompt.pop_back();
  std::vector<int32_t> ids = render_conversation(tok, prompt).ids;
  ids.push_back(ChatTokens(tok).assistant);
  return ids;
}

std::string fewshot_assistant_document(const std::vector<std::pair<std::string, std::string>>& examples,
                                       std::string_view question) {
  std::string doc(kAssistantDocumentHeader);
  for (const auto& [q, a] : examples) doc += "User: " + q + "\nAssistant: " + a + "\n\n";
  doc += "User: " + std::string(question) + "\nAssistant:";
  return doc;
}

}  // namespace sog
