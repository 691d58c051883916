#include "common/tensor/tensor.h"

#include <cstring>
#include <sstream>
#include <stdexcept>

#include "common/autograd/tape.h"
#include "common/cpu/kernels.h"
#include "common/tensor/allocator.h"
#include "common/tensor/cuda.h"
#include "common/tensor/random.h"

namespace sog {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::i32: return 4;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
  }
  return "?";
}

const char* device_name(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

uint16_t float_to_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu)) {
    return static_cast<uint16_t>((bits >> 16) | 0x40);  // keep NaN a NaN
  }
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float bf16_to_float(uint16_t x) {
  uint32_t bits = static_cast<uint32_t>(x) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// ---- Shape --------------------------------------------------------------------------------------

Shape::Shape(std::initializer_list<int64_t> d) : Shape(std::vector<int64_t>(d)) {}

Shape::Shape(const std::vector<int64_t>& d) {
  if (d.size() > kMaxDims) {
    throw std::invalid_argument("Shape: at most " + std::to_string(kMaxDims) + " dimensions, found " +
                                std::to_string(d.size()));
  }
  ndim = static_cast<int>(d.size());
  for (int i = 0; i < ndim; i++) {
    if (d[i] < 0) throw std::invalid_argument("Shape: negative dimension " + std::to_string(d[i]));
    dims[i] = d[i];
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= dims[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (ndim != o.ndim) return false;
  for (int i = 0; i < ndim; i++)
    if (dims[i] != o.dims[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::ostringstream s;
  s << "(";
  for (int i = 0; i < ndim; i++) s << (i ? ", " : "") << dims[i];
  s << ")";
  return s.str();
}

// ---- Storage ------------------------------------------------------------------------------------

Storage::Storage(size_t bytes_, Device device_) : bytes(bytes_), device(device_) {
  data = device == Device::cpu ? cpu_allocator().allocate(bytes) : cuda_allocate(bytes);
}

Storage::~Storage() {
  if (device == Device::cpu) {
    cpu_allocator().release(data, bytes);
  } else {
    cuda_release(data, bytes);
  }
}

// ---- creation -----------------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape.numel()) * dtype_size(dtype), device);
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  if (static_cast<int64_t>(values.size()) != shape.numel()) {
    throw std::invalid_argument("Tensor::from_vector: shape " + shape.str() + " needs " +
                                std::to_string(shape.numel()) + " values, found " +
                                std::to_string(values.size()));
  }
  Tensor t = empty(shape);
  std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::from_ids(const Shape& shape, const std::vector<int32_t>& ids) {
  if (static_cast<int64_t>(ids.size()) != shape.numel()) {
    throw std::invalid_argument("Tensor::from_ids: shape " + shape.str() + " needs " +
                                std::to_string(shape.numel()) + " ids, found " + std::to_string(ids.size()));
  }
  Tensor t = empty(shape, DType::i32);
  std::memcpy(t.raw_data(), ids.data(), ids.size() * sizeof(int32_t));
  return t;
}

Tensor Tensor::randn(const Shape& shape, float std, uint64_t seed) {
  Tensor t = empty(shape);
  Rng rng(seed);
  float* p = t.f32();
  for (int64_t i = 0; i < t.numel(); i++) p[i] = std * rng.normal();
  return t;
}

Tensor Tensor::parameter(const Shape& shape) {
  Tensor t = zeros(shape);
  t.set_requires_grad(true);
  return t;
}

// ---- properties and access ----------------------------------------------------------------------

static TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) throw std::logic_error("use of an undefined Tensor");
  return *impl;
}

const Shape& Tensor::shape() const { return checked(impl_).shape; }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device; }

void* Tensor::raw_data() const {
  auto& impl = checked(impl_);
  return static_cast<char*>(impl.storage->data) + impl.offset;
}

template <typename T>
static T* typed(const Tensor& t, DType dtype) {
  if (t.dtype() != dtype) {
    throw std::invalid_argument(std::string("tensor dtype: expected ") + dtype_name(dtype) + ", found " +
                                dtype_name(t.dtype()));
  }
  if (t.device() != Device::cpu) {
    throw std::invalid_argument("tensor data: host access needs a cpu tensor, found cuda (copy with .to(Device::cpu))");
  }
  return static_cast<T*>(t.raw_data());
}

float* Tensor::f32() const { return typed<float>(*this, DType::f32); }
int32_t* Tensor::i32() const { return typed<int32_t>(*this, DType::i32); }
uint16_t* Tensor::bf16() const { return typed<uint16_t>(*this, DType::bf16); }

float Tensor::item() const {
  if (numel() != 1) throw std::invalid_argument("Tensor::item: expected 1 element, found " + std::to_string(numel()));
  Tensor host = device() == Device::cpu ? *this : to(Device::cpu);
  if (dtype() == DType::i32) return static_cast<float>(host.i32()[0]);
  if (dtype() == DType::bf16) return bf16_to_float(host.bf16()[0]);
  return host.f32()[0];
}

std::vector<float> Tensor::to_vector() const {
  Tensor host = (device() == Device::cpu ? *this : to(Device::cpu));
  if (dtype() != DType::f32) host = host.to(DType::f32);
  const float* p = host.f32();
  return std::vector<float>(p, p + numel());
}

// ---- views --------------------------------------------------------------------------------------

Tensor Tensor::rows(int64_t start, int64_t count) const {
  const Shape& s = shape();
  if (s.ndim == 0 || start < 0 || count < 0 || start + count > s[0]) {
    throw std::out_of_range("Tensor::rows(" + std::to_string(start) + ", " + std::to_string(count) +
                            ") out of range for shape " + s.str());
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = s;
  impl->shape.dims[0] = count;
  impl->dtype = impl_->dtype;
  impl->storage = impl_->storage;
  int64_t row_elems = s[0] == 0 ? 0 : s.numel() / s[0];
  impl->offset = impl_->offset + static_cast<size_t>(start * row_elems) * dtype_size(impl_->dtype);
  return Tensor(std::move(impl));
}

Tensor Tensor::reshape(const Shape& shape) const {
  if (shape.numel() != numel()) {
    throw std::invalid_argument("Tensor::reshape: " + this->shape().str() + " has " + std::to_string(numel()) +
                                " elements, " + shape.str() + " has " + std::to_string(shape.numel()));
  }
  auto impl = std::make_shared<TensorImpl>(*impl_);
  impl->shape = shape;
  impl->grad = Tensor();
  impl->requires_grad = false;
  impl->is_leaf = true;
  impl->tape_generation = 0;
  return Tensor(std::move(impl));
}

Tensor Tensor::view(int64_t offset, const Shape& shape) const {
  if (offset < 0 || offset + shape.numel() > numel()) {
    throw std::out_of_range("Tensor::view: " + std::to_string(shape.numel()) + " elements at offset " +
                            std::to_string(offset) + " do not fit in a tensor of " + std::to_string(numel()));
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = impl_->dtype;
  impl->storage = impl_->storage;
  impl->offset = impl_->offset + static_cast<size_t>(offset) * dtype_size(impl_->dtype);
  return Tensor(std::move(impl));
}

// ---- copies -------------------------------------------------------------------------------------

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype(), device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return clone();
  if (device() != Device::cpu) return to(Device::cpu).to(target).to(device());
  Tensor t = empty(shape(), target);
  const int64_t n = numel();
  if (dtype() == DType::f32 && target == DType::bf16) {
    const float* s = f32();
    uint16_t* d = t.bf16();
    cpu_kernels().f32_to_bf16(d, s, n);  // float_to_bf16 on each, vectorised (tensor/bf16_simd.cpp)
  } else if (dtype() == DType::bf16 && target == DType::f32) {
    const uint16_t* s = bf16();
    float* d = t.f32();
    cpu_kernels().bf16_to_f32(d, s, n);
  } else if (dtype() == DType::i32 && target == DType::f32) {
    const int32_t* s = i32();
    float* d = t.f32();
    for (int64_t i = 0; i < n; i++) d[i] = static_cast<float>(s[i]);
  } else if (dtype() == DType::f32 && target == DType::i32) {
    const float* s = f32();
    int32_t* d = t.i32();
    for (int64_t i = 0; i < n; i++) d[i] = static_cast<int32_t>(s[i]);
  } else {
    return to(DType::f32).to(target);
  }
  return t;
}

Tensor Tensor::to(Device target) const {
  Tensor t = empty(shape(), dtype(), target);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.shape() != shape() || src.dtype() != dtype()) {
    throw std::invalid_argument("Tensor::copy_from: expected " + shape().str() + " " + dtype_name(dtype()) +
                                ", found " + src.shape().str() + " " + dtype_name(src.dtype()));
  }
  if (device() == Device::cpu && src.device() == Device::cpu) {
    std::memcpy(raw_data(), src.raw_data(), nbytes());
    return;
  }
  CopyKind kind = device() == Device::cuda
                      ? (src.device() == Device::cuda ? CopyKind::device_to_device : CopyKind::host_to_device)
                      : CopyKind::device_to_host;
  cuda_copy(raw_data(), src.raw_data(), nbytes(), kind);
}

void Tensor::fill(float value) {
  if (device() != Device::cpu) {
    Tensor host = full(shape(), value, dtype());
    copy_from(host);
    return;
  }
  const int64_t n = numel();
  switch (dtype()) {
    case DType::f32: {
      float* p = f32();
      for (int64_t i = 0; i < n; i++) p[i] = value;
      break;
    }
    case DType::bf16: {
      uint16_t* p = bf16();
      uint16_t v = float_to_bf16(value);
      for (int64_t i = 0; i < n; i++) p[i] = v;
      break;
    }
    case DType::i32: {
      int32_t* p = i32();
      for (int64_t i = 0; i < n; i++) p[i] = static_cast<int32_t>(value);
      break;
    }
  }
}

void Tensor::zero() {
  if (device() == Device::cpu) {
    std::memset(raw_data(), 0, nbytes());
  } else {
    cuda_memset_zero(raw_data(), nbytes());
  }
}

// ---- autograd -----------------------------------------------------------------------------------

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

void Tensor::set_requires_grad(bool on) {
  auto& impl = checked(impl_);
  if (on && impl.dtype == DType::i32) throw std::invalid_argument("an i32 tensor cannot require grad");
  impl.requires_grad = on;
}

Tensor Tensor::grad() const { return checked(impl_).grad; }

Tensor& Tensor::grad_ref() const {
  auto& impl = checked(impl_);
  if (!impl.grad.defined()) impl.grad = zeros(impl.shape, DType::f32, device());
  return impl.grad;
}

Tensor& Tensor::grad_ref(bool* fresh) const {
  auto& impl = checked(impl_);
  *fresh = !impl.grad.defined();
  if (*fresh) impl.grad = empty(impl.shape, DType::f32, device());
  return impl.grad;
}

void Tensor::zero_grad() const {
  auto& impl = checked(impl_);
  if (impl.grad.defined()) impl.grad.zero();
}

void Tensor::reset_grad() const { checked(impl_).grad = Tensor(); }

void Tensor::set_grad(const Tensor& g) const {
  check_shape(g, shape(), "Tensor::set_grad");
  check_dtype(g, DType::f32, "Tensor::set_grad");
  checked(impl_).grad = g;
}

void Tensor::backward() const { sog::backward(*this); }

// ---- checks -------------------------------------------------------------------------------------

void check_shape(const Tensor& t, const Shape& expected, const char* what) {
  if (t.shape() != expected) {
    throw std::invalid_argument(std::string(what) + ": expected shape " + expected.str() + ", found " +
                                t.shape().str());
  }
}

void check_dtype(const Tensor& t, DType expected, const char* what) {
  if (t.dtype() != expected) {
    throw std::invalid_argument(std::string(what) + ": expected dtype " + dtype_name(expected) + ", found " +
                                dtype_name(t.dtype()));
  }
}

}  // namespace sog
