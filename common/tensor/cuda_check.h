// cudaCheck: every CUDA runtime call is checked; a failure names the call, the file and the line.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace sog {
inline void cuda_check(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("CUDA error: ") + cudaGetErrorString(err) + " in " + call +
                             " at " + file + ":" + std::to_string(line));
  }
}
}  // namespace sog

#define cudaCheck(call) ::sog::cuda_check((call), #call, __FILE__, __LINE__)
