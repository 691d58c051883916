#include "common/tensor/allocator.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

namespace sog {

size_t CpuAllocator::rounded_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes >= kHugeThreshold) return (bytes + kHugePage - 1) / kHugePage * kHugePage;
  return (bytes + 255) / 256 * 256;
}

static void* os_allocate(size_t size) {
  if (size >= CpuAllocator::kHugeThreshold) {
    // Over-map by one huge page so the block can start on a 2 MiB boundary, then trim.
    size_t span = size + CpuAllocator::kHugePage;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    auto base = reinterpret_cast<uintptr_t>(raw);
    uintptr_t aligned = (base + CpuAllocator::kHugePage - 1) & ~(CpuAllocator::kHugePage - 1);
    if (aligned > base) munmap(raw, aligned - base);
    size_t tail = (base + span) - (aligned + size);
    if (tail > 0) munmap(reinterpret_cast<void*>(aligned + size), tail);
    void* p = reinterpret_cast<void*>(aligned);
    madvise(p, size, MADV_HUGEPAGE);  // a hint: without THP support this is a no-op
    return p;
  }
  void* p = std::aligned_alloc(CpuAllocator::kAlignment, size);
  if (!p) throw std::bad_alloc();
  return p;
}

static void os_release(void* p, size_t size) {
  if (size >= CpuAllocator::kHugeThreshold) {
    munmap(p, size);
  } else {
    std::free(p);
  }
}

void* CpuAllocator::allocate(size_t bytes) {
  size_t size = rounded_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* p = nullptr;
  auto it = free_lists_.find(size);
  if (it != free_lists_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    stats_.cache_hits++;
  } else {
    p = os_allocate(size);
    stats_.os_allocations++;
    stats_.bytes_reserved += size;
  }
  stats_.bytes_in_use += size;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return p;
}

void CpuAllocator::release(void* ptr, size_t bytes) {
  if (!ptr) return;
  size_t size = rounded_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  free_lists_[size].push_back(ptr);
  stats_.bytes_in_use -= size;
}

void CpuAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, blocks] : free_lists_) {
    for (void* p : blocks) {
      os_release(p, size);
      stats_.bytes_reserved -= size;
    }
    blocks.clear();
  }
}

AllocatorStats CpuAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

CpuAllocator::~CpuAllocator() { empty_cache(); }

CpuAllocator& cpu_allocator() {
  // Never destroyed: tensors in static storage may be released after main returns.
  static CpuAllocator* instance = new CpuAllocator();
  return *instance;
}

}  // namespace sog
