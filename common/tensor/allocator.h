// The CPU caching allocator: after the first training step, a step asks the OS for nothing.
//
// Freed blocks go to a free list keyed by their (rounded) size and are handed out again to the next
// request of that size — the same idea as PyTorch's caching allocator, without splitting blocks.
// A training step requests the same sizes every time, so from the second step on every request is
// a cache hit. Large blocks (>= 1 MiB) come from mmap, 2 MiB aligned, with madvise(MADV_HUGEPAGE):
// where transparent huge pages are on, first touching fresh memory then faults once per 2 MiB
// instead of once per 4 KiB page (a hint: without THP support it changes nothing).
//
//   void* p = cpu_allocator().allocate(bytes);   // 64-byte aligned
//   cpu_allocator().release(p, bytes);            // back to the cache, not to the OS
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace sog {

struct AllocatorStats {
  uint64_t os_allocations = 0;  // blocks obtained from the OS (mmap / aligned_alloc)
  uint64_t cache_hits = 0;      // requests served from the free lists
  uint64_t bytes_reserved = 0;  // bytes held from the OS (in use + cached)
  uint64_t bytes_in_use = 0;    // bytes handed out and not yet released
  uint64_t peak_bytes_in_use = 0;
};

class CpuAllocator {
 public:
  static constexpr size_t kAlignment = 64;
  static constexpr size_t kHugeThreshold = size_t(1) << 20;  // mmap + MADV_HUGEPAGE from here
  static constexpr size_t kHugePage = size_t(2) << 20;

  void* allocate(size_t bytes);
  void release(void* ptr, size_t bytes);
  // Gives every cached block back to the OS (blocks in use are untouched).
  void empty_cache();
  AllocatorStats stats() const;
  ~CpuAllocator();

  // The size a request is rounded to: 256 B granules below 1 MiB, 2 MiB granules above.
  static size_t rounded_size(size_t bytes);

 private:
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_lists_;
  AllocatorStats stats_;
};

CpuAllocator& cpu_allocator();

}  // namespace sog
