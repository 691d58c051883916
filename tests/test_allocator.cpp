#include <gtest/gtest.h>

#include "common/autograd/tape.h"
#include "common/ops/gelu.h"
#include "common/tensor/allocator.h"
#include "gradcheck.h"

using namespace sog;

TEST(Allocator, RoundsToGranules) {
  EXPECT_EQ(CpuAllocator::rounded_size(1), 256u);
  EXPECT_EQ(CpuAllocator::rounded_size(257), 512u);
  EXPECT_EQ(CpuAllocator::rounded_size(CpuAllocator::kHugeThreshold), CpuAllocator::kHugePage);
  EXPECT_EQ(CpuAllocator::rounded_size(CpuAllocator::kHugePage + 1), 2 * CpuAllocator::kHugePage);
}

TEST(Allocator, ReleasedBlocksAreReused) {
  CpuAllocator a;
  void* p = a.allocate(1000);
  a.release(p, 1000);
  void* q = a.allocate(900);  // same 1024-byte granule
  EXPECT_EQ(p, q);
  EXPECT_EQ(a.stats().os_allocations, 1u);
  EXPECT_EQ(a.stats().cache_hits, 1u);
  a.release(q, 900);
}

TEST(Allocator, LargeBlocksAreHugePageAligned) {
  CpuAllocator a;
  void* p = a.allocate(3 << 20);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % CpuAllocator::kHugePage, 0u);
  static_cast<char*>(p)[(3 << 20) - 1] = 1;  // the whole block is mapped
  a.release(p, 3 << 20);
  a.empty_cache();
  EXPECT_EQ(a.stats().bytes_reserved, 0u);
}

// A training step's shape: forward, backward, drop the graph. The second identical step must not
// ask the OS for memory: every tensor, activation and gradient comes from the cache.
TEST(Allocator, SecondIdenticalStepAllocatesNothing) {
  Tensor w = sog::testing::random_input({64, 256}, 1);  // large enough for the huge-page path too
  Tensor big = sog::testing::random_input({1 << 19}, 2);
  auto step = [&] {
    Tensor y = gelu(gelu(w));
    backward(y, Tensor::full(y.shape(), 1.0f));
    Tensor z = gelu(big);
    backward(z, Tensor::full(z.shape(), 1.0f));
  };
  step();
  uint64_t before = cpu_allocator().stats().os_allocations;
  step();
  EXPECT_EQ(cpu_allocator().stats().os_allocations, before);
}
