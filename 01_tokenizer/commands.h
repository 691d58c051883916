// The subcommands of bin/tokenizer that look at tokens rather than make them (show.cpp).
#pragma once
#include <string>

namespace sog {

struct ShowOptions {
  std::string tokenizer_dir;
  std::string text;          // shown as is; empty → stdin
  bool text_given = false;
  bool no_color = false;     // plain brackets even on a terminal
  bool ids = false;          // also print the token ids
};
void run_show(const ShowOptions& opt);

struct StatsOptions {
  std::string tokenizer_dir;
  std::string input;
  int threads = 0;
};
void run_stats(const StatsOptions& opt);

}  // namespace sog
