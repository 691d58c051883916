// Command-line options for every WorldConfig field, for the program that writes the world:
//
//   CLI::App app;  WorldConfig config;  std::string out = "data/world";
//   add_world_options(app, config);
//   app.add_option("--out", out);
//   CLI11_PARSE(app, argc, argv);
//   return write_world(config, out);
//
// Flags are the field names with dashes: --seed 7 --people 150 --library-fraction 0.2 …
#pragma once
#include <CLI/CLI.hpp>

#include "common/world/world.h"

namespace sog {

void add_world_options(CLI::App& app, WorldConfig& config);

}  // namespace sog
