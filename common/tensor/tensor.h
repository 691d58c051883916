// Tensor: a shape, a dtype, a device and shared storage. Row-major, last dimension contiguous,
// shapes written outermost first, as in papers and PyTorch: a batch of activations is (B,T,C).
//
// Design choices (and where we depart from PyTorch):
// - Always contiguous. There are no strides; a "view" is a contiguous slice of rows (a range of
//   the first dimension) or a reshape, both sharing storage. Transposes are flags of matmul.
// - Up to 4 dimensions, which is all a GPT needs: (B, NH, T, HS).
// - A tensor that requires grad is a leaf (a parameter) or the output of a recorded op; its
//   gradient lives beside it (`grad()`), allocated on first use. See common/autograd/tape.h.
// - Memory comes from the caching allocator (allocator.h) on the CPU, and from the CUDA caching
//   allocator (cuda.h) on the GPU.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace sog {

enum class DType : uint8_t { f32, bf16, i32 };
enum class Device : uint8_t { cpu, cuda };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
const char* device_name(Device device);

// bf16 is the top half of an IEEE float32; conversion rounds to nearest even.
uint16_t float_to_bf16(float x);
float bf16_to_float(uint16_t x);

constexpr int kMaxDims = 4;

struct Shape {
  std::array<int64_t, kMaxDims> dims{};
  int ndim = 0;

  Shape() = default;
  Shape(std::initializer_list<int64_t> d);
  explicit Shape(const std::vector<int64_t>& d);
  int64_t operator[](int i) const { return dims[i < 0 ? i + ndim : i]; }
  int64_t numel() const;
  int64_t rows() const { return ndim == 0 ? 1 : numel() / dims[ndim - 1]; }  // all but the last
  int64_t last() const { return ndim == 0 ? 1 : dims[ndim - 1]; }
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "(2, 3, 4)"
};

// A block of memory on one device, returned to its allocator when the last owner lets go.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::cpu;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;

  // ---- creation ----
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor full(const Shape& shape, float value, DType dtype = DType::f32);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  static Tensor from_ids(const Shape& shape, const std::vector<int32_t>& ids);
  // N(0, std) from a seeded generator (common/tensor/random.h); deterministic for a given seed.
  static Tensor randn(const Shape& shape, float std, uint64_t seed);
  // A trainable leaf: requires_grad, grad allocated on first backward.
  static Tensor parameter(const Shape& shape);

  // ---- properties ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int ndim() const { return shape().ndim; }
  int64_t size(int dim) const { return shape()[dim]; }
  int64_t numel() const { return shape().numel(); }
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  // ---- data access (CPU) ----
  void* raw_data() const;
  template <typename T>
  T* data() const { return static_cast<T*>(raw_data()); }
  float* f32() const;    // checks dtype f32 and device cpu
  int32_t* i32() const;  // checks dtype i32 and device cpu
  uint16_t* bf16() const;
  float item() const;  // a one-element f32 tensor's value
  std::vector<float> to_vector() const;

  // ---- views (share storage) ----
  Tensor rows(int64_t start, int64_t count) const;  // a slice of the first dimension
  Tensor reshape(const Shape& shape) const;          // same numel; no autograd (see ops/shape.h)
  // `shape.numel()` elements starting `offset` elements into this tensor (a parameter inside the
  // single parameter buffer of a model, say). A plain leaf: no gradient, no autograd history.
  Tensor view(int64_t offset, const Shape& shape) const;

  // ---- copies ----
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  void copy_from(const Tensor& src);  // same shape and dtype; any devices
  void fill(float value);
  void zero();

  // ---- autograd ----
  bool requires_grad() const;
  void set_requires_grad(bool on);
  // The gradient, or an undefined tensor before any backward reached this tensor.
  Tensor grad() const;
  // The gradient, created as zeros on first use: backward functions accumulate into it.
  Tensor& grad_ref() const;
  // The same, for a backward function that writes every element of the gradient: on first use
  // the buffer is created uninitialised and *fresh is set, and the caller then writes (=) instead
  // of accumulating (+=). Most gradients have one producer, so this saves a zeroing pass and a
  // read of zeros over every activation of the model (a tenth of a small model's training step).
  Tensor& grad_ref(bool* fresh) const;
  void zero_grad() const;
  void reset_grad() const;  // drops the gradient tensor entirely
  // Makes `g` (same shape, f32) this tensor's gradient: backward then accumulates into g's memory.
  // A model points each parameter's gradient into one flat gradient buffer this way.
  void set_grad(const Tensor& g) const;
  void backward() const;    // this must be a one-element tensor (the loss)

  TensorImpl* impl() const { return impl_.get(); }
  bool same_as(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  Shape shape;
  DType dtype = DType::f32;
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes into storage
  bool requires_grad = false;
  bool is_leaf = true;         // false for outputs of recorded ops
  uint64_t tape_generation = 0;  // which tape recorded this output (0 for leaves)
  Tensor grad;
};

// Throws std::invalid_argument with "what: expected X, found Y" when the condition fails.
void check_shape(const Tensor& t, const Shape& expected, const char* what);
void check_dtype(const Tensor& t, DType expected, const char* what);

}  // namespace sog
