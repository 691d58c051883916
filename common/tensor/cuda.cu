// The CUDA caching allocator: freed blocks wait in a free list keyed by size (rounded to 512 B,
// or to 2 MiB above 1 MiB) and serve the next request of that size, so a training step makes no
// cudaMalloc after the first (cudaMalloc synchronises the device; a caching allocator avoids it).
#include <cuda_runtime.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/tensor/cuda.h"
#include "common/tensor/cuda_check.h"

namespace sog {

namespace {
size_t rounded(size_t bytes) {
  if (bytes == 0) bytes = 1;
  const size_t big = size_t(1) << 20, granule = size_t(2) << 20;
  if (bytes >= big) return (bytes + granule - 1) / granule * granule;
  return (bytes + 511) / 512 * 512;
}
struct DeviceCache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_lists;
};
DeviceCache& cache() {
  static DeviceCache* c = new DeviceCache();
  return *c;
}
}  // namespace

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

bool cuda_available() { return cuda_device_count() > 0; }

const char* cuda_unavailable_reason() {
  return cuda_available() ? "" : "no CUDA device is visible (cudaGetDeviceCount found none)";
}

void* cuda_allocate(size_t bytes) {
  size_t size = rounded(bytes);
  auto& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_lists.find(size);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      return p;
    }
  }
  void* p = nullptr;
  cudaCheck(cudaMalloc(&p, size));
  return p;
}

void cuda_release(void* ptr, size_t bytes) {
  if (!ptr) return;
  auto& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.free_lists[rounded(bytes)].push_back(ptr);
}

void cuda_copy(void* dst, const void* src, size_t bytes, CopyKind kind) {
  cudaMemcpyKind k = kind == CopyKind::host_to_device   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::device_to_host ? cudaMemcpyDeviceToHost
                                                        : cudaMemcpyDeviceToDevice;
  cudaCheck(cudaMemcpy(dst, src, bytes, k));
}

void cuda_memset_zero(void* dst, size_t bytes) { cudaCheck(cudaMemset(dst, 0, bytes)); }

void cuda_synchronize() { cudaCheck(cudaDeviceSynchronize()); }

}  // namespace sog
