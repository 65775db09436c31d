// The subcommands of the rcache binary, one file each. A subcommand adds
// itself (its options and help) to the command line and returns what main
// runs when it was chosen. Exceptions a subcommand throws are caught once,
// in main: config_error exits 2, any other exception 1.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace rcache::app {

struct command {
  CLI::App* cli;             // parsed() says whether it was chosen
  std::function<int()> run;  // its exit code
};

command add_version(CLI::App& app);
command add_ping(CLI::App& app);
/// `serve` and `config check`, which share the gateway's options.
std::vector<command> add_gateway_commands(CLI::App& app);

}  // namespace rcache::app
