// Shared by the tokenizer's file readers: errors of the form "path:line: what was expected, found".
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sog::tokenizer_files {

[[noreturn]] void fail_at(const std::string& file, size_t line, const std::string& what);
// The line number (1-based) of byte offset pos in text.
size_t line_of(std::string_view text, size_t pos);
// nlohmann::json::parse, with a parse error reported as "path:line: expected valid JSON: ...".
nlohmann::json parse_json_file(const std::string& path, const std::string& contents);
// s rendered printable and quoted, cut at 60 bytes.
std::string quote_token(std::string_view s);

}  // namespace sog::tokenizer_files
