// Splits: train / val / test by entity, so that nothing held out leaks into training text.
//
//   people         a shuffled library_fraction of the population is held out (val and test);
//                  held-out people appear only in the retrieval library, never in pretraining
//                  or SFT text, so questions about them need retrieval or the lookup tool.
//   operand pairs  the unordered pair {a, b} decides the split of every problem on it (add, sub
//                  and mul alike), by a seeded hash. "Digit facts" — both ≤ 9, or one ≤ 9 and the
//                  other ≤ 19 — are the steps of every worked solution ("7 + 5 + 1", "13 - 6"),
//                  so they are always train and never asked in evaluation.
//   words          by anagram class (the sorted letters), so that reversing or sorting a training
//                  word never writes a held-out word; each word list is split separately
//                  (stratified), so palindromes are held out in proportion too.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/tensor/random.h"
#include "common/world/people.h"

namespace sog {

// A seeded 64-bit hash of a string (FNV-1a, then splitmix64 finalisation); same on every platform.
uint64_t stable_hash(std::string_view text, uint64_t seed);
// An independent random stream per purpose: changing how many examples one stream draws leaves
// the others unchanged.
Rng stream_rng(uint64_t seed, std::string_view stream);
// Uniform in [0, 1) from a hash.
double hash_unit(uint64_t h);

// Marks round(n · heldout_fraction) people, chosen by rng, as held out: val_share of them val,
// the rest test.
void assign_people_splits(std::vector<Person>& people, double heldout_fraction, double val_share, Rng& rng);

bool is_digit_fact(int64_t a, int64_t b);
Split operand_pair_split(int64_t a, int64_t b, uint64_t seed, double val_fraction, double test_fraction);

class WordSplits {
 public:
  WordSplits(uint64_t seed, double val_fraction, double test_fraction);
  Split split_of(std::string_view word) const;  // throws for a word in neither built-in list
  // Words of one list (common or palindromes) in one split, in list order.
  std::vector<std::string> words(Split split, bool palindromes) const;

 private:
  std::map<std::string, Split, std::less<>> split_;
};

}  // namespace sog
