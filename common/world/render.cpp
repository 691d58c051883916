#include "common/world/render.h"

#include <filesystem>
#include <map>
#include <stdexcept>

#include "common/io/atomic_file.h"
#include "common/world/people_file.h"
#include "common/tokenizer/special_tokens.h"

namespace sog {

using ojson = nlohmann::ordered_json;

const std::vector<std::string>& world_file_names() {
  static const std::vector<std::string> names = {
      "pretrain.txt", "library.txt", "sft_train.jsonl", "sft_val.jsonl", "ppo_prompts.jsonl",
      "eval_val.jsonl", "eval_test.jsonl", "eval_seen.jsonl", "eval_constraint.jsonl", "eval_tools.jsonl", "preferences_train.jsonl",
      "people.jsonl",
      "manifest.json"};
  return names;
}

std::string render_documents(const std::vector<std::string>& docs) {
  std::string out;
  for (const auto& d : docs) out += d + std::string(kEndOfText);
  return out;
}

ojson sft_row(const Conversation& conv) {
  ojson messages = ojson::array();
  if (!conv.system.empty()) messages.push_back({{"role", "system"}, {"content", conv.system}});
  messages.push_back({{"role", "user"}, {"content", conv.user}});
  messages.push_back({{"role", "assistant"}, {"content", conv.assistant}});
  return {{"messages", messages}};
}

ojson task_row(const Task& task) {
  return {{"prompt", task.prompt}, {"answer", task.answer}, {"task", std::string(task_name(task.kind))}};
}

std::string render_sft(const std::vector<Conversation>& convs) {
  std::string out;
  for (const auto& c : convs) out += sft_row(c).dump() + "\n";
  return out;
}

std::string render_tasks(const std::vector<Task>& tasks) {
  std::string out;
  for (const auto& t : tasks) out += task_row(t).dump() + "\n";
  return out;
}

std::string render_eval(const std::vector<EvalQuestion>& questions, bool with_seen_flag) {
  std::string out;
  for (const auto& q : questions) {
    ojson row = task_row(q.task);
    if (with_seen_flag) row["seen_in_qa"] = q.seen_in_qa;
    out += row.dump() + "\n";
  }
  return out;
}

std::string render_preferences(const std::vector<LabeledPair>& pairs) {
  std::string out;
  for (const auto& p : pairs)
    out += ojson{{"prompt", p.pair.prompt}, {"chosen", p.pair.chosen}, {"rejected", p.pair.rejected}}.dump() + "\n";
  return out;
}

// {"age": 12, "add": 30, …} in task order, tasks with no item left out.
template <typename Items, typename KindOf>
static ojson counts_by_task(const Items& items, KindOf kind_of) {
  std::map<TaskKind, int> counts;
  for (const auto& item : items) counts[kind_of(item)]++;
  ojson out = ojson::object();
  for (TaskKind k : all_task_kinds)
    if (counts.contains(k)) out[std::string(task_name(k))] = counts[k];
  return out;
}

ojson world_manifest(const World& w) {
  ojson files = ojson::object();
  {
    std::map<std::string, int> kinds;
    for (const auto& k : w.pretrain_doc_kinds) kinds[k]++;
    files["pretrain.txt"] = {{"documents", w.pretrain_docs.size()}, {"bytes", render_documents(w.pretrain_docs).size()},
                             {"by_kind", kinds}};
    files["library.txt"] = {{"documents", w.library_docs.size()}, {"bytes", render_documents(w.library_docs).size()}};
  }
  auto conv_kind = [](const Conversation* c) { return c->kind; };
  for (auto [name, convs] : {std::pair{"sft_train.jsonl", &w.sft_train}, std::pair{"sft_val.jsonl", &w.sft_val}}) {
    std::map<std::string, int> formats, shares;
    int self_checks = 0;
    std::vector<const Conversation*> answered;  // by_task: the conversations whose reply answers their task
    for (const auto& c : *convs) {
      formats[std::string(format_name(c.format))]++, self_checks += c.self_check, shares[c.share]++;
      if (c.share != "override" && c.share != "repeat") answered.push_back(&c);
    }
    files[name] = {{"lines", convs->size()}, {"by_task", counts_by_task(answered, conv_kind)}, {"by_format", formats},
                   {"by_share", shares}, {"self_checks", self_checks}};
  }
  files["ppo_prompts.jsonl"] = {{"lines", w.ppo_prompts.size()},
                                {"by_task", counts_by_task(w.ppo_prompts, [](const Task& t) { return t.kind; })}};
  auto q_kind = [](const EvalQuestion& q) { return q.task.kind; };
  for (auto [name, qs] : {std::pair{"eval_val.jsonl", &w.eval_val}, std::pair{"eval_test.jsonl", &w.eval_test},
                          std::pair{"eval_seen.jsonl", &w.eval_seen}, std::pair{"eval_constraint.jsonl", &w.eval_constraint},
                          std::pair{"eval_tools.jsonl", &w.eval_tools}})
    files[name] = {{"lines", qs->size()}, {"by_task", counts_by_task(*qs, q_kind)}};
  files["preferences_train.jsonl"] = {
      {"lines", w.preferences.size()},
      {"by_task", counts_by_task(w.preferences, [](const LabeledPair& p) { return p.kind; })}};

  ojson people = {{"train", 0}, {"val", 0}, {"test", 0}};
  for (const Person& p : w.people) people[std::string(split_name(p.split))] = people[std::string(split_name(p.split))].get<int>() + 1;
  files["people.jsonl"] = {{"lines", w.people.size()}, {"by_split", people}};
  ojson chance = ojson::object();
  for (TaskKind k : all_task_kinds) chance[std::string(task_name(k))] = chance_level(k, w.config);

  return {{"schema_version", world_schema_version},
          {"seed", w.config.seed},
          {"config", config_to_json(w.config)},
          {"people", people},
          {"files", files},
          {"chance_level", chance}};
}

int write_world(const WorldConfig& config, const std::string& out_dir) {
  const World w = generate_world(config);
  std::filesystem::create_directories(out_dir);
  auto path = [&](const char* name) { return (std::filesystem::path(out_dir) / name).string(); };
  write_file_atomic(path("pretrain.txt"), render_documents(w.pretrain_docs));
  write_file_atomic(path("library.txt"), render_documents(w.library_docs));
  write_file_atomic(path("sft_train.jsonl"), render_sft(w.sft_train));
  write_file_atomic(path("sft_val.jsonl"), render_sft(w.sft_val));
  write_file_atomic(path("ppo_prompts.jsonl"), render_tasks(w.ppo_prompts));
  write_file_atomic(path("eval_val.jsonl"), render_eval(w.eval_val, false));
  write_file_atomic(path("eval_test.jsonl"), render_eval(w.eval_test, false));
  write_file_atomic(path("eval_seen.jsonl"), render_eval(w.eval_seen, true));
  write_file_atomic(path("eval_constraint.jsonl"), render_eval(w.eval_constraint, false));
  write_file_atomic(path("eval_tools.jsonl"), render_eval(w.eval_tools, false));
  write_file_atomic(path("preferences_train.jsonl"), render_preferences(w.preferences));
  write_file_atomic(path("people.jsonl"), render_people(w.people));
  write_file_atomic(path("manifest.json"), world_manifest(w).dump(2) + "\n");
  return 0;
}

std::map<std::string, double> read_chance_levels(const std::string& manifest_path) {
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(read_file(manifest_path));
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(manifest_path + ": expected a world's manifest.json (valid JSON): " + e.what());
  }
  if (!m.is_object() || !m.contains("schema_version") || m["schema_version"] != world_schema_version) {
    throw std::runtime_error(manifest_path + ": expected a world's manifest.json with schema_version " +
                             std::to_string(world_schema_version) + ", found " +
                             (m.is_object() && m.contains("schema_version") ? m["schema_version"].dump() : "none") +
                             " (write it again with `tokenizer world`)");
  }
  if (!m.contains("chance_level") || !m["chance_level"].is_object()) {
    throw std::runtime_error(manifest_path + ": no \"chance_level\" object");
  }
  std::map<std::string, double> out;
  for (const auto& [task, p] : m["chance_level"].items()) {
    if (!p.is_number()) throw std::runtime_error(manifest_path + ": chance_level." + task + " is not a number");
    out[task] = p.get<double>();
  }
  return out;
}

}  // namespace sog
