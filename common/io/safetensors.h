// safetensors: Hugging Face's tensor file, read and written here without a library. It knows no
// model; common/nn/hf_gpt2.h maps GPT-2's names onto ours. Every byte, little-endian:
//
//   uint64        N        the header's length in bytes
//   N bytes       header   a JSON object (UTF-8), padded with spaces to a multiple of 8:
//                   {"__metadata__": {"format": "pt"},                    optional: string → string
//                    "wte.weight": {"dtype": "F32", "shape": [300, 32], "data_offsets": [0, 38400]},
//                    ...}
//   the data               each tensor's bytes, row-major, at [8 + N + begin, 8 + N + end)
//
// dtypes and their sizes: F64 I64 U64 8, F32 I32 U32 4, F16 BF16 I16 U16 2, I8 U8 BOOL F8_E4M3
// F8_E5M2 1. Reading validates the whole header before any tensor is used, as the reference
// library does: N inside the file, valid JSON whose top level is an object, no name twice, every
// entry a dtype we know, a shape of non-negative integers and offsets [begin, end] with
// end − begin = numel × the dtype's size, and the tensors tiling the data exactly (no overlap, no
// hole, nothing past the end). Every error names the file and the tensor or field.
//
// Writing: tensors in the order they were added, packed back to back; __metadata__ first.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sog {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;           // "F32", "BF16", ...
  std::vector<int64_t> shape;  // outermost first
  uint64_t begin = 0, end = 0;  // byte offsets into the data (after the header)
  int64_t numel() const;
};

// Bytes per element of a safetensors dtype; 0 for a name the format does not define.
size_t safetensors_dtype_size(std::string_view dtype);

class SafetensorsFile {
 public:
  // Reads the whole file and validates its header (std::runtime_error naming the file and the
  // tensor or field).
  static SafetensorsFile read(const std::string& path);
  // The same from bytes already in memory; `path` only names them in errors.
  static SafetensorsFile parse(std::string bytes, const std::string& path);

  const std::string& path() const { return path_; }
  // Every tensor, in the order of their data in the file.
  const std::vector<SafetensorsEntry>& tensors() const { return tensors_; }
  const SafetensorsEntry* find(std::string_view name) const;  // nullptr when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::span<const uint8_t> bytes(const SafetensorsEntry& e) const;
  // A tensor's values widened to float32: F32 as stored, F16 and BF16 exactly. Any other dtype is
  // a std::runtime_error naming the file, the tensor and its dtype.
  std::vector<float> to_f32(const SafetensorsEntry& e) const;

 private:
  std::string path_, bytes_;
  size_t data_start_ = 0;  // 8 + N
  std::vector<SafetensorsEntry> tensors_;
  std::map<std::string, std::string> metadata_;
};

class SafetensorsWriter {
 public:
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  // Copies `bytes` bytes of `data` as tensor `name`; std::invalid_argument for a name added twice, an
  // unknown dtype, or a byte count that is not numel × the dtype's size.
  void add(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape, const void* data,
           size_t bytes);
  void add_f32(const std::string& name, const std::vector<int64_t>& shape, std::span<const float> values) {
    add(name, "F32", shape, values.data(), values.size_bytes());
  }
  // The whole file as bytes, or written to `path` atomically (temporary file + rename).
  std::string serialize() const;
  void write(const std::string& path) const;

 private:
  std::string header_bytes() const;
  struct Pending {
    SafetensorsEntry entry;
    std::string bytes;
  };
  std::map<std::string, std::string> metadata_;
  std::vector<Pending> tensors_;
};

// IEEE half (binary16) → float32, exact (subnormals, infinities and NaN included).
float f16_to_float(uint16_t h);

}  // namespace sog
