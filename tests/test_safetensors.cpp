// safetensors (common/io/safetensors.h): a written file reads back byte for byte, and every kind of
// bad header is refused with a message naming the file and the tensor or field.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "common/io/atomic_file.h"
#include "common/io/safetensors.h"
#include "common/tensor/tensor.h"
#include "test_util.h"

using namespace sog;

namespace {

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

// A file from a header text and a data section: the length word, the header, the data.
std::string file_of(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

std::string parse_error(const std::string& bytes) {
  return sog::testing::error_of([&] { SafetensorsFile::parse(bytes, "bad.safetensors"); });
}

}  // namespace

TEST(Safetensors, WriteReadRoundTrip) {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  const std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 1e-20f, -7.0f};
  w.add_f32("a.weight", {2, 3}, a);
  const std::vector<uint16_t> half = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000};  // 1 −2 65504 2^-24 inf −0
  w.add("h", "F16", {6}, half.data(), half.size() * 2);
  const std::vector<uint16_t> bf = {float_to_bf16(1.5f), float_to_bf16(-0.125f)};
  w.add("b", "BF16", {1, 2}, bf.data(), bf.size() * 2);
  const std::vector<int32_t> ints = {7, -8, 9};
  w.add("ids", "I32", {3}, ints.data(), ints.size() * 4);
  w.add("empty", "F32", {0, 4}, nullptr, 0);

  const std::string bytes = w.serialize();
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u) << "the data starts 8-byte aligned";
  const SafetensorsFile f = SafetensorsFile::parse(bytes, "mem");
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.tensors().size(), 5u);
  EXPECT_EQ(f.tensors()[0].name, "a.weight");  // data order = the order they were added
  const SafetensorsEntry* e = f.find("a.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->dtype, "F32");
  EXPECT_EQ(e->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.to_f32(*e), a);
  const std::vector<float> h = f.to_f32(*f.find("h"));
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], 65504.0f);
  EXPECT_EQ(h[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(h[4], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(h[5]) && h[5] == 0.0f);
  EXPECT_EQ(f.to_f32(*f.find("b")), (std::vector<float>{1.5f, -0.125f}));
  const auto raw = f.bytes(*f.find("ids"));
  ASSERT_EQ(raw.size(), 12u);
  EXPECT_EQ(std::memcmp(raw.data(), ints.data(), 12), 0);
  EXPECT_EQ(f.find("empty")->numel(), 0);
  EXPECT_EQ(f.find("missing"), nullptr);

  // The same through a file: written atomically (no temporary left), read back identically.
  const auto dir = sog::testing::fresh_temp_dir("safetensors");
  const std::string path = (dir / "t.safetensors").string();
  w.write(path);
  EXPECT_EQ(read_file(path), bytes);
  for (const auto& entry : std::filesystem::directory_iterator(dir)) EXPECT_EQ(entry.path().filename(), "t.safetensors");
  EXPECT_EQ(SafetensorsFile::read(path).to_f32(*SafetensorsFile::read(path).find("a.weight")), a);
  std::filesystem::remove_all(dir);
}

TEST(Safetensors, HalfPrecisionWidensExactly) {
  // Every finite half converts to the float whose round trip through the bits is exact: check
  // against the definition (−1)^s · 2^(e−15) · (1 + m/1024), and 2^-14 · m/1024 for subnormals.
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const uint32_t e = (bits >> 10) & 0x1F, m = bits & 0x3FF;
    if (e == 0x1F) continue;
    const double mag = e == 0 ? std::ldexp(m / 1024.0, -14) : std::ldexp(1.0 + m / 1024.0, static_cast<int>(e) - 15);
    const double expected = (bits & 0x8000) ? -mag : mag;
    ASSERT_EQ(static_cast<double>(f16_to_float(static_cast<uint16_t>(bits))), expected) << std::hex << bits;
  }
  EXPECT_TRUE(std::isnan(f16_to_float(0x7E00)));
}

TEST(Safetensors, RefusesTruncatedOrOversizedHeaderLength) {
  EXPECT_HAS(parse_error(std::string(5, '\0')), "bad.safetensors: expected at least the 8-byte header length");
  std::string bytes = file_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'));
  const uint64_t too_long = bytes.size();  // 8 + that > the file
  std::memcpy(bytes.data(), &too_long, 8);
  const std::string msg = parse_error(bytes);
  EXPECT_HAS(msg, "bad.safetensors: header length " + std::to_string(too_long) + " bytes runs past the end of the file");
  const uint64_t huge = uint64_t{1} << 40;
  std::memcpy(bytes.data(), &huge, 8);
  EXPECT_HAS(parse_error(bytes), "over the 100 MB limit");
}

// One bad header per row: what is wrong, the header, the bytes of data after it, and what the error
// must say (the file and the tensor or field).
struct BadHeader {
  const char* what;
  std::string header;
  size_t data_bytes;
  std::string expected;
};

TEST(Safetensors, RefusesEachBadHeaderNamingTheTensorOrField) {
  const std::vector<BadHeader> cases = {
      {"bad JSON", R"({"a": {"dtype": "F32",)", 0, "bad.safetensors: header (bytes 8..30) is not valid JSON"},
      {"not an object", "[1, 2]", 0, "bad.safetensors: header: expected a JSON object {name: tensor}, found array"},
      {"metadata not strings", R"({"__metadata__": {"format": 1}})", 0,
       "field \"__metadata__\": \"format\": expected a string, found 1"},
      {"missing field", R"({"w":{"dtype":"F32","shape":[1]}})", 0, "tensor \"w\": the field \"data_offsets\" is missing"},
      {"negative size", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0,
       "tensor \"w\": field \"shape\": expected non-negative integers"},
      {"reversed offsets", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 0,
       "tensor \"w\": field \"data_offsets\": expected [begin, end] with 0 <= begin <= end"},
      {"offsets out of bounds", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4,
       "bad.safetensors: tensor \"w\": data_offsets [0, 8] run past the data (4 bytes after the header"},
      {"overlapping tensors",
       R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12,
       "tensors \"x\" [0, 8] and \"y\" [4, 12] overlap"},
      {"a hole before a tensor", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8,
       "data bytes [0, 4) belong to no tensor (before tensor \"x\")"},
      {"a hole at the end", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8,
       "data bytes [4, 8) after the last tensor belong to no tensor"},
      {"shape and bytes disagree", R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20,
       "tensor \"w\": dtype F32 and shape [2, 3] make 24 bytes, but data_offsets [0, 20] hold 20"},
      {"a size past 2^64", R"({"w":{"dtype":"BF16","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8,
       "tensor \"w\": dtype BF16 and shape [4294967296, 4294967296] make more than 2^64 bytes"},
      {"unknown dtype", R"({"w":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}})", 4,
       "tensor \"w\": field \"dtype\": unknown dtype \"F31\" (expected one of F64 F32 F16 BF16"},
      {"duplicate names",
       R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8,
       "bad.safetensors: tensor \"w\" appears twice in the header"},
  };
  for (const BadHeader& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_HAS(parse_error(file_of(c.header, std::string(c.data_bytes, '\0'))), c.expected);
  }
}

TEST(Safetensors, ToF32RefusesOtherDtypesByName) {
  SafetensorsWriter w;
  const std::vector<int32_t> ints = {1, 2};
  w.add("positions", "I32", {2}, ints.data(), 8);
  const SafetensorsFile f = SafetensorsFile::parse(w.serialize(), "ints.safetensors");
  const std::string msg = sog::testing::error_of([&] { f.to_f32(*f.find("positions")); });
  EXPECT_HAS(msg, "ints.safetensors: tensor \"positions\": dtype I32 is not read here (F32, F16 and BF16 are)");
}

TEST(Safetensors, WriterRefusesWhatItCouldNotReadBack) {
  SafetensorsWriter w;
  const std::vector<float> v = {1, 2, 3};
  w.add_f32("a", {3}, v);
  EXPECT_HAS(sog::testing::error_of([&] { w.add_f32("a", {3}, v); }), "tensor \"a\" added twice");
  EXPECT_HAS(sog::testing::error_of([&] { w.add_f32("b", {2, 2}, v); }), "tensor \"b\": F32 [2, 2] needs 16 bytes, given 12");
  EXPECT_HAS(sog::testing::error_of([&] { w.add("c", "Q4", {3}, v.data(), 12); }), "tensor \"c\": unknown dtype \"Q4\"");
}
