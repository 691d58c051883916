// people.jsonl: the world's people written and read back — a round trip over a whole world, the
// file write_world leaves (with its manifest entry), and an error naming file, line and field for
// every kind of bad line.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/io/atomic_file.h"
#include "common/world/people_file.h"
#include "common/world/render.h"
#include "test_util.h"

using namespace sog;
namespace fs = std::filesystem;

TEST(WorldPeopleFile, RowFormat) {
  Person p{"Catherine", 54, "Paris", "baker", "cat", "green", "chess", Split::test};
  EXPECT_EQ(render_people({p}),
            R"({"name":"Catherine","age":54,"city":"Paris","job":"baker","pet":"cat","color":"green","hobby":"chess","split":"test"})"
            "\n");
}

TEST(WorldPeopleFile, RoundTripOfAWholeWorld) {
  const fs::path dir = sog::testing::fresh_temp_dir("people_file");
  WorldConfig config;
  config.seed = 11;
  const World w = generate_world(config);
  write_file_atomic((dir / "people.jsonl").string(), render_people(w.people));
  const std::vector<Person> back = read_people_jsonl((dir / "people.jsonl").string());
  EXPECT_EQ(back, w.people);  // every attribute and every split
  int held_out = 0;
  for (const Person& p : back) held_out += p.split != Split::train;
  EXPECT_GT(held_out, 0);
  fs::remove_all(dir);
}

TEST(WorldPeopleFile, WrittenByTheWorldWithItsManifestEntry) {
  const fs::path dir = sog::testing::fresh_temp_dir("people_world");
  WorldConfig config;
  config.seed = 5;
  ASSERT_EQ(write_world(config, dir.string()), 0);
  const std::vector<Person> people = read_people_jsonl((dir / "people.jsonl").string());
  EXPECT_EQ(people, generate_world(config).people);
  const nlohmann::json manifest = nlohmann::json::parse(read_file((dir / "manifest.json").string()));
  const nlohmann::json& entry = manifest["files"]["people.jsonl"];
  EXPECT_EQ(entry["lines"].get<size_t>(), people.size());
  EXPECT_EQ(entry["by_split"], manifest["people"]);
  int train = 0;
  for (const Person& p : people) train += p.split == Split::train;
  EXPECT_EQ(entry["by_split"]["train"].get<int>(), train);
  fs::remove_all(dir);
}

TEST(WorldPeopleFile, BadLinesNameFileLineAndField) {
  const fs::path dir = sog::testing::fresh_temp_dir("people_bad");
  const std::string file = (dir / "people.jsonl").string();
  const std::string good = R"({"name":"Ana","age":30,"city":"Oslo","job":"chef","pet":"cat","color":"red","hobby":"chess","split":"train"})";
  auto error_for = [&](const std::string& second_line) {
    write_file_atomic(file, good + "\n\n" + second_line + "\n");  // the bad line is line 3
    return sog::testing::error_of([&] { read_people_jsonl(file); });
  };
  auto with = [&](const std::string& key, const std::string& value) {  // good row, one field replaced
    nlohmann::ordered_json row = nlohmann::ordered_json::parse(good);
    row["name"] = "Bo";
    if (value.empty()) row.erase(key); else row[key] = nlohmann::ordered_json::parse(value);
    return row.dump();
  };
  const std::string at = file + ":3: ";
  EXPECT_EQ(error_for("{not json").substr(0, at.size() + 14), at + "not valid JSON");
  EXPECT_EQ(error_for("[1, 2]"), at + "expected a JSON object, found [1,2]");
  EXPECT_EQ(error_for(with("city", "")), at + "field \"city\" is missing");
  EXPECT_EQ(error_for(with("job", "7")), at + "field \"job\": expected a non-empty string, found 7");
  EXPECT_EQ(error_for(with("pet", "\"\"")), at + "field \"pet\": expected a non-empty string, found \"\"");
  EXPECT_EQ(error_for(with("age", "\"54\"")), at + "field \"age\": expected an integer in 0 … 1000, found \"54\"");
  EXPECT_EQ(error_for(with("age", "-1")), at + "field \"age\": expected an integer in 0 … 1000, found -1");
  EXPECT_EQ(error_for(with("age", "5.5")), at + "field \"age\": expected an integer in 0 … 1000, found 5.5");
  EXPECT_EQ(error_for(with("split", "\"dev\"")), at + "field \"split\": expected \"train\", \"val\" or \"test\", found \"dev\"");
  EXPECT_EQ(error_for(good), at + "field \"name\": \"Ana\" is already the name of line 1 (names must be unique: lookup finds people by name)");
  // Extra keys are ignored; blank lines are skipped.
  EXPECT_EQ(error_for(with("shoe_size", "44")), "");
  EXPECT_EQ(read_people_jsonl(file).size(), 2u);
  // No file, an empty file.
  EXPECT_NE(sog::testing::error_of([&] { read_people_jsonl((dir / "missing.jsonl").string()); })
                .find("missing.jsonl: cannot open the people file"),
            std::string::npos);
  write_file_atomic(file, "\n");
  EXPECT_EQ(sog::testing::error_of([&] { read_people_jsonl(file); }), file + ": no people in the file (1 lines)");
  fs::remove_all(dir);
}
