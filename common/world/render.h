// Render: writes a World into a folder, one file per artifact, each atomically
// (common/io/atomic_file.h), so a crash never leaves a half-written file.
//
//   pretrain.txt           documents, each followed by <|endoftext|> (no newline after it):
//                          "Catherine is 54 years old and lives in Paris. …\n<|endoftext|>Q: …"
//   library.txt            retrieval documents, same format
//   sft_train.jsonl        {"messages":[{"role":"system","content":…}?,
//   sft_val.jsonl                       {"role":"user","content":…},{"role":"assistant","content":…}]}
//   ppo_prompts.jsonl      {"prompt":…,"answer":…,"task":…}
//   eval_val.jsonl         {"prompt":…,"answer":…,"task":…}
//   eval_test.jsonl        (held-out people, operand pairs and words)
//   eval_seen.jsonl        {"prompt":…,"answer":…,"task":…,"seen_in_qa":true|false}
//   eval_constraint.jsonl  {"prompt":…,"answer":…,"task":"avoid"}   (answer: one right answer of many)
//   preferences_train.jsonl {"prompt":…,"chosen":…,"rejected":…}   (TRL's convention)
//   people.jsonl           {"name":…,"age":…,"city":…,"job":…,"pet":…,"color":…,"hobby":…,"split":…}
//                          every person (people_file.h: read_people_jsonl loads them back)
//   manifest.json          schema_version, seed, config, per-file counts (documents or lines,
//                          bytes, per task / kind / format), people per split, chance levels
//
// JSONL: one compact JSON object per line, keys in the order shown, "\n" after every line.
// `task` is a task_name ("age" … "last"); prompts are bare questions (no "Q:", no chat tokens).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/world/world.h"

namespace sog {

inline constexpr int world_schema_version = 1;

// The file names written by write_world, in writing order (manifest.json last).
const std::vector<std::string>& world_file_names();

std::string render_documents(const std::vector<std::string>& docs);  // doc<|endoftext|>doc<|endoftext|>
nlohmann::ordered_json sft_row(const Conversation& conv);
nlohmann::ordered_json task_row(const Task& task);
std::string render_sft(const std::vector<Conversation>& convs);
std::string render_tasks(const std::vector<Task>& tasks);
std::string render_eval(const std::vector<EvalQuestion>& questions, bool with_seen_flag);
std::string render_preferences(const std::vector<LabeledPair>& pairs);
nlohmann::ordered_json world_manifest(const World& world);

// Generates the world of config and writes every file into out_dir (created if missing).
// Returns 0; throws std::invalid_argument for a bad config and std::runtime_error naming the
// file for an I/O failure.
int write_world(const WorldConfig& config, const std::string& out_dir);

// manifest.json's "chance_level" read back: task name → probability that guessing is right.
// Throws std::runtime_error naming the file when it is not a world manifest of this schema version.
std::map<std::string, double> read_chance_levels(const std::string& manifest_path);

}  // namespace sog
