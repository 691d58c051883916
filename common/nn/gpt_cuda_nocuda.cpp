// CPU-only build: there is no GPU model to build, so constructing one says so clearly. Every other
// member is unreachable (no GPTCuda can exist) and throws the same message if called regardless.
#include <stdexcept>
#include <string>

#include "common/nn/gpt_cuda.h"
#include "common/tensor/cuda.h"

namespace sog {

struct GPTCuda::Impl {};
struct CudaKVCacheBuffers {};

namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + cuda_unavailable_reason());
}
}  // namespace

void require_cuda_device(const char* what) { no_cuda(what); }

GPTCuda::GPTCuda(const GPT&, int64_t, int64_t) { no_cuda("GPTCuda"); }
GPTCuda::~GPTCuda() = default;
const GPTConfig& GPTCuda::config() const { no_cuda("GPTCuda"); }
int64_t GPTCuda::num_params() const { no_cuda("GPTCuda"); }
int64_t GPTCuda::max_B() const { no_cuda("GPTCuda"); }
int64_t GPTCuda::max_T() const { no_cuda("GPTCuda"); }
int64_t GPTCuda::steps_taken() const { no_cuda("GPTCuda"); }
size_t GPTCuda::device_bytes() const { no_cuda("GPTCuda"); }
std::string GPTCuda::device_name() const { no_cuda("GPTCuda"); }
void GPTCuda::zero_grad() { no_cuda("GPTCuda"); }
void GPTCuda::forward(const Tensor&, const Tensor&, const Tensor&, float) { no_cuda("GPTCuda"); }
void GPTCuda::backward() { no_cuda("GPTCuda"); }
GPTCuda::StepResult GPTCuda::adamw_step(float, const AdamWConfig&, float) { no_cuda("GPTCuda"); }
float GPTCuda::mean_loss() { no_cuda("GPTCuda"); }
float GPTCuda::eval_loss(const Tensor&, const Tensor&, const Tensor&) { no_cuda("GPTCuda"); }
Tensor GPTCuda::logits(const Tensor&) { no_cuda("GPTCuda"); }
CudaKVCache GPTCuda::make_caches(int64_t, int64_t) const { no_cuda("GPTCuda"); }
Tensor GPTCuda::forward_cached(const Tensor&, CudaKVCache&) { no_cuda("GPTCuda"); }
void GPTCuda::download(GPT&) const { no_cuda("GPTCuda"); }
void GPTCuda::download_grads(Tensor&) const { no_cuda("GPTCuda"); }
void GPTCuda::upload_optimizer(AdamW&) { no_cuda("GPTCuda"); }
void GPTCuda::download_optimizer(AdamW&) const { no_cuda("GPTCuda"); }
void GPTCuda::synchronize() { no_cuda("GPTCuda"); }

}  // namespace sog
