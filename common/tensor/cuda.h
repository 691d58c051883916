// The CUDA side of tensors: the device caching allocator and host<->device copies.
// Built from cuda.cu when nvcc is found; cuda_nocuda.cpp stands in otherwise and says so.
#pragma once
#include <cstddef>

namespace sog {

bool cuda_available();  // compiled with CUDA and a device is present
int cuda_device_count();
const char* cuda_unavailable_reason();  // why cuda_available() is false; "" when it is true
void* cuda_allocate(size_t bytes);
void cuda_release(void* ptr, size_t bytes);
enum class CopyKind { host_to_device, device_to_host, device_to_device };
void cuda_copy(void* dst, const void* src, size_t bytes, CopyKind kind);
void cuda_memset_zero(void* dst, size_t bytes);
void cuda_synchronize();

}  // namespace sog
