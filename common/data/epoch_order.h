// The order a trainer visits n items in (conversations in SFT, comparison groups in reward
// modelling, prompts in PPO): every item once per epoch, in a fresh seeded permutation each epoch.
// The position (epoch, cursor) is all the state: saving it and restoring it resumes the exact same
// sequence.
//
//   EpochOrder order(5, seed);   order.next() → 3, 0, 4, 1, 2, then epoch 1's permutation, …
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace sog {

struct EpochPosition {
  int64_t epoch = 0, cursor = 0;  // cursor: index into the epoch's permutation of the next item
};
// In a training state (common/io/train_state.h): {"epoch": int, "cursor": int}.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(EpochPosition, epoch, cursor)

class EpochOrder {
 public:
  // n ≥ 1 items (std::invalid_argument otherwise).
  EpochOrder(int64_t n, uint64_t seed);
  int64_t peek();            // the item at the position, without moving
  void advance();            // past it (into the next epoch after the last)
  int64_t next() {           // peek, then advance
    const int64_t item = peek();
    advance();
    return item;
  }
  EpochPosition position() const { return pos_; }
  void restore(const EpochPosition& p);  // a cursor outside [0, n) is an error
  int64_t size() const { return n_; }

 private:
  const std::vector<int64_t>& permutation(int64_t epoch);
  int64_t n_;
  uint64_t seed_;
  EpochPosition pos_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> cached_;
};

}  // namespace sog
