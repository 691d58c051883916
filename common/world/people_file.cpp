#include "common/world/people_file.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

namespace sog {

using ojson = nlohmann::ordered_json;

ojson people_row(const Person& p) {
  return {{"name", p.name}, {"age", p.age}, {"city", p.city}, {"job", p.job}, {"pet", p.pet},
          {"color", p.color}, {"hobby", p.hobby}, {"split", std::string(split_name(p.split))}};
}

std::string render_people(const std::vector<Person>& people) {
  std::string out;
  for (const Person& p : people) out += people_row(p).dump() + "\n";
  return out;
}

// One row → a Person; throws std::invalid_argument naming the field (the caller adds file:line).
static Person parse_person_row(const nlohmann::json& row) {
  if (!row.is_object()) throw std::invalid_argument("expected a JSON object, found " + row.dump().substr(0, 60));
  auto field = [&](const char* name) -> const nlohmann::json& {
    if (!row.contains(name)) throw std::invalid_argument(std::string("field \"") + name + "\" is missing");
    return row[name];
  };
  auto text = [&](const char* name) {
    const nlohmann::json& v = field(name);
    if (!v.is_string() || v.get<std::string>().empty())
      throw std::invalid_argument(std::string("field \"") + name + "\": expected a non-empty string, found " + v.dump());
    return v.get<std::string>();
  };
  Person p;
  p.name = text("name");
  const nlohmann::json& age = field("age");
  if (!age.is_number_integer() || age.get<int64_t>() < 0 || age.get<int64_t>() > 1000)
    throw std::invalid_argument("field \"age\": expected an integer in 0 … 1000, found " + age.dump());
  p.age = age.get<int>();
  p.city = text("city");
  p.job = text("job");
  p.pet = text("pet");
  p.color = text("color");
  p.hobby = text("hobby");
  const std::string split = text("split");
  bool known = false;
  for (Split s : {Split::train, Split::val, Split::test})
    if (split == split_name(s)) p.split = s, known = true;
  if (!known) throw std::invalid_argument("field \"split\": expected \"train\", \"val\" or \"test\", found \"" + split + "\"");
  return p;
}

std::vector<Person> read_people_jsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open the people file (a world folder written by `tokenizer world` has one)");
  std::vector<Person> people;
  std::map<std::string, int64_t> line_of_name;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    line_no++;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    Person p;
    try {
      p = parse_person_row(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error(where + "not valid JSON (" + e.what() + ")");
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(where + e.what());
    }
    auto [it, fresh] = line_of_name.emplace(p.name, line_no);
    if (!fresh)
      throw std::runtime_error(where + "field \"name\": \"" + p.name + "\" is already the name of line " +
                               std::to_string(it->second) + " (names must be unique: lookup finds people by name)");
    people.push_back(std::move(p));
  }
  if (in.bad()) throw std::runtime_error(path + ": read error after line " + std::to_string(line_no));
  if (people.empty()) throw std::runtime_error(path + ": no people in the file (" + std::to_string(line_no) + " lines)");
  return people;
}

std::vector<Person> world_people(const std::string& world_dir) {
  if (world_dir.empty()) return {};
  return read_people_jsonl((std::filesystem::path(world_dir) / "people.jsonl").string());
}

}  // namespace sog
