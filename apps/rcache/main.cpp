// The rcache binary: parses the command line, builds a configuration and
// calls the library. Subcommands:
//   rcache serve [gateway options]        the HTTP/JSON gateway (src/server)
//   rcache config check [gateway options] validate and print the configuration
//   rcache version
//   rcache ping [--url URL] [--count N]
// Exceptions are caught once here and turned into a message and exit code.
#include <rcache/blocking_client.hpp>
#include <rcache/version.hpp>

#include <CLI/CLI.hpp>
#include <boost/version.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <openssl/opensslv.h>
#include <optional>

#include "embedded/redis_process.hpp"
#include "server/config.hpp"
#include "server/serve.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A private redis-server in a fresh temporary directory, removed afterwards:
// what `rcache ping` talks to when no Redis is configured.
class private_server {
 public:
  private_server() {
    std::string tmpl = (fs::temp_directory_path() / "rcache-ping-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory");
    dir_ = tmpl;
    rcache::embedded::process_options opts;
    opts.dir = dir_;
    opts.config = {{"save", ""}, {"appendonly", "no"}};
    process_.emplace(std::move(opts));
    process_->start();
  }
  ~private_server() {
    process_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string url() const { return "unix://" + process_->unix_socket_path().string(); }
  pid_t pid() const { return process_->pid(); }

 private:
  fs::path dir_;
  std::optional<rcache::embedded::redis_process> process_;
};

int run_version() {
  std::cout << "rcache " << rcache::version_string << " (Boost " << BOOST_VERSION / 100000 << "."
            << BOOST_VERSION / 100 % 1000 << "." << BOOST_VERSION % 100 << ", "
            << OPENSSL_VERSION_TEXT << ")\n";
  return 0;
}

std::string hello_field(const rcache::value& hello, std::string_view key) {
  for (std::size_t i = 0; i + 1 < hello.elements.size(); i += 2) {
    if (hello.elements[i].str == key) {
      const auto& v = hello.elements[i + 1];
      return v.type == rcache::resp_type::integer ? std::to_string(v.integer) : v.str;
    }
  }
  return "?";
}

int run_ping(std::string url, int count) {
  std::optional<private_server> embedded;
  if (url.empty()) {
    embedded.emplace();
    url = embedded->url();
    std::cout << "started a private redis-server (pid " << embedded->pid() << ") at " << url
              << "\n";
  }
  auto cfg = rcache::parse_url(url);
  if (!cfg) {
    std::cerr << "rcache ping: invalid Redis URL (expected redis://, rediss:// or unix://)\n";
    return 2;
  }
  cfg->client_name = "rcache-ping";
  rcache::blocking_client client(*cfg);
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto reply = client.command("PING");
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (!reply) {
      auto [ec, message] = client.async().last_error();
      std::cerr << "rcache ping: " << rcache::redacted_url(*cfg) << ": " << reply.error().message();
      if (!message.empty()) std::cerr << " (" << message << ")";
      std::cerr << "\n";
      ++failures;
      break;
    }
    if (reply->is_error()) {
      std::cerr << "rcache ping: " << reply->str << "\n";
      ++failures;
      break;
    }
    if (i == 0) {
      const auto hello = client.async().server_hello();
      std::cout << "connected to " << rcache::redacted_url(*cfg) << ": redis "
                << hello_field(hello, "version") << ", role " << hello_field(hello, "role")
                << ", protocol " << hello_field(hello, "proto") << "\n";
    }
    std::cout << reply->str << " " << us / 1000.0 << " ms\n";
  }
  return failures == 0 ? 0 : 1;
}

// The options `serve` and `config check` share: each becomes a flag-level
// setting (the highest precedence) when given.
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

  rcache::server::config_sources sources() const {
    rcache::server::config_sources src;
    if (!config_file.empty()) src.file = config_file;
    src.env = rcache::server::environment_map();
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
      if (eq == std::string::npos) {
        throw rcache::server::config_error("--set " + kv + ": expected key=value");
      }
      src.flags.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    return src;
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rcache — Redis cache infrastructure"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("rcache ") + rcache::version_string);

  app.add_subcommand("version", "Print the version and the libraries it was built with");

  auto* ping = app.add_subcommand("ping", "Connect to Redis and send PING");
  std::string url;
  int count = 1;
  ping->add_option("--url", url,
                   "redis://[user:pass@]host:port/db, rediss://... or unix:///path; default: "
                   "$REDIS_URL, else a private redis-server started for the occasion")
      ->envname("REDIS_URL");
  ping->add_option("-c,--count", count, "Number of PINGs")->check(CLI::Range(1, 1000000));

  gateway_flags gateway;
  auto* serve = app.add_subcommand("serve", "Run the HTTP/JSON gateway (docs/api.md)");
  gateway.add_to(serve);
  auto* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1);
  auto* check = config->add_subcommand(
      "check", "Validate the configuration and print it (secrets redacted) with each source");
  gateway.add_to(check);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (serve->parsed() || check->parsed()) {
    std::optional<rcache::server::loaded_config> loaded;
    try {
      loaded = rcache::server::load_config(gateway.sources());
    } catch (const rcache::server::config_error& e) {
      std::cerr << "rcache: " << e.what() << "\n";
      return 2;
    }
    if (check->parsed()) {
      std::cout << rcache::server::describe(*loaded);
      for (const auto& w : loaded->warnings()) std::cerr << "rcache: warning: " << w << "\n";
      return 0;
    }
    return rcache::server::serve(*loaded);
  }
  try {
    if (app.got_subcommand("version")) return run_version();
    if (app.got_subcommand("ping")) return run_ping(url, count);
  } catch (const std::exception& e) {
    std::cerr << "rcache: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
