#include "common/data/epoch_order.h"

#include <numeric>
#include <stdexcept>
#include <string>

#include "common/tensor/random.h"

namespace sog {

EpochOrder::EpochOrder(int64_t n, uint64_t seed) : n_(n), seed_(seed) {
  if (n < 1) throw std::invalid_argument("EpochOrder: no items to visit");
}

const std::vector<int64_t>& EpochOrder::permutation(int64_t epoch) {
  if (epoch != cached_epoch_) {
    cached_.resize(static_cast<size_t>(n_));
    std::iota(cached_.begin(), cached_.end(), 0);
    Rng rng(seed_ ^ (0x5F7ull + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(epoch + 1)));
    for (size_t i = cached_.size(); i > 1; i--) std::swap(cached_[i - 1], cached_[rng.below(i)]);  // Fisher-Yates
    cached_epoch_ = epoch;
  }
  return cached_;
}

int64_t EpochOrder::peek() { return permutation(pos_.epoch)[static_cast<size_t>(pos_.cursor)]; }

void EpochOrder::advance() {
  if (++pos_.cursor == n_) pos_.cursor = 0, pos_.epoch++;
}

void EpochOrder::restore(const EpochPosition& p) {
  if (p.epoch < 0 || p.cursor < 0 || p.cursor >= n_) {
    throw std::runtime_error("data position (epoch " + std::to_string(p.epoch) + ", cursor " + std::to_string(p.cursor) +
                             ") does not fit " + std::to_string(n_) + " items: was the state saved with other data?");
  }
  pos_ = p;
}

}  // namespace sog
