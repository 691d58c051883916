#include "common/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "common/io/atomic_file.h"
#include "common/tensor/tensor.h"

namespace sog {
namespace {

// The reference library refuses headers over 100 MB: no real model needs one, and a corrupt
// length must not make us allocate gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeSize {
  const char* name;
  size_t bytes;
};
constexpr DTypeSize kDTypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
                                 {"I16", 2}, {"I8", 1}, {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},
                                 {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};

std::string dtype_list() {
  std::string s;
  for (const auto& d : kDTypes) s += (s.empty() ? "" : " ") + std::string(d.name);
  return s;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string offsets_str(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// numel × element size, or UINT64_MAX when it overflows (it then matches no offsets).
uint64_t byte_size(const std::vector<int64_t>& shape, size_t element_bytes) {
  unsigned __int128 n = element_bytes;
  for (int64_t d : shape) {
    n *= static_cast<uint64_t>(d);
    if (n > UINT64_MAX) return UINT64_MAX;
  }
  return static_cast<uint64_t>(n);
}

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw std::runtime_error(path + ": " + what); }

// One header entry: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, checked alone.
SafetensorsEntry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& v) {
  const std::string who = "tensor \"" + name + "\"";
  if (!v.is_object()) fail(path, who + ": expected an object {dtype, shape, data_offsets}, found " + v.dump());
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!v.contains(key)) fail(path, who + ": the field \"" + key + "\" is missing");
  }
  SafetensorsEntry e;
  e.name = name;
  if (!v["dtype"].is_string()) fail(path, who + ": field \"dtype\": expected a string, found " + v["dtype"].dump());
  e.dtype = v["dtype"].get<std::string>();
  const size_t element_bytes = safetensors_dtype_size(e.dtype);
  if (element_bytes == 0) fail(path, who + ": field \"dtype\": unknown dtype \"" + e.dtype + "\" (expected one of " + dtype_list() + ")");
  const nlohmann::json& shape = v["shape"];
  if (!shape.is_array()) fail(path, who + ": field \"shape\": expected an array of sizes, found " + shape.dump());
  for (const auto& d : shape) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      fail(path, who + ": field \"shape\": expected non-negative integers, found " + shape.dump());
    }
    e.shape.push_back(d.get<int64_t>());
  }
  const nlohmann::json& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned() ||
      off[0].get<uint64_t>() > off[1].get<uint64_t>()) {
    fail(path, who + ": field \"data_offsets\": expected [begin, end] with 0 <= begin <= end, found " + off.dump());
  }
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  const uint64_t expected = byte_size(e.shape, element_bytes);
  if (e.end - e.begin != expected) {
    fail(path, who + ": dtype " + e.dtype + " and shape " + shape_str(e.shape) + " make " +
                   (expected == UINT64_MAX ? std::string("more than 2^64") : std::to_string(expected)) +
                   " bytes, but data_offsets " + offsets_str(e.begin, e.end) + " hold " + std::to_string(e.end - e.begin));
  }
  return e;
}

}  // namespace

int64_t SafetensorsEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t safetensors_dtype_size(std::string_view dtype) {
  for (const auto& d : kDTypes) {
    if (dtype == d.name) return d.bytes;
  }
  return 0;
}

float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // inf, NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 → 127
  } else if (mantissa == 0) {
    bits = sign;  // ±0
  } else {  // subnormal: mantissa · 2^-24, normal in float32
    int e = -1;
    uint32_t m = mantissa;
    do {
      ++e;
      m <<= 1;
    } while ((m & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((m & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// ---- reading ------------------------------------------------------------------------------------

SafetensorsFile SafetensorsFile::read(const std::string& path) { return parse(read_file(path), path); }

SafetensorsFile SafetensorsFile::parse(std::string bytes, const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  f.bytes_ = std::move(bytes);
  if (f.bytes_.size() < 8) {
    fail(path, "expected at least the 8-byte header length, found a file of " + std::to_string(f.bytes_.size()) +
                   " bytes (not a safetensors file, or truncated)");
  }
  uint64_t n = 0;
  std::memcpy(&n, f.bytes_.data(), 8);
  if (n > kMaxHeaderBytes) {
    fail(path, "header length " + std::to_string(n) + " bytes is over the 100 MB limit (not a safetensors file?)");
  }
  if (8 + n > f.bytes_.size()) {
    fail(path, "header length " + std::to_string(n) + " bytes runs past the end of the file (" +
                   std::to_string(f.bytes_.size()) + " bytes: truncated?)");
  }
  f.data_start_ = 8 + n;
  const std::string_view header(f.bytes_.data() + 8, n);

  // nlohmann keeps the last of two equal keys; the callback sees each top-level key first.
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1) {
      const std::string key = parsed.get<std::string>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header.begin(), header.end(), on_event);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, "header (bytes 8.." + std::to_string(8 + n) + ") is not valid JSON: " + e.what());
  }
  if (!duplicate.empty()) fail(path, "tensor \"" + duplicate + "\" appears twice in the header");
  if (!j.is_object()) fail(path, std::string("header: expected a JSON object {name: tensor}, found ") + j.type_name());

  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, "field \"__metadata__\": expected an object of strings, found " + v.dump());
      for (const auto& [key, value] : v.items()) {
        if (!value.is_string()) fail(path, "field \"__metadata__\": \"" + key + "\": expected a string, found " + value.dump());
        f.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    f.tensors_.push_back(parse_entry(path, name, v));
  }

  // The tensors must tile the data: sorted by offset, each begins where the last ended.
  std::sort(f.tensors_.begin(), f.tensors_.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const uint64_t data_bytes = f.bytes_.size() - f.data_start_;
  uint64_t covered = 0;
  for (size_t i = 0; i < f.tensors_.size(); ++i) {
    const SafetensorsEntry& e = f.tensors_[i];
    if (e.end > data_bytes) {
      fail(path, "tensor \"" + e.name + "\": data_offsets " + offsets_str(e.begin, e.end) + " run past the data (" +
                     std::to_string(data_bytes) + " bytes after the header: truncated file?)");
    }
    if (e.begin < covered) {
      const SafetensorsEntry& prev = f.tensors_[i - 1];
      fail(path, "tensors \"" + prev.name + "\" " + offsets_str(prev.begin, prev.end) + " and \"" + e.name + "\" " +
                     offsets_str(e.begin, e.end) + " overlap");
    }
    if (e.begin > covered) {
      fail(path, "data bytes [" + std::to_string(covered) + ", " + std::to_string(e.begin) +
                     ") belong to no tensor (before tensor \"" + e.name + "\"): the format allows no holes");
    }
    covered = e.end;
  }
  if (covered != data_bytes) {
    fail(path, "data bytes [" + std::to_string(covered) + ", " + std::to_string(data_bytes) +
                   ") after the last tensor belong to no tensor: the format allows no holes");
  }
  return f;
}

const SafetensorsEntry* SafetensorsFile::find(std::string_view name) const {
  for (const auto& e : tensors_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::span<const uint8_t> SafetensorsFile::bytes(const SafetensorsEntry& e) const {
  return {reinterpret_cast<const uint8_t*>(bytes_.data()) + data_start_ + e.begin, e.end - e.begin};
}

std::vector<float> SafetensorsFile::to_f32(const SafetensorsEntry& e) const {
  const std::span<const uint8_t> raw = bytes(e);
  std::vector<float> out(static_cast<size_t>(e.numel()));
  if (e.dtype == "F32") {
    std::memcpy(out.data(), raw.data(), raw.size());
  } else if (e.dtype == "F16" || e.dtype == "BF16") {
    const bool bf16 = e.dtype == "BF16";
    for (size_t i = 0; i < out.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, raw.data() + 2 * i, 2);
      out[i] = bf16 ? bf16_to_float(h) : f16_to_float(h);
    }
  } else {
    fail(path_, "tensor \"" + e.name + "\": dtype " + e.dtype + " is not read here (F32, F16 and BF16 are)");
  }
  return out;
}

// ---- writing ------------------------------------------------------------------------------------

void SafetensorsWriter::add(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
                            const void* data, size_t bytes) {
  if (name == "__metadata__") throw std::invalid_argument("safetensors: \"__metadata__\" cannot name a tensor");
  for (const auto& t : tensors_) {
    if (t.entry.name == name) throw std::invalid_argument("safetensors: tensor \"" + name + "\" added twice");
  }
  const size_t element_bytes = safetensors_dtype_size(dtype);
  if (element_bytes == 0) throw std::invalid_argument("safetensors: tensor \"" + name + "\": unknown dtype \"" + dtype + "\"");
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("safetensors: tensor \"" + name + "\": negative size in shape " + shape_str(shape));
  }
  if (byte_size(shape, element_bytes) != bytes) {
    throw std::invalid_argument("safetensors: tensor \"" + name + "\": " + dtype + " " + shape_str(shape) + " needs " +
                                std::to_string(byte_size(shape, element_bytes)) + " bytes, given " + std::to_string(bytes));
  }
  Pending p;
  p.entry.name = name;
  p.entry.dtype = dtype;
  p.entry.shape = shape;
  if (bytes > 0) p.bytes.assign(static_cast<const char*>(data), bytes);
  tensors_.push_back(std::move(p));
}

// The 8-byte length and the padded JSON header: everything before the tensors' bytes.
std::string SafetensorsWriter::header_bytes() const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    header[t.entry.name] = {{"dtype", t.entry.dtype}, {"shape", t.entry.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  const uint64_t n = text.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + text;
}

std::string SafetensorsWriter::serialize() const {
  std::string out = header_bytes();
  for (const auto& t : tensors_) out += t.bytes;
  return out;
}

void SafetensorsWriter::write(const std::string& path) const {
  AtomicFile f(path);
  const std::string header = header_bytes();
  f.write(header.data(), header.size());
  for (const auto& t : tensors_) f.write(t.bytes.data(), t.bytes.size());
  f.commit();
}

}  // namespace sog
