// The one way every binary file of the project starts: a header of int32 words, [0] the format's
// magic number, [1] its version, the rest the format's own fields (zero when unused), then a body
// whose size the header determines. llm.c's checkpoints and token shards (256 words) and our LoRA
// adapters (32 words), heads and training states (256 words) all read and write it through here,
// so each check is written once and every error says the same things: the file, the format, what
// was expected, what was found, and a hint.
//
//   writing:   BinaryHeader h(kHeadFormat);          // zeros; [0] magic, [1] the current version
//              h[2] = C;
//              AtomicFile f(path);  h.write(f);  f.write(body, bytes);  f.commit();
//   reading:   BinaryReader r(path, kHeadFormat);   // opens, reads the header, checks magic + version
//              r.require_size(1024 + 4 * (C + 3), "C = 64: 67 float32 values");
//              r.read(dst, bytes, "the weights");
//
// Every magic number is assigned in `file_magic` below, so that no two formats share one and a
// loader handed another of our files says which one it was given ("this is an llm.c token shard,
// not an llm.c GPT-2 checkpoint"). Headers are little-endian int32, as llm.c writes them.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "common/io/atomic_file.h"

namespace sog {

namespace file_magic {
inline constexpr int32_t gpt_checkpoint = 20240326;  // llm.c's model .bin
inline constexpr int32_t token_shard = 20240520;     // llm.c's token shard
inline constexpr int32_t lora_adapter = 0x41526F4C;  // the bytes "LoRA"
inline constexpr int32_t scalar_head = 0x44414548;   // the bytes "HEAD"
inline constexpr int32_t train_state = 0x54534753;   // the bytes "SGST"
inline constexpr int32_t vector_index = 0x58444956;  // the bytes "VIDX"
}  // namespace file_magic

struct BinaryFormat {
  const char* name;        // in errors: "llm.c GPT-2 checkpoint"
  const char* short_name;  // "truncated <short> header", "unsupported <short> version": "checkpoint"
  int32_t magic;
  int32_t version;         // the version written
  int32_t oldest_readable; // versions oldest_readable … version are read
  int header_ints;         // 256 (llm.c's) or fewer
  const char* version_hint;  // appended to an unsupported version's error ("" for none)
};

// The name of one of our formats for a magic number, or "" (e.g. "an llm.c token shard").
std::string describe_magic(int32_t magic);

class BinaryHeader {
 public:
  // For writing: zeros, with [0] the magic and [1] the version the format writes.
  explicit BinaryHeader(const BinaryFormat& format);
  explicit BinaryHeader(std::vector<int32_t> words) : words_(std::move(words)) {}
  int32_t& operator[](size_t i) { return words_.at(i); }
  int32_t operator[](size_t i) const { return words_.at(i); }
  int32_t version() const { return words_[1]; }
  size_t bytes() const { return words_.size() * sizeof(int32_t); }
  void write(AtomicFile& f) const;

 private:
  std::vector<int32_t> words_;
};

// Reading a file of a format: the constructor opens it, reads the header and checks it; each
// failure throws std::runtime_error "<path>: …" (cannot open, truncated header, bad magic number,
// unsupported version).
class BinaryReader {
 public:
  BinaryReader(const std::string& path, const BinaryFormat& format);
  const BinaryHeader& header() const { return header_; }
  int32_t operator[](size_t i) const { return header_[i]; }
  const std::string& path() const { return path_; }
  // The whole file must be expected_bytes long (header included): otherwise "<path>: wrong size:
  // expected <expected_what> (<n> bytes in all), found <m> bytes (truncated? | k trailing bytes)".
  void require_size(uint64_t expected_bytes, const std::string& expected_what) const;
  // The next `bytes` of the body into dst; "<path>: read failed in <what>" when they are not there.
  void read(void* dst, size_t bytes, const std::string& what);
  // An error about this file's contents: "<path>: <message>" as a std::runtime_error.
  [[noreturn]] void fail(const std::string& message) const;

 private:
  std::string path_;
  std::ifstream in_;
  BinaryHeader header_;
};

}  // namespace sog
