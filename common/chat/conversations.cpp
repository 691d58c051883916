#include "common/chat/conversations.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "common/io/jsonl_lines.h"
#include "common/tensor/random.h"

namespace sog {

using json = nlohmann::json;

ChatMessage parse_chat_message(const json& m) {
  if (!m.is_object()) throw std::invalid_argument(std::string("expected an object, found ") + m.type_name());
  if (!m.contains("role")) throw std::invalid_argument("missing field \"role\"");
  if (!m["role"].is_string()) throw std::invalid_argument("\"role\" must be a string");
  const std::string role = m["role"].get<std::string>();
  ChatMessage msg;
  const std::optional<ChatRole> known = role_from_name(role);
  if (!known) throw std::invalid_argument("unknown role \"" + role + "\" (expected system, user or assistant)");
  msg.role = *known;
  if (!m.contains("content")) throw std::invalid_argument("missing field \"content\"");
  if (!m["content"].is_string()) {
    throw std::invalid_argument(std::string("\"content\" must be a string, found ") + m["content"].type_name());
  }
  msg.content = m["content"].get<std::string>();
  return msg;
}

Chat parse_messages(const json& messages) {
  if (!messages.is_array()) {
    throw std::invalid_argument(std::string("expected a list of messages, found ") + messages.type_name());
  }
  Chat chat;
  for (size_t i = 0; i < messages.size(); i++) {
    try {
      chat.push_back(parse_chat_message(messages[i]));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("message " + std::to_string(i) + ": " + e.what());
    }
  }
  return chat;
}

nlohmann::ordered_json messages_json(const Chat& chat) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const ChatMessage& m : chat) out.push_back({{"role", std::string(role_name(m.role))}, {"content", m.content}});
  return out;
}

Chat parse_conversation(const json& row) {
  if (!row.is_object()) throw std::invalid_argument("expected a JSON object, found " + std::string(row.type_name()));
  if (!row.contains("messages")) throw std::invalid_argument("missing field \"messages\"");
  const json& messages = row["messages"];
  if (!messages.is_array()) {
    throw std::invalid_argument("\"messages\" must be an array, found " + std::string(messages.type_name()));
  }
  if (messages.empty()) throw std::invalid_argument("empty conversation (\"messages\" has no message)");
  Chat chat = parse_messages(messages);
  const bool has_assistant =
      std::any_of(chat.begin(), chat.end(), [](const ChatMessage& m) { return m.role == ChatRole::assistant; });
  if (!has_assistant) throw std::invalid_argument("no assistant message (nothing to train on)");
  return chat;
}

ConversationFile read_conversations(const std::string& path, bool skip_bad_lines) {
  ConversationFile out;
  const int64_t lines = for_each_jsonl_row(
      path, "conversations file", [&](const json& row) { out.conversations.push_back(parse_conversation(row)); },
      [&](const std::string& message) {
        if (!skip_bad_lines) throw std::runtime_error(message + " (--skip-bad-lines skips such lines)");
        out.skipped_lines++;
        if (out.skipped_reasons.size() < 10) out.skipped_reasons.push_back(message);
      });
  if (out.conversations.empty()) {
    throw std::runtime_error(path + ": no conversation in the file (" + std::to_string(lines) + " lines, " +
                             std::to_string(out.skipped_lines) + " skipped)");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// packing

SftBatcher::SftBatcher(const Tokenizer& tok, const std::vector<Chat>& conversations, int64_t B, int64_t T,
                       uint64_t seed)
    : B_(B), T_(T), order_(1, seed) {
  if (B <= 0 || T <= 0) throw std::invalid_argument("SftBatcher: B and T must be positive");
  for (const Chat& c : conversations) {
    RenderedChat r = render_conversation(tok, c);
    if (static_cast<int64_t>(r.ids.size()) > T + 1) {
      r.ids.resize(T + 1);
      r.mask.resize(T + 1);
      truncated_++;
    }
    // mask[0] is never a target (nothing predicts it), so a conversation trains on mask[1..]
    if (std::accumulate(r.mask.begin() + 1, r.mask.end(), 0) == 0) {
      dropped_++;
      continue;
    }
    rendered_.push_back(std::move(r));
  }
  if (rendered_.empty()) {
    throw std::invalid_argument("SftBatcher: no conversation has an assistant token within a row of T+1 = " +
                                std::to_string(T + 1) + " tokens");
  }
  order_ = EpochOrder(static_cast<int64_t>(rendered_.size()), seed);
}

void SftBatcher::next(Tensor& inputs, Tensor& targets, Tensor& weights) {
  if (!inputs.defined() || inputs.numel() != B_ * T_) {
    inputs = Tensor::empty({B_, T_}, DType::i32);
    targets = Tensor::empty({B_, T_}, DType::i32);
    weights = Tensor::empty({B_, T_}, DType::f32);
  }
  int32_t* x = inputs.i32();
  int32_t* y = targets.i32();
  float* w = weights.f32();
  std::vector<int32_t> row;
  std::vector<uint8_t> mask;
  int64_t trained = 0;
  for (int64_t b = 0; b < B_; b++) {
    row.clear();
    mask.clear();
    while (true) {
      const RenderedChat& c = rendered_[order_.peek()];
      if (!row.empty() && static_cast<int64_t>(row.size() + c.ids.size()) > T_ + 1) break;  // next row
      row.insert(row.end(), c.ids.begin(), c.ids.end());
      mask.insert(mask.end(), c.mask.begin(), c.mask.end());
      order_.advance();
      if (static_cast<int64_t>(row.size()) == T_ + 1) break;
    }
    for (int64_t t = 0; t < T_; t++) {
      const bool has_input = t < static_cast<int64_t>(row.size());
      const bool has_target = t + 1 < static_cast<int64_t>(row.size());
      x[b * T_ + t] = has_input ? row[t] : row[0];  // padding input: any valid id (its target is ignored)
      y[b * T_ + t] = has_target ? row[t + 1] : -1;
      w[b * T_ + t] = has_target ? static_cast<float>(mask[t + 1]) : 0.0f;
      trained += has_target && mask[t + 1];
    }
  }
  last_trained_fraction_ = static_cast<double>(trained) / static_cast<double>(B_ * T_);
}

std::vector<std::vector<Tensor>> SftBatcher::validation_batches(const Tokenizer& tok, const std::vector<Chat>& convs,
                                                                int64_t B, int64_t T, int64_t max_batches) {
  // As in training: a conversation without an assistant token within a row is left out (it would
  // weigh nothing, and a batch of only such rows would report a loss of 0).
  std::vector<RenderedChat> kept;
  for (const Chat& c : convs) {
    RenderedChat r = render_conversation(tok, c);
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(r.ids.size()), T + 1);
    if (std::accumulate(r.mask.begin() + 1, r.mask.begin() + n, 0) > 0) kept.push_back(std::move(r));
  }
  std::vector<std::vector<Tensor>> out;
  for (size_t start = 0; start < kept.size() && static_cast<int64_t>(out.size()) < max_batches; start += B) {
    Tensor x = Tensor::zeros({B, T}, DType::i32), y = Tensor::empty({B, T}, DType::i32),
           w = Tensor::zeros({B, T}, DType::f32);
    for (int64_t i = 0; i < B * T; i++) y.i32()[i] = -1;  // padding: ignored
    for (int64_t b = 0; b < B && start + b < kept.size(); b++) {
      const RenderedChat& r = kept[start + b];
      const int64_t n = std::min<int64_t>(static_cast<int64_t>(r.ids.size()), T + 1);
      for (int64_t t = 0; t + 1 < n; t++) {
        x.i32()[b * T + t] = r.ids[t];
        y.i32()[b * T + t] = r.ids[t + 1];
        w.f32()[b * T + t] = r.mask[t + 1];
      }
    }
    out.push_back({x, y, w});
  }
  return out;
}

}  // namespace sog
