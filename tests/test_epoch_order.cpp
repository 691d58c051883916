// EpochOrder: every item once per epoch, a fresh seeded permutation each epoch, resumable.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "common/data/epoch_order.h"
#include "test_util.h"

using namespace sog;

TEST(EpochOrder, EachEpochVisitsEveryItemOnceInItsOwnOrder) {
  EpochOrder order(7, 42);
  std::vector<int64_t> first, second;
  for (int i = 0; i < 7; i++) first.push_back(order.next());
  EXPECT_EQ(order.position().epoch, 1);
  EXPECT_EQ(order.position().cursor, 0);
  for (int i = 0; i < 7; i++) second.push_back(order.next());
  for (auto epoch : {first, second}) {
    std::sort(epoch.begin(), epoch.end());
    std::vector<int64_t> all(7);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(epoch, all);
  }
  EXPECT_NE(first, second) << "a new permutation each epoch";
  EpochOrder other_seed(7, 43);
  std::vector<int64_t> other;
  for (int i = 0; i < 7; i++) other.push_back(other_seed.next());
  EXPECT_NE(first, other);
}

TEST(EpochOrder, PeekDoesNotMoveAndRestoreResumesExactly) {
  EpochOrder a(5, 9), b(5, 9);
  for (int i = 0; i < 8; i++) a.next();
  const EpochPosition saved = a.position();
  EXPECT_EQ(a.peek(), a.peek());
  std::vector<int64_t> rest;
  for (int i = 0; i < 9; i++) rest.push_back(a.next());
  b.restore(saved);
  for (int i = 0; i < 9; i++) EXPECT_EQ(b.next(), rest[i]) << i;
  // The position round-trips through JSON, as it does through a training state.
  EXPECT_EQ(nlohmann::json(saved).get<EpochPosition>().cursor, saved.cursor);
  EXPECT_NE(sog::testing::error_of([&] { b.restore({0, 5}); }).find("does not fit 5 items"), std::string::npos);
  EXPECT_NE(sog::testing::error_of([] { EpochOrder(0, 1); }).find("no items"), std::string::npos);
}
