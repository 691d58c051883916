#include "common/serve/openai_api.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <set>

#include "common/chat/chat_template.h"
#include "common/tokenizer/special_tokens.h"

namespace sog {

using json = nlohmann::json;

ApiError::ApiError(int status_, std::string message, std::string param_, std::string code_, std::string type_)
    : std::runtime_error(std::move(message)),
      status(status_),
      type(std::move(type_)),
      param(std::move(param_)),
      code(std::move(code_)) {}

json error_body(const ApiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {

ApiError bad(const std::string& param, const std::string& message, const std::string& code = "") {
  return ApiError(400, message, param, code);
}

const char* type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

ApiError wrong_type(const std::string& param, const json& v, const std::string& expected) {
  return bad(param, "'" + param + "' must be " + expected + ", found " + type_name(v));
}

// A field the client gave: present, and not null (OpenAI's clients send null for "not given").
bool given(const json& obj, const std::string& key) { return obj.contains(key) && !obj[key].is_null(); }

// Refuses a field of `obj` (found at `param`, e.g. "messages[2]") that is not in `allowed`.
void refuse_unknown_fields(const json& obj, std::initializer_list<std::string_view> allowed, const std::string& param,
                           const std::string& where) {
  for (const auto& [key, _] : obj.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw bad(param + "." + key, "unknown field '" + key + "' in " + where);
}

double number_in(const json& body, const std::string& key, double fallback, double lo, double hi, bool lo_open) {
  if (!given(body, key)) return fallback;
  const json& v = body[key];
  if (!v.is_number()) throw wrong_type(key, v, "a number");
  const double x = v.get<double>();
  if (!(lo_open ? x > lo : x >= lo) || !(x <= hi)) {
    throw bad(key, "'" + key + "' must be in " + (lo_open ? "(" : "[") + std::to_string(lo).substr(0, 3) + ", " +
                       std::to_string(hi).substr(0, 3) + "], found " + v.dump());
  }
  return x;
}

int64_t integer_in(const json& body, const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
  if (!given(body, key)) return fallback;
  const json& v = body[key];
  if (!v.is_number_integer() && !v.is_number_unsigned()) throw wrong_type(key, v, "an integer");
  const bool past_int64 = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi);
  if (past_int64 || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
    throw bad(key, "'" + key + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], found " + v.dump());
  return v.get<int64_t>();
}

bool boolean(const json& body, const std::string& key, bool fallback) {
  if (!given(body, key)) return fallback;
  if (!body[key].is_boolean()) throw wrong_type(key, body[key], "a boolean");
  return body[key].get<bool>();
}

// Parameters the API has that this server does not implement: accepted at their neutral value.
void neutral_only(const json& body, const std::string& key, const json& neutral) {
  if (!given(body, key) || body[key] == neutral) return;
  throw bad(key, "'" + key + "' is not supported by this server (only " + neutral.dump() + ")", "unsupported_parameter");
}

std::vector<std::string> stop_strings(const json& body) {
  if (!given(body, "stop")) return {};
  const json& v = body["stop"];
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    if (v.size() > 4) throw bad("stop", "'stop' holds at most 4 sequences, found " + std::to_string(v.size()));
    for (size_t i = 0; i < v.size(); i++) {
      if (!v[i].is_string()) throw wrong_type("stop[" + std::to_string(i) + "]", v[i], "a string");
      out.push_back(v[i].get<std::string>());
    }
  } else {
    throw wrong_type("stop", v, "a string or an array of strings");
  }
  for (const std::string& s : out)
    if (s.empty()) throw bad("stop", "'stop' sequences must not be empty");
  return out;
}

// Refuses text a client sent (at `param`) that spells a control token: the first one found.
void refuse_forged(std::string_view text, bool tool_markers_allowed, const std::string& param) {
  for (std::string_view t : kSpecialTokens) {
    if (tool_markers_allowed && (t == kToolCall || t == kToolResult || t == kToolEnd)) continue;
    if (text.find(t) != std::string_view::npos)
      throw bad(param, "the text holds the control token " + std::string(t) + ", which no client may write",
                "forged_control_token");
  }
}

// A message's content: a string, or OpenAI's list of parts of which only {"type": "text"} is read.
std::string content_text(const json& v, const std::string& param) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) throw wrong_type(param, v, "a string or an array of text parts");
  std::string text;
  for (size_t i = 0; i < v.size(); i++) {
    const std::string p = param + "[" + std::to_string(i) + "]";
    if (!v[i].is_object()) throw wrong_type(p, v[i], "an object");
    if (!v[i].contains("type") || v[i]["type"] != "text")
      throw bad(p + ".type", "only text parts are supported (\"type\": \"text\")");
    if (!v[i].contains("text") || !v[i]["text"].is_string()) throw wrong_type(p + ".text", v[i].value("text", json()), "a string");
    refuse_unknown_fields(v[i], {"type", "text"}, p, "a text part");
    text += v[i]["text"].get<std::string>();
  }
  return text;
}

Chat read_messages(const json& body, const ApiContext& ctx, json& retrieved) {
  if (!body.contains("messages")) throw bad("messages", "'messages' is required");
  const json& m = body["messages"];
  if (!m.is_array()) throw wrong_type("messages", m, "an array");
  if (m.empty()) throw bad("messages", "'messages' must hold at least one message");
  Chat chat;
  for (size_t i = 0; i < m.size(); i++) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    if (!m[i].is_object()) throw wrong_type(p, m[i], "an object");
    refuse_unknown_fields(m[i], {"role", "content", "name"}, p, "a message");
    if (!m[i].contains("role")) throw bad(p + ".role", "'" + p + ".role' is required");
    if (!m[i]["role"].is_string()) throw wrong_type(p + ".role", m[i]["role"], "a string");
    const std::string role = m[i]["role"].get<std::string>();
    // OpenAI's newer name for the system message, "developer", is read as one.
    const std::optional<ChatRole> known = role_from_name(role == "developer" ? "system" : role);
    if (!known) throw bad(p + ".role", "unknown role '" + role + "' (system, developer, user, assistant)");
    ChatMessage msg;
    msg.role = *known;
    if (!m[i].contains("content")) throw bad(p + ".content", "'" + p + ".content' is required");
    if (m[i].contains("name") && !m[i]["name"].is_string()) throw wrong_type(p + ".name", m[i]["name"], "a string");
    msg.content = content_text(m[i]["content"], p + ".content");
    refuse_forged(msg.content, msg.role == ChatRole::assistant, p + ".content");
    chat.push_back(std::move(msg));
  }
  if (chat.back().role == ChatRole::assistant)
    throw bad("messages", "the last message must be the user's (or a system message): the reply is the model's to write");
  const bool has_system = std::any_of(chat.begin(), chat.end(), [](const ChatMessage& c) { return c.role == ChatRole::system; });
  if (!has_system && !ctx.default_system.empty()) chat.insert(chat.begin(), {ChatRole::system, ctx.default_system});
  if (ctx.retrieve && chat.back().role == ChatRole::user) {
    auto [stuffed, found] = ctx.retrieve(chat.back().content);
    chat.back().content = std::move(stuffed);
    retrieved = std::move(found);
  }
  return chat;
}

uint64_t fresh_seed() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t base = std::random_device{}() ^ static_cast<uint64_t>(
                                   std::chrono::steady_clock::now().time_since_epoch().count());
  return base + 0x9E3779B97F4A7C15ull * ++counter;
}

}  // namespace

ApiRequest parse_request(Endpoint endpoint, const std::string& body_text, const ApiContext& ctx) {
  json body;
  try {
    body = json::parse(body_text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    throw bad("", std::string("the body is not valid JSON: ") + e.what(), "invalid_json");
  }
  if (!body.is_object()) throw bad("", std::string("the body must be a JSON object, found ") + type_name(body), "invalid_json");
  const bool chat = endpoint == Endpoint::chat;
  static const std::set<std::string> common = {"model", "temperature", "top_p", "max_tokens", "stop", "n", "seed",
                                               "stream", "stream_options", "user", "frequency_penalty",
                                               "presence_penalty", "logprobs", "logit_bias"};
  for (const auto& [key, _] : body.items()) {
    const bool known = common.count(key) > 0 ||
                       (chat ? key == "messages" || key == "max_completion_tokens" || key == "top_logprobs"
                             : key == "prompt" || key == "echo");
    if (!known) throw bad(key, "unknown field '" + key + "'", "unknown_parameter");
  }
  if (given(body, "model")) {
    if (!body["model"].is_string()) throw wrong_type("model", body["model"], "a string");
    if (body["model"] != ctx.model_name)
      throw ApiError(404, "the model '" + body["model"].get<std::string>() + "' does not exist; this server serves '" +
                              ctx.model_name + "' (GET /v1/models)", "model", "model_not_found");
  }
  neutral_only(body, "frequency_penalty", 0);
  neutral_only(body, "presence_penalty", 0);
  neutral_only(body, "logit_bias", json::object());
  neutral_only(body, "logprobs", chat ? json(false) : json(0));
  neutral_only(body, "top_logprobs", 0);
  neutral_only(body, "echo", false);
  if (given(body, "user") && !body["user"].is_string()) throw wrong_type("user", body["user"], "a string");

  ApiRequest req;
  req.endpoint = endpoint;
  req.stream = boolean(body, "stream", false);
  if (given(body, "stream_options")) {
    const json& so = body["stream_options"];
    if (!so.is_object()) throw wrong_type("stream_options", so, "an object");
    refuse_unknown_fields(so, {"include_usage"}, "stream_options", "stream_options");
    req.include_usage = boolean(so, "include_usage", false);
  }
  req.n = static_cast<int>(integer_in(body, "n", 1, 1, ctx.max_n));
  SamplingConfig sampling;
  sampling.temperature = static_cast<float>(number_in(body, "temperature", 1.0, 0.0, 2.0, false));
  sampling.top_p = static_cast<float>(number_in(body, "top_p", 1.0, 0.0, 1.0, true));
  const bool seeded = given(body, "seed");
  const int64_t seed = integer_in(body, "seed", 0, INT64_MIN, INT64_MAX);
  const std::vector<std::string> stops = stop_strings(body);
  std::string max_key = "max_tokens";
  if (chat && given(body, "max_completion_tokens")) {
    if (given(body, "max_tokens"))
      throw bad("max_completion_tokens", "give 'max_tokens' or 'max_completion_tokens', not both");
    max_key = "max_completion_tokens";
  }
  const int64_t asked = integer_in(body, max_key, 0, 1, INT32_MAX);  // 0: not given

  // The prompts, as token ids.
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int32_t> stop_ids;
  const Tokenizer& tok = *ctx.tok;
  if (chat) {
    const Chat messages = read_messages(body, ctx, req.retrieved);
    prompts.push_back(render_for_completion(tok, messages));
    const ChatTokens t(tok);
    stop_ids = {t.end, t.eot};
  } else {
    if (!body.contains("prompt")) throw bad("prompt", "'prompt' is required");
    const json& p = body["prompt"];
    std::vector<std::string> texts;
    if (p.is_string()) {
      texts.push_back(p.get<std::string>());
    } else if (p.is_array() && !p.empty() && std::all_of(p.begin(), p.end(), [](const json& x) { return x.is_string(); })) {
      for (const json& x : p) texts.push_back(x.get<std::string>());
    } else {
      throw wrong_type("prompt", p, "a string or a non-empty array of strings");
    }
    if (texts.size() * static_cast<size_t>(req.n) > static_cast<size_t>(ctx.max_n))
      throw bad("prompt", "prompts × n must be at most " + std::to_string(ctx.max_n) + ", found " +
                              std::to_string(texts.size() * static_cast<size_t>(req.n)));
    const int32_t eot = tok.require_special_id(kEndOfText, "completions");
    for (const std::string& text : texts) {
      refuse_forged(text, false, "prompt");
      std::vector<int32_t> ids = {eot};  // every document the base read began after <|endoftext|>
      for (int32_t id : tok.encode(text, AllowedSpecial::none)) ids.push_back(id);
      prompts.push_back(std::move(ids));
    }
    stop_ids = {eot};
  }
  for (const std::vector<int32_t>& prompt : prompts) {
    const int64_t P = static_cast<int64_t>(prompt.size());
    req.prompt_tokens += P;
    const std::string what = chat ? "your messages resulted in " : "your prompt has ";
    if (P >= ctx.max_T) {
      throw bad(chat ? "messages" : "prompt", "this model's maximum context length is " + std::to_string(ctx.max_T) +
                                                  " tokens; " + what + std::to_string(P) + " tokens",
                "context_length_exceeded");
    }
    if (asked > 0 && P + asked > ctx.max_T) {
      throw bad(max_key, "this model's maximum context length is " + std::to_string(ctx.max_T) + " tokens; you asked for " +
                             std::to_string(P + asked) + " (" + std::to_string(P) + " in the " +
                             (chat ? "messages" : "prompt") + ", " + std::to_string(asked) + " in the completion)",
                "context_length_exceeded");
    }
    for (int j = 0; j < req.n; j++) {
      SequenceRequest s;
      s.prompt = prompt;
      s.sampling = sampling;
      s.seed = seeded ? static_cast<uint64_t>(seed) + req.sequences.size() : fresh_seed();
      s.max_tokens = asked > 0 ? asked : chat ? ctx.max_T - P : std::min<int64_t>(16, ctx.max_T - P);
      s.stop = stops;
      s.stop_ids = stop_ids;
      s.tools = chat && ctx.tools;
      req.sequences.push_back(std::move(s));
    }
  }
  return req;
}

// ---- replies ----------------------------------------------------------------------------------

json usage_json(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

namespace {

json reply_head(const ApiRequest& req, const ApiContext& ctx, const std::string& id, int64_t created, bool is_chunk) {
  const bool chat = req.endpoint == Endpoint::chat;
  return {{"id", id},
          {"object", chat ? (is_chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
          {"created", created},
          {"model", ctx.model_name},
          {"system_fingerprint", "stateofgpt"}};
}

json finish_json(FinishReason f) { return f == FinishReason::none ? json(nullptr) : json(finish_reason_name(f)); }

}  // namespace

json whole_reply(const ApiRequest& req, const ApiContext& ctx, const std::string& id, int64_t created,
                 const std::vector<ChoiceResult>& choices) {
  json out = reply_head(req, ctx, id, created, false);
  json list = json::array();
  int64_t completion = 0;
  for (size_t i = 0; i < choices.size(); i++) {
    const ChoiceResult& c = choices[i];
    completion += c.completion_tokens;
    json choice = {{"index", i}, {"logprobs", nullptr}, {"finish_reason", finish_json(c.finish)}};
    if (req.endpoint == Endpoint::chat) {
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    } else {
      choice["text"] = c.text;
    }
    list.push_back(std::move(choice));
  }
  out["choices"] = std::move(list);
  out["usage"] = usage_json(req.prompt_tokens, completion);
  if (!req.retrieved.is_null()) out["retrieved"] = req.retrieved;
  return out;
}

json chunk(const ApiRequest& req, const ApiContext& ctx, const std::string& id, int64_t created, int choice,
           const std::string* text, bool first, FinishReason finish) {
  json out = reply_head(req, ctx, id, created, true);
  json c = {{"index", choice}, {"logprobs", nullptr}, {"finish_reason", finish_json(finish)}};
  if (req.endpoint == Endpoint::chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (text) delta["content"] = *text;
    c["delta"] = std::move(delta);
  } else {
    c["text"] = text ? *text : "";
  }
  out["choices"] = json::array({std::move(c)});
  if (req.include_usage) out["usage"] = nullptr;
  if (first && choice == 0 && !req.retrieved.is_null()) out["retrieved"] = req.retrieved;
  return out;
}

json usage_chunk(const ApiRequest& req, const ApiContext& ctx, const std::string& id, int64_t created,
                 int64_t completion_tokens) {
  json out = reply_head(req, ctx, id, created, true);
  out["choices"] = json::array();
  out["usage"] = usage_json(req.prompt_tokens, completion_tokens);
  return out;
}

json models_list(const ApiContext& ctx, int64_t created) {
  return {{"object", "list"},
          {"data", json::array({{{"id", ctx.model_name},
                                 {"object", "model"},
                                 {"created", created},
                                 {"owned_by", "stateofgpt"},
                                 {"context_length", ctx.max_T},
                                 {"tools", ctx.tools},
                                 {"retrieval", static_cast<bool>(ctx.retrieve)}}})}};
}

}  // namespace sog
