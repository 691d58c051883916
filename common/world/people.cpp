#include "common/world/people.h"

#include <algorithm>
#include <stdexcept>

namespace sog {

std::string_view split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::val: return "val";
    case Split::test: return "test";
  }
  throw std::logic_error("split_name: unknown Split");
}

// ---- value lists ------------------------------------------------------------------------------
// First names: none is an English word, a city or another name's prefix-free clash that would
// confuse a whole-word search (the split tests search names as whole words).
static constexpr std::string_view kFirstNames[] = {
    "Aaron", "Abigail", "Adrian", "Agnes", "Aiden", "Alberto", "Alexis", "Alfred", "Alice", "Alina",
    "Alonso", "Amara", "Amelia", "Anders", "Andrea", "Angela", "Anika", "Anton", "Arjun", "Arthur",
    "Astrid", "Beatrice", "Benedict", "Bernard", "Bianca", "Boris", "Bruno", "Camila", "Carlos", "Carmen",
    "Caspar", "Catherine", "Cecilia", "Cedric", "Chiara", "Clara", "Claudia", "Colette", "Cornelius", "Damian",
    "Daniela", "Dario", "Deborah", "Delphine", "Dmitri", "Dolores", "Dominic", "Edgar", "Edith", "Eduardo",
    "Elena", "Elias", "Elise", "Eloise", "Emeka", "Emilio", "Enzo", "Esther", "Ethan", "Eugene",
    "Fabian", "Fatima", "Felix", "Fernando", "Fiona", "Frida", "Gabriel", "Gareth", "Gideon", "Giselle",
    "Gustav", "Hamid", "Hannah", "Harriet", "Hector", "Helga", "Henrik", "Hiroshi", "Hugo", "Ibrahim",
    "Ignacio", "Ingrid", "Isabel", "Ishaan", "Ivan", "Jasper", "Javier", "Jonas", "Josephine", "Julian",
    "Juliette", "Kamal", "Karim", "Katarina", "Kenji", "Klaus", "Lars", "Leandro", "Leonie", "Linnea",
    "Lorenzo", "Lucas", "Lucia", "Ludwig", "Magnus", "Malik", "Marcel", "Margot", "Marisol", "Marta",
    "Matteo", "Maxine", "Mehmet", "Mikhail", "Miriam", "Nadia", "Naomi", "Natasha", "Nikolai", "Noemi",
    "Octavia", "Olga", "Oliver", "Omar", "Oscar", "Otto", "Pablo", "Paloma", "Patrice", "Petra",
    "Philippa", "Quentin", "Rafael", "Ramona", "Rashid", "Rebecca", "Renata", "Ricardo", "Rolf", "Rosalind",
    "Rupert", "Sabine", "Salma", "Samir", "Sandra", "Sebastian", "Selma", "Sergei", "Silvia", "Simone",
    "Sofia", "Stefan", "Svetlana", "Tamara", "Teodor", "Thea", "Tobias", "Ulrich", "Ursula", "Valentina",
    "Vera", "Vikram", "Vincent", "Walter", "Wilhelmina", "Xavier", "Yasmin", "Yusuf", "Zainab", "Zoltan",
    "Adele", "Ahmed", "Albrecht", "Ana", "Anselm", "Aurelia", "Bartholomew", "Bettina", "Caroline", "Cyrus",
    "Dagmar", "Desmond", "Dorothea", "Elif", "Emil", "Estelle", "Farid", "Flavia", "Gemma", "Gregor",
    "Gunnar", "Hassan", "Hilda", "Ines", "Irene", "Jakob", "Jelena", "Joaquin", "Kasimir", "Leopold",
    "Liesel", "Lionel", "Lucinda", "Maddox", "Manon", "Matilda", "Maximilian", "Mirela", "Nestor", "Ottilie",
    "Priya", "Raimund", "Rosalia", "Saoirse", "Severin", "Sigrid", "Theodora", "Tomasz", "Valentin", "Wolfgang",
    "Yara", "Zeynep", "Agata", "Ansel", "Bertrand", "Cosima", "Dorian", "Evander", "Fenna", "Goran",
    "Hedwig", "Imogen", "Jorge", "Kofi", "Leocadia", "Marek", "Nikita", "Orlando", "Perpetua", "Radomir",
    "Sanjay", "Tatiana", "Umberto", "Vesna", "Wendelin", "Ximena", "Yannick", "Zora", "Anouk", "Benno",
    "Clemens", "Dalia", "Emeric", "Florian", "Gaspard", "Hortense", "Ilse", "Jiri", "Kirsten", "Ludmila",
    "Mathilde", "Nils", "Oksana", "Pieter", "Rainer", "Solveig", "Thaddeus", "Ulla", "Vladimir", "Wiebke",
};
static constexpr std::string_view kCities[] = {
    "Paris", "London", "Tokyo", "Berlin", "Madrid", "Rome", "Cairo", "Lima", "Oslo", "Vienna",
    "Lisbon", "Dublin", "Prague", "Seoul", "Toronto", "Nairobi", "Mumbai", "Sydney", "Chicago", "Istanbul",
};
static constexpr std::string_view kJobs[] = {
    "baker", "teacher", "nurse", "pilot", "farmer", "lawyer", "engineer", "painter", "chef", "doctor",
    "plumber", "architect", "librarian", "dentist", "carpenter", "journalist", "electrician", "gardener",
    "pharmacist", "tailor",
};
static constexpr std::string_view kPets[] = {
    "cat", "dog", "parrot", "rabbit", "hamster", "turtle", "goldfish", "horse", "ferret", "canary",
};
static constexpr std::string_view kColors[] = {
    "red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink", "brown",
};
static constexpr std::string_view kHobbies[] = {
    "chess", "painting", "hiking", "cooking", "swimming", "knitting", "cycling", "fishing", "dancing",
    "singing", "gardening", "climbing",
};

std::span<const std::string_view> first_names() { return kFirstNames; }
std::span<const std::string_view> cities() { return kCities; }
std::span<const std::string_view> jobs() { return kJobs; }
std::span<const std::string_view> pets() { return kPets; }
std::span<const std::string_view> colors() { return kColors; }
std::span<const std::string_view> hobbies() { return kHobbies; }

static std::string pick(std::span<const std::string_view> values, Rng& rng) {
  return std::string(values[rng.below(values.size())]);
}

std::vector<Person> make_people(int n, Rng& rng) {
  const auto names = first_names();
  if (n < 0 || static_cast<size_t>(n) > names.size())
    throw std::invalid_argument("make_people: people = " + std::to_string(n) + ", expected 0 … " +
                                std::to_string(names.size()) + " (the size of the built-in name list)");
  // A partial Fisher-Yates shuffle of name indices gives n distinct names.
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::vector<Person> people(n);
  for (int i = 0; i < n; i++) {
    size_t j = i + rng.below(order.size() - i);
    std::swap(order[i], order[j]);
    Person& p = people[i];
    p.name = std::string(names[order[i]]);
    p.age = min_age + static_cast<int>(rng.below(max_age - min_age + 1));
    p.city = pick(kCities, rng);
    p.job = pick(kJobs, rng);
    p.pet = pick(kPets, rng);
    p.color = pick(kColors, rng);
    p.hobby = pick(kHobbies, rng);
  }
  return people;
}

std::string fact_value(const Person& p, TaskKind kind) {
  switch (kind) {
    case TaskKind::age: return std::to_string(p.age);
    case TaskKind::city: return p.city;
    case TaskKind::job: return p.job;
    case TaskKind::pet: return p.pet;
    case TaskKind::color: return p.color;
    case TaskKind::hobby: return p.hobby;
    default: break;
  }
  throw std::invalid_argument("fact_value: task \"" + std::string(task_name(kind)) + "\" is not a fact task");
}

std::string_view attribute_name(TaskKind kind) {
  if (!is_fact_task(kind))
    throw std::invalid_argument("attribute_name: task \"" + std::string(task_name(kind)) + "\" is not a fact task");
  return task_name(kind);  // the attribute names are the task names
}

Task fact_task(const Person& p, TaskKind kind) {
  const std::string& n = p.name;
  std::string q;
  switch (kind) {
    case TaskKind::age: q = "How old is " + n + "?"; break;
    case TaskKind::city: q = "Where does " + n + " live?"; break;
    case TaskKind::job: q = "What is " + n + "'s job?"; break;
    case TaskKind::pet: q = "What pet does " + n + " have?"; break;
    case TaskKind::color: q = "What is " + n + "'s favorite color?"; break;
    case TaskKind::hobby: q = "What is " + n + "'s hobby?"; break;
    default: fact_value(p, kind);  // throws with the task's name
  }
  return Task{q, fact_value(p, kind), kind, AnswerFormat::direct};
}

std::string with_article(std::string_view noun) {
  // By sound: "an engineer", "an 80-year-old", "an 18-year-old", "a 54-year-old".
  bool vowel = !noun.empty() && std::string_view("aeiou").find(noun[0]) != std::string_view::npos;
  if (!noun.empty() && noun[0] >= '0' && noun[0] <= '9') {
    size_t digits = 0;
    while (digits < noun.size() && noun[digits] >= '0' && noun[digits] <= '9') digits++;
    vowel = noun[0] == '8' || ((digits == 2 || digits == 5) && (noun.starts_with("11") || noun.starts_with("18")));
  }
  return (vowel ? "an " : "a ") + std::string(noun);
}

// ---- documents ----------------------------------------------------------------------------------
// Sentence templates per fact. A "pair" template states two facts at once; a document first
// decides which facts go in pair sentences, then words every remaining fact alone.

static std::string age_sentence(const Person& p, Rng& rng) {
  const std::string a = std::to_string(p.age), n = p.name;
  switch (rng.below(4)) {
    case 0: return n + " is " + a + " years old.";
    case 1: return n + " is " + a + ".";
    case 2: return n + " turned " + a + " this year.";
    default: return "At " + a + ", " + n + " is full of energy.";
  }
}
static std::string city_sentence(const Person& p, Rng& rng) {
  switch (rng.below(4)) {
    case 0: return p.name + " lives in " + p.city + ".";
    case 1: return p.city + " is home to " + p.name + ".";
    case 2: return p.name + " has an apartment in " + p.city + ".";
    default: return p.name + " makes a home in " + p.city + ".";
  }
}
static std::string job_sentence(const Person& p, Rng& rng) {
  switch (rng.below(4)) {
    case 0: return p.name + " works as " + with_article(p.job) + ".";
    case 1: return p.name + " is " + with_article(p.job) + " by trade.";
    case 2: return "By profession, " + p.name + " is " + with_article(p.job) + ".";
    default: return p.name + " earns a living as " + with_article(p.job) + ".";
  }
}
static std::string pet_sentence(const Person& p, Rng& rng) {
  switch (rng.below(4)) {
    case 0: return p.name + " has a pet " + p.pet + ".";
    case 1: return p.name + " owns " + with_article(p.pet) + ".";
    case 2: return p.name + "'s pet is " + with_article(p.pet) + ".";
    default: return "At home, " + p.name + " keeps " + with_article(p.pet) + ".";
  }
}
static std::string color_sentence(const Person& p, Rng& rng) {
  switch (rng.below(3)) {
    case 0: return p.name + "'s favorite color is " + p.color + ".";
    case 1: return p.name + " loves the color " + p.color + ".";
    default: return "Of all colors, " + p.name + " likes " + p.color + " best.";
  }
}
static std::string hobby_sentence(const Person& p, Rng& rng) {
  switch (rng.below(3)) {
    case 0: return p.name + "'s hobby is " + p.hobby + ".";
    case 1: return "In free time, " + p.name + " enjoys " + p.hobby + ".";
    default: return p.name + " spends weekends " + p.hobby + ".";
  }
}

std::string person_document(const Person& p, Rng& rng) {
  const std::string a = std::to_string(p.age), n = p.name;
  std::vector<std::string> sentences;
  bool has_age = false, has_city = false, has_job = false, has_pet = false;
  // Pair sentences: at most one per document, chosen half of the time.
  switch (rng.below(8)) {
    case 0: sentences.push_back(n + " is " + a + " years old and lives in " + p.city + "."); has_age = has_city = true; break;
    case 1: sentences.push_back(p.city + " is home to " + n + ", " + with_article(a + "-year-old " + p.job) + ".");
            has_age = has_city = has_job = true; break;
    case 2: sentences.push_back(n + ", " + with_article(p.job) + " from " + p.city + ", is " + a + " years old.");
            has_age = has_city = has_job = true; break;
    case 3: sentences.push_back(n + " lives in " + p.city + " with " + with_article(p.pet) + ".");
            has_city = has_pet = true; break;
    default: break;
  }
  if (!has_age) sentences.push_back(age_sentence(p, rng));
  if (!has_city) sentences.push_back(city_sentence(p, rng));
  if (!has_job) sentences.push_back(job_sentence(p, rng));
  if (!has_pet) sentences.push_back(pet_sentence(p, rng));
  sentences.push_back(color_sentence(p, rng));
  sentences.push_back(hobby_sentence(p, rng));
  for (size_t i = sentences.size(); i > 1; i--) std::swap(sentences[i - 1], sentences[rng.below(i)]);
  std::string doc;
  switch (rng.below(3)) {  // an optional heading line
    case 0: doc = "About " + n + "\n"; break;
    case 1: doc = "Profile: " + n + "\n"; break;
    default: break;
  }
  for (size_t i = 0; i < sentences.size(); i++) doc += (i ? " " : "") + sentences[i];
  return doc + "\n";
}

}  // namespace sog
