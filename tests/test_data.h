// Where tests find the third-party data (Tiny Shakespeare, GPT-2 vocabulary, ...): the project's
// data/ folder (filled by scripts/get_data.sh), else ../shared/data beside the checkout.
// A test that needs a file that is in neither place calls GTEST_SKIP() with the reason.
#pragma once
#include <filesystem>
#include <string>

namespace sog::testing {

// The path of a third-party data file (e.g. "tinyshakespeare.txt", "gpt2/vocab.bpe"), or "" when absent.
inline std::string third_party_data(const std::string& name) {
  namespace fs = std::filesystem;
  for (const fs::path& dir : {fs::path(SOG_SOURCE_DIR) / "data", fs::path(SOG_SOURCE_DIR) / ".." / "shared" / "data"}) {
    if (fs::exists(dir / name)) return (dir / name).string();
  }
  return "";
}

#define SOG_REQUIRE_DATA(var, name)                                                             \
  const std::string var = ::sog::testing::third_party_data(name);                               \
  if (var.empty()) GTEST_SKIP() << "third-party data file '" << (name)                          \
                                << "' is missing (run scripts/get_data.sh, or place ../shared/data)"

}  // namespace sog::testing
