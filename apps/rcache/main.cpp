// The rcache binary: parses the command line and runs the chosen
// subcommand (one file each, see command.hpp):
//   rcache serve [gateway options]        the HTTP/JSON gateway (src/server)
//   rcache config check [gateway options] validate and print the configuration
//   rcache version
//   rcache ping [--url URL] [--count N]
// Exceptions are caught once here and turned into a message and exit code.
#include <rcache/version.hpp>

#include <iostream>

#include "command.hpp"
#include "server/config.hpp"

int main(int argc, char** argv) {
  CLI::App app{"rcache — Redis cache infrastructure"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("rcache ") + rcache::version_string);
  std::vector<rcache::app::command> commands = rcache::app::add_gateway_commands(app);
  commands.push_back(rcache::app::add_version(app));
  commands.push_back(rcache::app::add_ping(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (const auto& c : commands) {
      if (c.cli->parsed()) return c.run();
    }
  } catch (const rcache::server::config_error& e) {
    std::cerr << "rcache: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "rcache: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
