#include "common/world/splits.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "common/world/strings.h"

namespace sog {

uint64_t stable_hash(std::string_view text, uint64_t seed) {
  // FNV-1a from a salted basis, then splitmix64's finaliser to spread FNV's weak low bits. The basis
  // is the one every world has been generated with: FNV's offset basis with its last decimal digit
  // dropped (1469598103934665603, not kFnv1a64Offset = 14695981039346656037). Changing it changes
  // every world, and with it every trained artifact and measured figure; tests pin its values.
  constexpr uint64_t kWorldBasis = 1469598103934665603ull;
  return splitmix64(fnv1a64(text.data(), text.size(), kWorldBasis ^ seed));
}

Rng stream_rng(uint64_t seed, std::string_view stream) { return Rng(stable_hash(stream, seed)); }

double hash_unit(uint64_t h) { return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0); }

static void check_fractions(const char* where, double val, double test) {
  if (val < 0 || test < 0 || val + test >= 1)
    throw std::invalid_argument(std::string(where) + ": val fraction " + std::to_string(val) + " and test fraction " +
                                std::to_string(test) + ", expected both ≥ 0 with a sum below 1");
}

void assign_people_splits(std::vector<Person>& people, double heldout_fraction, double val_share, Rng& rng) {
  if (heldout_fraction < 0 || heldout_fraction > 1 || val_share < 0 || val_share > 1)
    throw std::invalid_argument("assign_people_splits: library_fraction " + std::to_string(heldout_fraction) +
                                " and val share " + std::to_string(val_share) + ", expected both in 0 … 1");
  std::vector<size_t> order(people.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[rng.below(i)]);
  const size_t heldout = static_cast<size_t>(std::lround(people.size() * heldout_fraction));
  const size_t val = static_cast<size_t>(std::lround(heldout * val_share));
  for (size_t k = 0; k < people.size(); k++)
    people[order[k]].split = k < val ? Split::val : k < heldout ? Split::test : Split::train;
}

bool is_digit_fact(int64_t a, int64_t b) {
  const int64_t lo = std::min(a, b), hi = std::max(a, b);
  return lo <= 9 && hi <= 19;
}

Split operand_pair_split(int64_t a, int64_t b, uint64_t seed, double val_fraction, double test_fraction) {
  check_fractions("operand_pair_split", val_fraction, test_fraction);
  if (is_digit_fact(a, b)) return Split::train;
  const std::string key = "pair:" + std::to_string(std::min(a, b)) + ":" + std::to_string(std::max(a, b));
  const double u = hash_unit(stable_hash(key, seed));
  return u < test_fraction ? Split::test : u < test_fraction + val_fraction ? Split::val : Split::train;
}

WordSplits::WordSplits(uint64_t seed, double val_fraction, double test_fraction) {
  check_fractions("WordSplits", val_fraction, test_fraction);
  // Anagram classes of both lists, each class assigned once; classes are ordered by a seeded
  // hash within their list and the first test_fraction of them go to test, the next val_fraction
  // to val (a class shared by both lists takes the split its first list gave it).
  std::map<std::string, Split> class_split;
  for (auto list : {palindrome_words(), common_words()}) {
    std::vector<std::string> classes;
    std::set<std::string> seen;
    for (std::string_view w : list) {
      std::string c = sorted_letters(w);
      if (!class_split.contains(c) && seen.insert(c).second) classes.push_back(c);
    }
    std::sort(classes.begin(), classes.end(), [&](const std::string& x, const std::string& y) {
      return std::pair(stable_hash("word:" + x, seed), x) < std::pair(stable_hash("word:" + y, seed), y);
    });
    const size_t n_test = static_cast<size_t>(std::lround(classes.size() * test_fraction));
    const size_t n_val = static_cast<size_t>(std::lround(classes.size() * val_fraction));
    for (size_t k = 0; k < classes.size(); k++)
      class_split[classes[k]] = k < n_test ? Split::test : k < n_test + n_val ? Split::val : Split::train;
  }
  for (auto list : {palindrome_words(), common_words()})
    for (std::string_view w : list) split_[std::string(w)] = class_split.at(sorted_letters(w));
}

Split WordSplits::split_of(std::string_view word) const {
  auto it = split_.find(word);
  if (it == split_.end()) throw std::invalid_argument("WordSplits::split_of: \"" + std::string(word) + "\" is not a built-in word");
  return it->second;
}

std::vector<std::string> WordSplits::words(Split split, bool palindromes) const {
  std::vector<std::string> out;
  for (std::string_view w : palindromes ? palindrome_words() : common_words())
    if (split_of(w) == split) out.emplace_back(w);
  return out;
}

}  // namespace sog
