// Facts: a population of people, each with a unique first name and six attributes, written as
// varied natural documents and asked about as questions.
//
//   Person{"Catherine", 54, "Paris", "baker", "cat", "green", "chess"}
//   person_document →  "Paris is home to Catherine, a 54-year-old baker. Catherine has a pet cat. …"
//   fact_task(p, TaskKind::age) → {"How old is Catherine?", "54"}
//   qa line (the talk's few-shot format) → "Q: How old is Catherine?\nA: 54\n"
//
// Every document states every fact of its person once, with a randomly chosen template per fact
// (some templates state two facts in one sentence) and the sentences in random order, so the same
// fact is read in several wordings across a person's documents.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/tensor/random.h"
#include "common/world/task.h"

namespace sog {

enum class Split { train, val, test };
std::string_view split_name(Split split);

struct Person {
  std::string name;  // unique within the world
  int age = 0;       // min_age … max_age
  std::string city, job, pet, color, hobby;
  Split split = Split::train;  // val and test people are library-only
  bool operator==(const Person&) const = default;
};

inline constexpr int min_age = 18, max_age = 90;

// The value lists attributes are drawn from (built in; chance levels are 1/size).
std::span<const std::string_view> first_names();
std::span<const std::string_view> cities();
std::span<const std::string_view> jobs();
std::span<const std::string_view> pets();
std::span<const std::string_view> colors();
std::span<const std::string_view> hobbies();

// n people with distinct names drawn from first_names(); attributes uniform. Throws if n exceeds
// the name list. All get Split::train; splits.h assigns the held-out ones.
std::vector<Person> make_people(int n, Rng& rng);

// The attribute a fact task asks about, as the answer string ("54", "Paris", "baker", …).
// kind must be a fact task (age … hobby).
std::string fact_value(const Person& p, TaskKind kind);
// The attribute names of lookup(name, attribute): "age", "city", "job", "pet", "color", "hobby".
std::string_view attribute_name(TaskKind kind);

// The question about one attribute: {"Where does Catherine live?", "Paris", city, direct}.
Task fact_task(const Person& p, TaskKind kind);

// One natural document stating all six facts of p (ends with "\n").
std::string person_document(const Person& p, Rng& rng);

// "a baker", "an engineer".
std::string with_article(std::string_view noun);

}  // namespace sog
