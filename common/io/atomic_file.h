// Writing a file so that a crash never leaves a half-written one: the bytes go to "<path>.tmp.<pid>"
// and commit() flushes and renames it over <path> (rename is atomic on POSIX). An AtomicFile that
// is destroyed without commit() removes its temporary file, so an exception loses nothing.
//
//   AtomicFile f(path);
//   f.stream() << ...;
//   f.commit();
#pragma once
#include <fstream>
#include <string>
#include <string_view>

namespace sog {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ofstream& stream() { return out_; }
  void write(const void* data, size_t bytes);
  void commit();  // throws std::runtime_error naming the file if anything failed

 private:
  std::string path_, tmp_path_;
  std::ofstream out_;
  bool committed_ = false;
};

// The whole of `contents` into `path`, atomically.
void write_file_atomic(const std::string& path, std::string_view contents);
// The whole file, or std::runtime_error naming it.
std::string read_file(const std::string& path);

}  // namespace sog
