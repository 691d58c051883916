#include "common/reward/preferences.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/chat/conversations.h"
#include "common/io/atomic_file.h"
#include "common/io/jsonl_lines.h"
#include "common/tensor/random.h"
#include "common/world/labeler.h"

namespace sog {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------
// ranking and noise

Chat task_prompt(const Task& task) {
  Chat chat;
  if (task.format == AnswerFormat::tool) chat.push_back({ChatRole::system, std::string(tools_system_prompt)});
  chat.push_back({ChatRole::user, task.prompt});
  return chat;
}

ComparisonGroup rank_into_group(const Task& task, const std::vector<std::string>& completions) {
  std::vector<std::string> distinct;
  std::set<std::string> seen;
  for (const std::string& c : completions)
    if (seen.insert(c).second) distinct.push_back(c);

  ComparisonGroup g;
  g.prompt = task_prompt(task);
  g.task = std::string(task_name(task.kind));
  g.answer = task.answer;
  std::vector<PreferenceKey> keys;
  for (size_t i : rank_completions(task, distinct)) {
    const PreferenceKey key = preference_key(task, distinct[i]);
    g.completions.push_back(distinct[i]);
    g.correct.push_back(key.wrong ? 0 : 1);
    g.well_formed.push_back(key.malformed ? 0 : 1);
    keys.push_back(key);
  }
  const auto K = static_cast<int32_t>(keys.size());
  for (int32_t i = 0; i < K; i++)
    for (int32_t j = i + 1; j < K; j++)
      if (keys[i] != keys[j]) g.pairs.emplace_back(i, j);
  return g;
}

int64_t flip_pairs(std::vector<ComparisonGroup>& groups, double p, uint64_t seed) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw std::invalid_argument("flip_pairs: the flip probability p = " + std::to_string(p) +
                                " is not in [0, 1] (0 keeps every label, 1 swaps every pair)");
  }
  Rng rng(seed);
  int64_t flipped = 0;
  for (ComparisonGroup& g : groups) {
    for (auto& [better, worse] : g.pairs) {
      const double u = static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53;  // uniform in [0, 1)
      if (u < p) {
        std::swap(better, worse);
        flipped++;
      }
    }
  }
  return flipped;
}

std::map<std::string, PreferenceCounts> count_by_task(const std::vector<ComparisonGroup>& groups) {
  std::map<std::string, PreferenceCounts> counts;
  for (const ComparisonGroup& g : groups) {
    PreferenceCounts& c = counts[g.task];
    c.prompts++;
    c.prompts_with_pairs += g.pairs.empty() ? 0 : 1;
    c.pairs += static_cast<int64_t>(g.pairs.size());
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// writing

namespace {

// The first bytes of a text, quoted, for error messages: "What is 3 + 4?" or "A very long…".
std::string shown_quoted(const std::string& text) {
  constexpr size_t kShown = 40;
  if (text.size() <= kShown) return "\"" + text + "\"";
  size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) cut--;  // not inside a UTF-8 character
  return "\"" + text.substr(0, cut) + "…\"";
}

void check_group(const ComparisonGroup& g, size_t index) {
  const std::string where = "group " + std::to_string(index) + " (prompt " +
                            (g.prompt.empty() ? std::string("empty") : shown_quoted(g.prompt.back().content)) + "): ";
  const size_t K = g.completions.size();
  if (g.prompt.empty()) throw std::invalid_argument(where + "the prompt has no message");
  if (g.correct.size() != K || g.well_formed.size() != K) {
    throw std::invalid_argument(where + std::to_string(K) + " completions but " + std::to_string(g.correct.size()) +
                                " correct and " + std::to_string(g.well_formed.size()) +
                                " well_formed grades (one each, -1 when unknown)");
  }
  for (const auto& [better, worse] : g.pairs) {
    if (better < 0 || worse < 0 || static_cast<size_t>(better) >= K || static_cast<size_t>(worse) >= K ||
        better == worse) {
      throw std::invalid_argument(where + "pair (" + std::to_string(better) + ", " + std::to_string(worse) +
                                  ") does not name two different completions of " + std::to_string(K));
    }
  }
}

// A line of JSON; std::invalid_argument naming the group when a text is not valid UTF-8 (decoded
// model output is: Tokenizer::decode replaces broken bytes).
std::string json_line(const ojson& row, size_t group) {
  try {
    return row.dump() + "\n";
  } catch (const json::type_error& e) {
    throw std::invalid_argument("group " + std::to_string(group) + ": cannot be written as JSON (" + e.what() +
                                "); decode replies with Tokenizer::decode, which replaces invalid UTF-8");
  }
}

bool is_one_user_message(const Chat& prompt) { return prompt.size() == 1 && prompt[0].role == ChatRole::user; }

ojson grade_json(int8_t grade) { return grade < 0 ? ojson(nullptr) : ojson(grade != 0); }

ojson ranking_row(const ComparisonGroup& g) {
  ojson row = ojson::object();
  const bool system_then_user = g.prompt.size() == 2 && g.prompt[0].role == ChatRole::system &&
                                g.prompt[1].role == ChatRole::user;
  if (is_one_user_message(g.prompt)) {
    row["prompt"] = g.prompt[0].content;
  } else if (system_then_user) {
    row["system"] = g.prompt[0].content;
    row["prompt"] = g.prompt[1].content;
  } else {
    row["prompt"] = messages_json(g.prompt);
  }
  row["task"] = g.task;
  row["answer"] = g.answer;
  ojson completions = ojson::array();
  for (size_t i = 0; i < g.completions.size(); i++) {
    completions.push_back(
        {{"text", g.completions[i]}, {"correct", grade_json(g.correct[i])}, {"well_formed", grade_json(g.well_formed[i])}});
  }
  row["completions"] = completions;
  ojson pairs = ojson::array();
  for (const auto& [better, worse] : g.pairs) pairs.push_back({better, worse});
  row["pairs"] = pairs;
  return row;
}

ojson pair_row(const ComparisonGroup& g, const std::string& chosen, const std::string& rejected) {
  ojson row = ojson::object();
  if (is_one_user_message(g.prompt)) {  // TRL's standard form
    row["prompt"] = g.prompt[0].content;
    row["chosen"] = chosen;
    row["rejected"] = rejected;
  } else {  // TRL's conversational form, explicit prompt
    row["prompt"] = messages_json(g.prompt);
    row["chosen"] = messages_json({{ChatRole::assistant, chosen}});
    row["rejected"] = messages_json({{ChatRole::assistant, rejected}});
  }
  if (!g.task.empty()) row["task"] = g.task;
  return row;
}

}  // namespace

void write_rankings_jsonl(const std::string& path, const std::vector<ComparisonGroup>& groups) {
  std::string out;
  for (size_t i = 0; i < groups.size(); i++) {
    check_group(groups[i], i);
    out += json_line(ranking_row(groups[i]), i);
  }
  write_file_atomic(path, out);
}

void write_pairs_jsonl(const std::string& path, const std::vector<ComparisonGroup>& groups) {
  std::string out;
  for (size_t i = 0; i < groups.size(); i++) {
    const ComparisonGroup& g = groups[i];
    check_group(g, i);
    for (const auto& [better, worse] : g.pairs) out += json_line(pair_row(g, g.completions[better], g.completions[worse]), i);
  }
  write_file_atomic(path, out);
}

// ---------------------------------------------------------------------------------------------
// reading

namespace {

// Every reason below is thrown as std::invalid_argument without file or line; for_each_jsonl_row
// adds "FILE:LINE: ".
[[noreturn]] void bad_field(const std::string& field, const std::string& what) {
  throw std::invalid_argument("field \"" + field + "\": " + what);
}

const json& required(const json& row, const std::string& field) {
  if (!row.contains(field)) throw std::invalid_argument("missing field \"" + field + "\"");
  return row[field];
}

std::string optional_string(const json& row, const std::string& field) {
  if (!row.contains(field)) return "";
  if (!row[field].is_string()) bad_field(field, std::string("expected a string, found ") + row[field].type_name());
  return row[field].get<std::string>();
}

// A list of messages in `field`, with the reasons of parse_messages named by the field.
Chat messages_of(const json& value, const std::string& field, const std::string& expected) {
  if (!value.is_array()) bad_field(field, "expected " + expected + ", found " + value.type_name());
  Chat chat;
  try {
    chat = parse_messages(value);
  } catch (const std::invalid_argument& e) {
    bad_field(field, e.what());
  }
  if (chat.empty()) bad_field(field, "an empty list of messages");
  return chat;
}

// ---- rankings.jsonl

int8_t grade_of(const json& completion, const std::string& name, size_t index) {
  if (!completion.contains(name) || completion[name].is_null()) return -1;
  if (!completion[name].is_boolean()) {
    bad_field("completions", "completion " + std::to_string(index) + ": \"" + name + "\" must be true, false or null, found " +
                                 completion[name].type_name());
  }
  return completion[name].get<bool>() ? 1 : 0;
}

ComparisonGroup parse_ranking(const json& row) {
  ComparisonGroup g;
  const json& prompt = required(row, "prompt");
  if (prompt.is_string()) {
    const std::string system = optional_string(row, "system");
    if (row.contains("system")) g.prompt.push_back({ChatRole::system, system});
    g.prompt.push_back({ChatRole::user, prompt.get<std::string>()});
  } else {
    g.prompt = messages_of(prompt, "prompt", "a string or a list of messages");
    if (row.contains("system")) bad_field("system", "not allowed beside a list of messages (put it first in \"prompt\")");
  }
  g.task = optional_string(row, "task");
  g.answer = optional_string(row, "answer");

  const json& completions = required(row, "completions");
  if (!completions.is_array()) bad_field("completions", std::string("expected a list, found ") + completions.type_name());
  std::map<std::string, size_t> index_of_text;
  for (size_t i = 0; i < completions.size(); i++) {
    const json& c = completions[i];
    const std::string where = "completion " + std::to_string(i) + ": ";
    if (!c.is_object()) bad_field("completions", where + "expected an object, found " + c.type_name());
    if (!c.contains("text")) bad_field("completions", where + "missing field \"text\"");
    if (!c["text"].is_string()) bad_field("completions", where + "\"text\" must be a string, found " + c["text"].type_name());
    std::string text = c["text"].get<std::string>();
    auto [it, fresh] = index_of_text.emplace(text, i);
    if (!fresh) {
      bad_field("completions", where + "repeats completion " + std::to_string(it->second) + " " + shown_quoted(text) +
                                   " (the completions of a group are distinct)");
    }
    g.correct.push_back(grade_of(c, "correct", i));
    g.well_formed.push_back(grade_of(c, "well_formed", i));
    g.completions.push_back(std::move(text));
  }

  const json& pairs = required(row, "pairs");
  if (!pairs.is_array()) bad_field("pairs", std::string("expected a list of [better, worse], found ") + pairs.type_name());
  const auto K = static_cast<int64_t>(g.completions.size());
  for (size_t i = 0; i < pairs.size(); i++) {
    const json& p = pairs[i];
    const std::string where = "pair " + std::to_string(i) + ": ";
    if (!p.is_array() || p.size() != 2 || !p[0].is_number_integer() || !p[1].is_number_integer())
      bad_field("pairs", where + "expected [better, worse], two indices into \"completions\", found " + p.dump());
    const auto better = p[0].get<int64_t>(), worse = p[1].get<int64_t>();
    for (int64_t index : {better, worse}) {
      if (index < 0 || index >= K) {
        bad_field("pairs", where + "index " + std::to_string(index) + " is out of range (" + std::to_string(K) +
                               " completions: 0 to " + std::to_string(K - 1) + ")");
      }
    }
    if (better == worse) bad_field("pairs", where + "compares completion " + std::to_string(better) + " with itself");
    g.pairs.emplace_back(static_cast<int32_t>(better), static_cast<int32_t>(worse));
  }
  return g;
}

// ---- pairs.jsonl (TRL)

struct PairRow {
  Chat prompt;
  std::string task, chosen, rejected;
};

// The last message of a conversational "chosen"/"rejected": the reply.
void require_assistant_last(const Chat& chat, const std::string& field) {
  if (chat.back().role != ChatRole::assistant) {
    bad_field(field, "the last message must be the assistant's, found the " + std::string(role_name(chat.back().role)) +
                         "'s");
  }
}

PairRow parse_pair(const json& row) {
  PairRow r;
  const json& chosen = required(row, "chosen");
  const json& rejected = required(row, "rejected");
  if (chosen.is_string()) {  // standard
    if (!rejected.is_string())
      bad_field("rejected", std::string("expected a string, as \"chosen\" is one (TRL's standard form), found ") +
                                rejected.type_name());
    const json& prompt = required(row, "prompt");
    if (!prompt.is_string())
      bad_field("prompt", std::string("expected a string, as \"chosen\" is one (TRL's standard form), found ") +
                              prompt.type_name());
    r.prompt = {{ChatRole::user, prompt.get<std::string>()}};
    r.chosen = chosen.get<std::string>();
    r.rejected = rejected.get<std::string>();
  } else if (chosen.is_array()) {  // conversational
    const std::string as_chosen = "a list of messages, as \"chosen\" is one (TRL's conversational form)";
    const Chat c = messages_of(chosen, "chosen", "a list of messages");
    const Chat rj = messages_of(rejected, "rejected", as_chosen);
    require_assistant_last(c, "chosen");
    require_assistant_last(rj, "rejected");
    if (row.contains("prompt")) {  // explicit prompt
      r.prompt = messages_of(row["prompt"], "prompt", as_chosen);
      for (const auto& [field, chat] : {std::pair{"chosen", &c}, std::pair{"rejected", &rj}}) {
        if (chat->size() != 1)
          bad_field(field, "expected one assistant message after an explicit \"prompt\", found " +
                               std::to_string(chat->size()) + " messages");
      }
    } else {  // implicit prompt: everything before the last message, the same in both
      for (const auto& [field, chat] : {std::pair{"chosen", &c}, std::pair{"rejected", &rj}}) {
        if (chat->size() < 2)
          bad_field(field, "no message before the assistant's, and no \"prompt\" field: the prompt would be empty");
      }
      const size_t n = c.size() - 1, m = rj.size() - 1;
      for (size_t i = 0; i < std::max(n, m); i++) {
        if (i >= n || i >= m || !(c[i] == rj[i])) {
          throw std::invalid_argument("the implicit prompt of \"chosen\" and \"rejected\" differ (message " +
                                      std::to_string(i) +
                                      "): every message before the last must be the same in both");
        }
      }
      r.prompt.assign(c.begin(), c.end() - 1);
    }
    r.chosen = c.back().content;
    r.rejected = rj.back().content;
  } else {
    bad_field("chosen", std::string("expected a string or a list of messages, found ") + chosen.type_name());
  }
  r.task = optional_string(row, "task");
  if (r.chosen == r.rejected) {
    throw std::invalid_argument("\"chosen\" and \"rejected\" are the same reply " + shown_quoted(r.chosen) +
                                " (a pair compares two different replies)");
  }
  return r;
}

// Groups made of pairs, found by (task, prompt), and each one's completions by text.
class PairGrouper {
 public:
  explicit PairGrouper(std::vector<ComparisonGroup>& groups) : groups_(groups) {}
  void add(PairRow r) {
    const std::string key = ojson::array({r.task, messages_json(r.prompt)}).dump();
    auto [it, fresh] = group_of_key_.emplace(key, groups_.size());
    if (fresh) {
      ComparisonGroup g;
      g.prompt = std::move(r.prompt);
      g.task = std::move(r.task);
      groups_.push_back(std::move(g));
      index_of_text_.emplace(it->second, std::map<std::string, int32_t>{});
    }
    ComparisonGroup& g = groups_[it->second];
    auto& index_of_text = index_of_text_.at(it->second);
    auto index = [&](std::string& text) {
      auto [t, added] = index_of_text.emplace(text, static_cast<int32_t>(g.completions.size()));
      if (added) {
        g.completions.push_back(std::move(text));
        g.correct.push_back(-1);
        g.well_formed.push_back(-1);
      }
      return t->second;
    };
    const int32_t better = index(r.chosen);
    const int32_t worse = index(r.rejected);
    g.pairs.emplace_back(better, worse);
  }

 private:
  std::vector<ComparisonGroup>& groups_;
  std::map<std::string, size_t> group_of_key_;
  std::map<size_t, std::map<std::string, int32_t>> index_of_text_;  // by group index
};

}  // namespace

std::vector<ComparisonGroup> read_preferences(const std::string& path) {
  std::vector<ComparisonGroup> groups;
  PairGrouper pairs(groups);
  const int64_t lines = for_each_jsonl_row(path, "preferences file (rankings.jsonl or pairs.jsonl)", [&](const json& row) {
    if (!row.is_object()) throw std::invalid_argument(std::string("expected a JSON object, found ") + row.type_name());
    const bool ranking = row.contains("completions");
    const bool pair = row.contains("chosen") || row.contains("rejected");
    if (ranking && pair) {
      throw std::invalid_argument("both a ranking (field \"completions\") and a pair (\"chosen\"/\"rejected\"): "
                                  "a line is one or the other");
    }
    if (ranking) {
      groups.push_back(parse_ranking(row));
    } else if (pair) {
      pairs.add(parse_pair(row));
    } else {
      throw std::invalid_argument("neither a ranking (field \"completions\") nor a pair (fields \"chosen\" and "
                                  "\"rejected\")");
    }
  });
  int64_t total = 0;
  for (const ComparisonGroup& g : groups) total += static_cast<int64_t>(g.pairs.size());
  if (total == 0) {
    throw std::runtime_error(path + ": no preference pair in the file (" + std::to_string(lines) + " lines, " +
                             std::to_string(groups.size()) + " groups): a reward model has nothing to learn from");
  }
  return groups;
}

}  // namespace sog
