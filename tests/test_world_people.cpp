// People: unique names, attributes in range, documents that state every fact in varied words,
// questions in the few-shot format.
#include <gtest/gtest.h>

#include <set>

#include "common/world/people.h"

using namespace sog;

TEST(WorldPeople, MakePeople) {
  Rng rng(1);
  auto people = make_people(static_cast<int>(first_names().size()), rng);
  std::set<std::string> names;
  for (const Person& p : people) {
    EXPECT_TRUE(names.insert(p.name).second) << "duplicate " << p.name;
    EXPECT_GE(p.age, min_age);
    EXPECT_LE(p.age, max_age);
    EXPECT_FALSE(p.city.empty() || p.job.empty() || p.pet.empty() || p.color.empty() || p.hobby.empty());
    EXPECT_EQ(p.split, Split::train);
  }
  EXPECT_THROW(make_people(static_cast<int>(first_names().size()) + 1, rng), std::invalid_argument);
  // same seed, same people
  Rng a(5), b(5);
  auto x = make_people(20, a), y = make_people(20, b);
  for (int i = 0; i < 20; i++) EXPECT_EQ(x[i].name + x[i].city, y[i].name + y[i].city);
}

TEST(WorldPeople, NamesAreNotCitiesOrValues) {
  std::set<std::string_view> values;
  for (auto list : {cities(), jobs(), pets(), colors(), hobbies()}) values.insert(list.begin(), list.end());
  for (std::string_view n : first_names()) {
    EXPECT_FALSE(values.contains(n)) << n;
    EXPECT_TRUE(n[0] >= 'A' && n[0] <= 'Z') << n;
  }
}

TEST(WorldPeople, QuestionsAndAnswers) {
  Person p{"Catherine", 54, "Paris", "baker", "cat", "green", "chess"};
  EXPECT_EQ(fact_task(p, TaskKind::age).prompt, "How old is Catherine?");
  EXPECT_EQ(fact_task(p, TaskKind::age).answer, "54");
  EXPECT_EQ(fact_task(p, TaskKind::city).prompt, "Where does Catherine live?");
  EXPECT_EQ(fact_task(p, TaskKind::city).answer, "Paris");
  EXPECT_EQ(fact_task(p, TaskKind::job).answer, "baker");
  EXPECT_EQ(fact_task(p, TaskKind::pet).prompt, "What pet does Catherine have?");
  EXPECT_EQ(fact_task(p, TaskKind::color).answer, "green");
  EXPECT_EQ(fact_task(p, TaskKind::hobby).answer, "chess");
  EXPECT_THROW(fact_task(p, TaskKind::add), std::invalid_argument);
  EXPECT_EQ(with_article("engineer"), "an engineer");
  EXPECT_EQ(with_article("baker"), "a baker");
  EXPECT_EQ(with_article("54-year-old baker"), "a 54-year-old baker");
  EXPECT_EQ(with_article("80-year-old baker"), "an 80-year-old baker");
  EXPECT_EQ(with_article("18-year-old baker"), "an 18-year-old baker");
  EXPECT_EQ(with_article("19-year-old baker"), "a 19-year-old baker");
}

TEST(WorldPeople, DocumentsStateEveryFactInVariedWords) {
  Person p{"Catherine", 54, "Paris", "engineer", "parrot", "green", "chess"};
  Rng rng(3);
  std::set<std::string> docs, first_sentences;
  for (int i = 0; i < 200; i++) {
    std::string d = person_document(p, rng);
    ASSERT_TRUE(d.ends_with("\n"));
    for (const std::string& fact : {std::string("54"), p.city, p.job, p.pet, p.color, p.hobby})
      EXPECT_NE(d.find(fact), std::string::npos) << fact << " missing from: " << d;
    // articles agree: "an engineer", or "a 54-year-old engineer" in the pair sentence
    EXPECT_TRUE(d.find("an engineer") != std::string::npos || d.find("a 54-year-old engineer") != std::string::npos) << d;
    EXPECT_EQ(d.find("a engineer"), std::string::npos) << d;
    docs.insert(d);
    std::string body = d.starts_with("About") || d.starts_with("Profile") ? d.substr(d.find('\n') + 1) : d;
    first_sentences.insert(body.substr(0, body.find('.')));
  }
  EXPECT_GT(docs.size(), 190u);             // practically never the same document twice
  EXPECT_GT(first_sentences.size(), 15u);   // sentence order and templates vary
  // The paraphrases of the brief appear.
  bool pair_age_city = false, home_to = false;
  for (const auto& d : docs) {
    pair_age_city |= d.find("Catherine is 54 years old and lives in Paris.") != std::string::npos;
    home_to |= d.find("Paris is home to Catherine, a 54-year-old engineer.") != std::string::npos;
  }
  EXPECT_TRUE(pair_age_city);
  EXPECT_TRUE(home_to);
}
