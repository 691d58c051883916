// people.jsonl: the world's people as data, so that a program can load the people a world was
// written with (the lookup tool's table, a retrieval index, …) instead of regenerating them from
// a seed and a config it may not have.
//
// One person per line, every attribute and the split, keys in this order:
//   {"name":"Catherine","age":54,"city":"Paris","job":"baker","pet":"cat","color":"green",
//    "hobby":"chess","split":"train"}
//   name, city, job, pet, color, hobby   non-empty strings (names unique within the file)
//   age                                  an integer in 0 … 1000
//   split                                "train", "val" or "test" (val and test people appear only
//                                        in the retrieval library; splits.h)
// Other keys are ignored (room for later attributes); blank lines are skipped.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/world/people.h"

namespace sog {

nlohmann::ordered_json people_row(const Person& p);
std::string render_people(const std::vector<Person>& people);  // one people_row per line, "\n" after each

// Reads a people.jsonl. Throws std::runtime_error "FILE:LINE: field \"age\": expected an integer
// in 0 … 1000, found \"54\"" at the first bad line (not JSON, not an object, a missing or mistyped field, an
// unknown split, a name seen on an earlier line), and when the file cannot be read or holds nobody.
std::vector<Person> read_people_jsonl(const std::string& path);
// A world folder's people (world_dir/people.jsonl, read_people_jsonl); nobody for an empty world_dir.
std::vector<Person> world_people(const std::string& world_dir);

}  // namespace sog
