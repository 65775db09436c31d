// `rcache serve` and `rcache config check`: the gateway's options (each a
// flag-level setting, the highest precedence, when given), the
// configuration loaded from every source, and then the gateway or the
// printed configuration. A bad configuration throws config_error (exit 2).
#include "server/serve.hpp"

#include <iostream>
#include <memory>

#include "command.hpp"
#include "server/config.hpp"

namespace rcache::app {
namespace {

struct gateway_flags {
  std::string config_file;
  std::string listen;
  std::string threads;
  std::string redis_url;
  std::string data_dir;
  std::string log_level;
  bool no_access_log = false;
  std::vector<std::string> sets;

  void add_to(CLI::App* cmd) {
    cmd->add_option("--config", config_file, "TOML configuration file (default: $RCACHE_CONFIG)")
        ->envname("RCACHE_CONFIG");
    cmd->add_option("--listen", listen, "address:port to listen on (server.listen)");
    cmd->add_option("--threads", threads, "I/O threads, 0 = cores (server.threads)");
    cmd->add_option("--redis-url", redis_url,
                    "redis://, rediss:// or unix:// URL (redis.url); none: embedded Redis");
    cmd->add_option("--data-dir", data_dir, "data directory of the embedded Redis (embedded.dir)");
    cmd->add_option("--log-level", log_level, "trace, debug, info, warn, error, off (log.level)");
    cmd->add_flag("--no-access-log", no_access_log, "turn the access log off (log.access=false)");
    cmd->add_option("--set", sets, "any setting as key=value, e.g. --set cache.default_ttl=60");
  }

  server::loaded_config load() const {
    server::config_sources src;
    if (!config_file.empty()) src.file = config_file;
    src.env = server::environment_map();
    auto flag = [&](std::string_view key, const std::string& v) {
      if (!v.empty()) src.flags.emplace_back(key, v);
    };
    flag("server.listen", listen);
    flag("server.threads", threads);
    flag("redis.url", redis_url);
    flag("embedded.dir", data_dir);
    flag("log.level", log_level);
    if (no_access_log) src.flags.emplace_back("log.access", "false");
    for (const auto& kv : sets) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos)
        throw server::config_error("--set " + kv + ": expected key=value");
      src.flags.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    return server::load_config(src);
  }
};

}  // namespace

std::vector<command> add_gateway_commands(CLI::App& app) {
  auto flags = std::make_shared<gateway_flags>();
  auto* serve = app.add_subcommand("serve", "Run the HTTP/JSON gateway (docs/api.md)");
  flags->add_to(serve);
  auto* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1);
  auto* check = config->add_subcommand(
      "check", "Validate the configuration and print it (secrets redacted) with each source");
  flags->add_to(check);
  return {
      {serve, [flags] { return server::serve(flags->load()); }},
      {check,
       [flags] {
         const auto loaded = flags->load();
         std::cout << server::describe(loaded);
         for (const auto& w : loaded.warnings()) std::cerr << "rcache: warning: " << w << "\n";
         std::cout << server::describe_direct_writes(loaded.config) << "\n";
         return 0;
       }},
  };
}

}  // namespace rcache::app
