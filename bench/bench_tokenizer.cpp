// Encode throughput (MB/s of input text) of the GPT-2 tokenizer on English, code and Chinese, on one
// thread (encode) and two (encode_parallel). Each iteration starts with an empty chunk cache, so a
// figure is one cold pass over the text, as when a corpus is tokenized once.
// bench/tokenizer_encode.py runs this and tiktoken on the same texts and prints the comparison.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "common/io/atomic_file.h"
#include "common/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

// The data folder: $SOG_DATA_DIR, else data/ in the source tree (found from this file's path), else
// ../shared/data beside it.
std::string data_path(const std::string& name) {
  const fs::path root = fs::path(__FILE__).parent_path().parent_path();
  std::vector<fs::path> dirs = {root / "data", root / ".." / "shared" / "data"};
  if (const char* env = std::getenv("SOG_DATA_DIR")) dirs.insert(dirs.begin(), env);
  for (const fs::path& dir : dirs) {
    if (fs::exists(dir / name)) return (dir / name).string();
  }
  return "";
}

const sog::Tokenizer* gpt2() {
  static std::unique_ptr<sog::Tokenizer> t = [] {
    const std::string enc = data_path("gpt2/encoder.json");
    return enc.empty() ? nullptr : std::make_unique<sog::Tokenizer>(sog::Tokenizer::load(fs::path(enc).parent_path().string()));
  }();
  return t.get();
}

// The texts, concatenated per kind; "" when a file is missing.
std::string corpus(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) {
    const std::string path = data_path(name);
    if (path.empty()) return "";
    text += sog::read_file(path);
  }
  return text;
}

void BM_encode(benchmark::State& state, std::vector<std::string> files) {
  const sog::Tokenizer* tok = gpt2();
  const std::string text = corpus(files);
  if (!tok || text.empty()) {
    state.SkipWithError("GPT-2 files or data texts missing (run scripts/get_data.sh)");
    return;
  }
  const int threads = static_cast<int>(state.range(0));
  size_t n_tokens = 0;
  for (auto _ : state) {
    state.PauseTiming();
    sog::Tokenizer::clear_thread_cache();
    state.ResumeTiming();
    const auto ids = threads == 1 ? tok->encode_ordinary(text) : tok->encode_parallel(text, sog::AllowedSpecial::none, threads);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["bytes_per_token"] = static_cast<double>(text.size()) / static_cast<double>(n_tokens);
  state.counters["MB"] = static_cast<double>(text.size()) / 1e6;
}

BENCHMARK_CAPTURE(BM_encode, english, std::vector<std::string>{"tinyshakespeare.txt", "wikitext2_valid.txt", "wikitext2_test.txt"})
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_encode, code, std::vector<std::string>{"code_c_lua.txt", "code_python_click.txt"})
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_encode, chinese, std::vector<std::string>{"chinese_classics.txt"})
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
