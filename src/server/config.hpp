// The gateway's configuration: every setting of `rcache serve`, where its
// value came from, and the checks that refuse a configuration that cannot
// work.
//
// Precedence: command-line flags > environment > TOML file > defaults. Each
// setting has one TOML key ("redis.port"), one environment variable (the
// names in MISSION.md, such as REDIS_PORT or CACHE_DEFAULT_TTL, else
// RCACHE_<SECTION>_<NAME>) and may be given on the command line as
// `--set key=value` (some also have a flag of their own in apps/rcache).
// Values are read as text whatever their source, so a setting is parsed and
// checked the same way from all of them. An empty value counts as unset.
//
// Settings whose feature is not built yet (cache warming, alerts, key caps)
// are accepted, checked, and reported in `unbuilt()` so that the server can
// say so at start-up: never silently ignored.
//
// Errors: load_config() throws config_error with one line per invalid
// setting, each naming the setting, its source and the reason.
//
// Threading: plain values; load_config() reads only its arguments and the
// file it names.
#pragma once

#include <rcache/cache.hpp>
#include <rcache/feed.hpp>
#include <rcache/session.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/client_address.hpp"

namespace rcache::server {

/// Everything `rcache serve` runs with, parsed and checked. load_config()
/// fills every field from the settings table (settings.cpp), which holds
/// the defaults; a value-initialised gateway_config is not a usable one.
struct gateway_config {
  // ---- [server] ----
  std::string listen_host{};
  std::uint16_t listen_port = 0;  // 0: any free port (logged at start-up)
  unsigned threads = 0;           // resolved: 0 in the settings means "cores"
  std::size_t max_connections = 0;
  std::size_t max_body_bytes = 0;
  std::size_t max_header_bytes = 0;
  std::chrono::milliseconds read_timeout{};   // one whole request
  std::chrono::milliseconds idle_timeout{};   // keep-alive, between requests
  std::chrono::milliseconds write_timeout{};  // one whole response
  std::chrono::milliseconds shutdown_timeout{};
  std::size_t max_namespaces = 0;
  std::size_t max_batch_keys = 0;
  std::size_t max_response_bytes = 0;  // a batch answer's JSON
  trusted_proxies trusted{};           // server.trusted_proxies

  // ---- [redis] / [embedded] ----
  /// The Redis to use; nullopt: the embedded default (a private redis-server).
  std::optional<client_config> redis{};
  /// Credentials for the embedded server (redis.password / redis.username).
  std::string embedded_password{};
  std::filesystem::path data_dir{};
  std::string redis_executable{};
  std::chrono::milliseconds command_timeout{};
  std::chrono::milliseconds connect_timeout{};
  std::chrono::milliseconds health_check_interval{};
  /// redis.connections = per_thread: one Redis connection per I/O thread
  /// (a request never changes threads; smaller pipelined batches) instead
  /// of one shared by all.
  bool connection_per_thread = false;

  // ---- [cache] ----
  cache_options cache{};

  // ---- [sessions] ----
  session_options sessions{};

  // ---- [feed] ----
  struct feed_settings {
    bool enabled = true;
    change_log_options log{};
    std::size_t max_connections = 0;    // WebSocket connections
    std::size_t max_subscriptions = 0;  // per connection
    std::size_t queue_messages = 0;     // a connection's outbox
    std::size_t queue_bytes = 0;
    std::size_t max_message_bytes = 0;  // a client message
    std::chrono::milliseconds idle_timeout{};
    std::vector<std::string> allowed_origins{};  // empty: any
    std::vector<std::string> namespaces{};       // empty: every namespace
  } feed{};

  // ---- [monitoring] / [log] ----
  bool monitoring = false;
  std::string log_level{};
  bool access_log = false;
};

/// Where a setting's value came from.
enum class source : std::uint8_t { default_value, file, environment, flag };
[[nodiscard]] std::string_view to_string(source s) noexcept;

/// One setting as loaded, for `rcache config check` and the start-up log.
struct setting_report {
  std::string key;    // "redis.port"
  std::string env;    // "REDIS_PORT"
  std::string value;  // as given (redacted when secret); empty: unset
  source from = source::default_value;
  bool secret = false;
  std::string_view not_built{};  // the feature, when it is not built yet
  std::string note{};            // e.g. "ignored: redis.url is set"
};

/// What load_config() reads. `env` is the process environment (injected so
/// tests need not touch the real one); `flags` are key=value pairs from the
/// command line, later ones winning.
struct config_sources {
  std::optional<std::filesystem::path> file{};
  std::map<std::string, std::string, std::less<>> env{};
  std::vector<std::pair<std::string, std::string>> flags{};
};

struct loaded_config {
  gateway_config config;
  std::vector<setting_report> settings;  // every setting, in table order
  /// Settings that were given a value but whose feature is not built.
  [[nodiscard]] std::vector<const setting_report*> unbuilt() const;
  /// Warnings worth logging at start-up (ignored settings, unbuilt features).
  [[nodiscard]] std::vector<std::string> warnings() const;
};

class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Merges the sources, parses and checks every setting. Throws config_error
/// naming every invalid setting (and an unreadable or malformed file, or an
/// unknown key in it).
[[nodiscard]] loaded_config load_config(const config_sources& sources);

/// The process environment as config_sources::env wants it.
[[nodiscard]] std::map<std::string, std::string, std::less<>> environment_map();

/// The effective configuration as TOML, each line commented with its source;
/// secrets printed as "***" and redis.url without its password or options.
/// The output is a valid config file.
[[nodiscard]] std::string describe(const loaded_config& loaded);

/// Where the gateway's Redis is, for logs and `config check`, without
/// secrets: the redacted URL, or "sentinel <master> via <host:port,...>".
[[nodiscard]] std::string describe_target(const client_config& cfg);

/// The names of all settings (TOML keys), for --help and tests.
[[nodiscard]] std::vector<std::string_view> setting_keys();

}  // namespace rcache::server
