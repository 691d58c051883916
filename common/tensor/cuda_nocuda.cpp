// CPU-only build: there is no CUDA runtime to call, so every request says so clearly.
#include <stdexcept>

#include "common/tensor/cuda.h"

namespace sog {

static constexpr const char* kNoCuda =
    "this build has no CUDA support (nvcc was not found at configure time); rebuild with the "
    "CUDA toolkit installed to use --device cuda";

bool cuda_available() { return false; }
int cuda_device_count() { return 0; }
const char* cuda_unavailable_reason() { return kNoCuda; }
void* cuda_allocate(size_t) { throw std::runtime_error(kNoCuda); }
void cuda_release(void*, size_t) {}
void cuda_copy(void*, const void*, size_t, CopyKind) { throw std::runtime_error(kNoCuda); }
void cuda_memset_zero(void*, size_t) { throw std::runtime_error(kNoCuda); }
void cuda_synchronize() {}

}  // namespace sog
