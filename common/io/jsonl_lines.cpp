#include "common/io/jsonl_lines.h"

#include <fstream>
#include <stdexcept>

namespace sog {

int64_t for_each_jsonl_row(const std::string& path, std::string_view what,
                           const std::function<void(const nlohmann::json&)>& row,
                           const std::function<void(const std::string&)>& on_bad_line) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open the " + std::string(what));
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    line_no++;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
    std::string reason;
    try {
      row(nlohmann::json::parse(line));
      continue;
    } catch (const nlohmann::json::parse_error& e) {
      reason = std::string("invalid JSON (") + e.what() + ")";
    } catch (const std::invalid_argument& e) {
      reason = e.what();
    }
    const std::string message = path + ":" + std::to_string(line_no) + ": " + reason;
    if (!on_bad_line) throw std::runtime_error(message);
    on_bad_line(message);
  }
  if (in.bad()) throw std::runtime_error(path + ": read error after line " + std::to_string(line_no));
  return line_no;
}

}  // namespace sog
