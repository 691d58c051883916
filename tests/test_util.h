// Small helpers shared by the tests: scratch folders, error messages, running a chapter program.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "common/io/atomic_file.h"
#include "common/tokenizer/special_tokens.h"
#include "common/tokenizer/tokenizer.h"

namespace sog::testing {

// An empty folder of this test process's own: <tmp>/sog_<name>_<pid>.
inline std::filesystem::path fresh_temp_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("sog_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A fixture with a scratch folder of its own (named after the test suite), removed afterwards;
// p("name") is a path inside it.
class ScratchFolderTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_suite()->name()); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string p(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

// The message of the exception fn throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Overwrites the int32 at index `index` of a binary file (a header field), for tests of bad files.
inline void patch_int32(const std::string& path, int index, int32_t value) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(index * 4);
  f.write(reinterpret_cast<const char*>(&value), 4);
}

inline std::string shell_quote(const std::string& s) { return "'" + s + "'"; }

struct CommandResult {
  int rc = -1;
  std::string out, err;
};

// Runs `program args` (args already shell-quoted where needed) with stdin from `stdin_file` (or
// /dev/null), capturing stdout and stderr through files in `scratch`.
inline CommandResult run_command(const std::string& program, const std::string& args,
                                 const std::filesystem::path& scratch, const std::string& stdin_file = "") {
  const auto out = scratch / "cmd.out", err = scratch / "cmd.err";
  std::string cmd = shell_quote(program) + " " + args +
                    (stdin_file.empty() ? " </dev/null" : " <" + shell_quote(stdin_file)) + " >" +
                    shell_quote(out.string()) + " 2>" + shell_quote(err.string());
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out.string());
  r.err = read_file(err.string());
  return r;
}

}  // namespace sog::testing
