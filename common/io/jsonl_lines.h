// Reading a JSONL file whose lines are records of a format: the loop every such reader shares.
// Blank lines are skipped; every other line is parsed and handed to `row`. A line that is not
// JSON, or that `row` rejects by throwing std::invalid_argument with the reason (no file or line:
// this adds them), becomes "FILE:LINE: reason":
//
//   for_each_jsonl_row(path, "conversations file", [&](const nlohmann::json& r) { chats.push_back(parse_conversation(r)); });
//   → std::runtime_error "sft.jsonl:3: message 0: unknown role \"wizard\" (expected system, user or assistant)"
//
// By default the first such line throws; with `on_bad_line` the message is handed to it instead
// (to count and skip the line, or to throw with a hint of its own) and reading goes on.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sog {

// Returns the number of lines read (blank ones included). Throws std::runtime_error
// "FILE: cannot open the <what>" when the file cannot be opened, and on a read error.
int64_t for_each_jsonl_row(const std::string& path, std::string_view what,
                           const std::function<void(const nlohmann::json&)>& row,
                           const std::function<void(const std::string&)>& on_bad_line = {});

}  // namespace sog
