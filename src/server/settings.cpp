// The settings table and the typed parsing of one value; see settings.hpp.
#include "server/settings.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>
#include <thread>
#include <variant>

#include "address/host_port.hpp"
#include "server/config.hpp"

namespace rcache::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using enum setting_type;
using value = const setting_value&;

constexpr long long max_ttl = 10LL * 365 * 86400;
constexpr long long max_ms = 3'600'000;

// "a, b,c" -> {"a", "b", "c"}; empty items dropped.
std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    auto end = text.find(',', at);
    if (end == std::string_view::npos) end = text.size();
    auto item = text.substr(at, end - at);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front())))
      item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back())))
      item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    at = end + 1;
  }
  return out;
}

// ---- the table ----------------------------------------------------------------------
// Rows with no `apply` are read by load_config's Redis step (which Redis,
// and how the URL's options combine with the settings) or belong to a
// feature that is not built yet.
constexpr setting table[] = {
    // ---- [server] ----
    {.key = "server.listen",
     .type = address,
     .default_value = "127.0.0.1:8080",
     .values = "`host:port`, `[v6]:port`; port 0..65535",
     .help = "address:port to listen on (port 0: any free port)",
     .apply =
         [](gateway_config& c, value v) {
           auto a = split_address(v.text);
           c.listen_host = a->host;
           c.listen_port = a->port;
         }},
    {.key = "server.threads",
     .type = integer,
     .default_value = "0",
     .min = 0,
     .max = 256,
     .help = "I/O threads (0: the number of cores)",
     .apply =
         [](gateway_config& c, value v) {
           c.threads = v.integer ? static_cast<unsigned>(v.integer)
                                 : std::max(1u, std::thread::hardware_concurrency());
         }},
    {.key = "server.max_connections",
     .type = integer,
     .default_value = "10000",
     .min = 1,
     .max = 1'000'000,
     .help = "open connections; more are answered 429",
     .apply = [](gateway_config& c, value v) { c.max_connections = v.integer; }},
    {.key = "server.max_body_bytes",
     .type = integer,
     .default_value = "8388608",
     .min = 1,
     .max = 1LL << 30,
     .help = "largest request body (413 above)",
     .apply = [](gateway_config& c, value v) { c.max_body_bytes = v.integer; }},
    {.key = "server.max_header_bytes",
     .type = integer,
     .default_value = "16384",
     .min = 1024,
     .max = 1LL << 20,
     .help = "largest request head (431 above)",
     .apply = [](gateway_config& c, value v) { c.max_header_bytes = v.integer; }},
    {.key = "server.read_timeout_ms",
     .type = duration_ms,
     .default_value = "10000",
     .min = 1,
     .max = max_ms,
     .help = "deadline to read one whole request",
     .apply = [](gateway_config& c, value v) { c.read_timeout = milliseconds(v.integer); }},
    {.key = "server.idle_timeout_ms",
     .type = duration_ms,
     .default_value = "60000",
     .min = 1,
     .max = max_ms,
     .help = "keep-alive connections idle longer are closed",
     .apply = [](gateway_config& c, value v) { c.idle_timeout = milliseconds(v.integer); }},
    {.key = "server.write_timeout_ms",
     .type = duration_ms,
     .default_value = "10000",
     .min = 1,
     .max = max_ms,
     .help = "deadline to write one whole response",
     .apply = [](gateway_config& c, value v) { c.write_timeout = milliseconds(v.integer); }},
    {.key = "server.shutdown_timeout_ms",
     .type = duration_ms,
     .default_value = "10000",
     .min = 1,
     .max = max_ms,
     .help = "SIGTERM: how long in-flight requests may finish",
     .apply = [](gateway_config& c, value v) { c.shutdown_timeout = milliseconds(v.integer); }},
    {.key = "server.max_namespaces",
     .type = integer,
     .default_value = "1000",
     .min = 1,
     .max = 9000,
     .help = "distinct namespaces served (they are metric labels)",
     .apply = [](gateway_config& c, value v) { c.max_namespaces = v.integer; }},
    {.key = "server.max_batch_keys",
     .type = integer,
     .default_value = "1000",
     .min = 1,
     .max = 100'000,
     .help = "keys in one batch or invalidation request",
     .apply = [](gateway_config& c, value v) { c.max_batch_keys = v.integer; }},
    {.key = "server.max_response_bytes",
     .type = integer,
     .default_value = "67108864",
     .min = 1024,
     .max = 1LL << 32,
     .help = "largest batch answer (413 above)",
     .apply = [](gateway_config& c, value v) { c.max_response_bytes = v.integer; }},
    {.key = "server.trusted_proxies",
     .values = "IP addresses and CIDR networks, comma-separated",
     .help = "peers whose X-Forwarded-For names the client (sessions' IP)",
     .apply = nullptr},

    // ---- [redis]: read together by load_config (which Redis) ----
    {.key = "redis.url",
     .env = "REDIS_URL",
     .values = "`redis://`, `rediss://`, `unix://`, `redis-sentinel://` or `redis-cluster://` URL",
     .help = "redis://, rediss:// or unix:// URL; wins over host/port"},
    {.key = "redis.host",
     .env = "REDIS_HOST",
     .values = "host name or address",
     .help = "Redis host (unset with url and port: embedded Redis)"},
    {.key = "redis.port",
     .env = "REDIS_PORT",
     .type = integer,
     .min = 1,
     .max = 65535,
     .help = "Redis port (default 6379 when host is set)"},
    {.key = "redis.sentinels",
     .env = "REDIS_SENTINELS",
     .values = "`host:port,host:port,...` (IPv6: `[address]:port`)",
     .help = "host:port,... of Redis Sentinels (wins over url)"},
    {.key = "redis.sentinel_master",
     .env = "REDIS_SENTINEL_MASTER",
     .help = "the master name the sentinels know"},
    {.key = "redis.sentinel_password",
     .env = "REDIS_SENTINEL_PASSWORD",
     .help = "password of the sentinels",
     .secret = true},
    {.key = "redis.cluster_nodes",
     .env = "REDIS_CLUSTER_NODES",
     .values = "`host:port,host:port,...` (IPv6: `[address]:port`)",
     .help = "host:port,... of Redis Cluster nodes to start from (wins over url)"},
    {.key = "redis.username", .env = "REDIS_USERNAME", .help = "ACL user (empty: default)"},
    {.key = "redis.password",
     .env = "REDIS_PASSWORD",
     .help = "password (never logged or printed)",
     .secret = true},
    {.key = "redis.db",
     .env = "REDIS_DB",
     .type = integer,
     .min = 0,
     .max = 1'000'000,
     .help = "database number"},
    {.key = "redis.command_timeout_ms",
     .type = duration_ms,
     .default_value = "2000",
     .min = 1,
     .max = max_ms,
     .help = "deadline of one Redis command",
     .apply = [](gateway_config& c, value v) { c.command_timeout = milliseconds(v.integer); }},
    {.key = "redis.connect_timeout_ms",
     .type = duration_ms,
     .default_value = "2000",
     .min = 1,
     .max = max_ms,
     .help = "deadline of connect + handshake",
     .apply = [](gateway_config& c, value v) { c.connect_timeout = milliseconds(v.integer); }},
    {.key = "redis.health_check_interval_ms",
     .type = duration_ms,
     .default_value = "2000",
     .min = 0,
     .max = max_ms,
     .help = "PING when idle this long (0: off)",
     .apply = [](gateway_config& c,
                 value v) { c.health_check_interval = milliseconds(v.integer); }},
    {.key = "redis.connections",
     .type = choice,
     .default_value = "shared",
     .values = "shared|per_thread",
     .help = "shared: one connection for all I/O threads; per_thread: one each",
     .apply = [](gateway_config& c, value v) { c.connection_per_thread = v.text == "per_thread"; }},

    // ---- [embedded] ----
    {.key = "embedded.dir",
     .env = "RCACHE_DATA_DIR",
     .default_value = "rcache-data",
     .values = "path",
     .help = "data directory of the embedded Redis",
     .apply = [](gateway_config& c, value v) { c.data_dir = v.text; }},
    {.key = "embedded.executable",
     .default_value = "redis-server",
     .values = "path, or a name looked up in `PATH`",
     .help = "the redis-server binary the embedded mode runs",
     .apply = [](gateway_config& c, value v) { c.redis_executable = v.text; }},

    // ---- [cache] ----
    {.key = "cache.default_ttl",
     .env = "CACHE_DEFAULT_TTL",
     .type = integer,
     .default_value = "3600",
     .min = 0,
     .max = max_ttl,
     .help = "TTL in seconds of values put without one",
     .apply = [](gateway_config& c, value v) { c.cache.default_ttl = seconds(v.integer); }},
    {.key = "cache.max_keys",
     .env = "CACHE_MAX_KEYS",
     .type = integer,
     .min = 1,
     .max = 1LL << 40,
     .help = "cap on cached keys",
     .not_built = "key caps"},
    {.key = "cache.compression",
     .env = "CACHE_COMPRESSION_ENABLED",
     .type = boolean,
     .default_value = "false",
     .help = "zstd for values above the threshold",
     .apply = [](gateway_config& c, value v) { c.cache.compression = v.boolean; }},
    {.key = "cache.compression_threshold",
     .type = integer,
     .default_value = "1024",
     .min = 1,
     .max = 1LL << 30,
     .help = "smallest value compressed, in bytes",
     .apply = [](gateway_config& c, value v) { c.cache.compression_threshold = v.integer; }},
    {.key = "cache.max_value_bytes",
     .type = integer,
     .default_value = "67108864",
     .min = 1,
     .max = 512LL << 20,
     .help = "largest value stored",
     .apply = [](gateway_config& c, value v) { c.cache.max_value_size = v.integer; }},
    {.key = "cache.near_cache",
     .type = boolean,
     .default_value = "true",
     .help = "in-process near cache, kept coherent by Redis",
     .apply = [](gateway_config& c, value v) { c.cache.near_cache = v.boolean; }},
    {.key = "cache.near_cache_max_bytes",
     .type = integer,
     .default_value = "67108864",
     .min = 4096,
     .max = 1LL << 40,
     .help = "near-cache memory bound",
     .apply = [](gateway_config& c, value v) { c.cache.near_cache_max_bytes = v.integer; }},
    {.key = "cache.near_cache_max_ttl",
     .type = integer,
     .default_value = "300",
     .min = 1,
     .max = 86400,
     .help = "longest life of a near-cache entry, in seconds",
     .apply = [](gateway_config& c, value v) { c.cache.near_cache_max_ttl = seconds(v.integer); }},
    {.key = "cache.encryption_keys",
     .values = "key ring",
     .help = "AES-256-GCM key ring \"1:<base64>;current=1\"",
     .secret = true,
     .apply = [](gateway_config& c, value v) { c.cache.encryption_keys = v.text; }},
    {.key = "cache.warming",
     .env = "CACHE_WARMING_ENABLED",
     .type = boolean,
     .default_value = "false",
     .help = "warm the cache at start-up",
     .not_built = "cache warming"},

    // ---- [sessions] ----
    {.key = "sessions.idle_timeout",
     .type = integer,
     .default_value = "1800",
     .min = 1,
     .max = max_ttl,
     .help = "seconds without a validate after which a session dies (sliding)",
     .apply = [](gateway_config& c, value v) { c.sessions.idle_timeout = seconds(v.integer); }},
    {.key = "sessions.absolute_lifetime",
     .type = integer,
     .default_value = "86400",
     .min = 1,
     .max = max_ttl,
     .help = "seconds after creation a session dies, validated or not",
     .apply = [](gateway_config& c,
                 value v) { c.sessions.absolute_lifetime = seconds(v.integer); }},
    {.key = "sessions.max_per_user",
     .type = integer,
     .default_value = "0",
     .min = 0,
     .max = 1'000'000,
     .help = "sessions per user (0: unlimited)",
     .apply = [](gateway_config& c, value v) { c.sessions.max_per_user = v.integer; }},
    {.key = "sessions.cap_policy",
     .type = choice,
     .default_value = "evict",
     .values = "evict|refuse",
     .help = "at the cap: evict the least recently seen session, or refuse the new one",
     .apply =
         [](gateway_config& c, value v) {
           c.sessions.cap_policy = v.text == "refuse"
                                       ? session_cap_policy::refuse
                                       : session_cap_policy::evict_least_recently_seen;
         }},
    {.key = "sessions.rotation_grace",
     .type = integer,
     .default_value = "30",
     .min = 0,
     .max = 3600,
     .help = "seconds an id stays valid after its session was rotated",
     .apply = [](gateway_config& c, value v) { c.sessions.rotation_grace = seconds(v.integer); }},
    {.key = "sessions.touch_events",
     .type = boolean,
     .default_value = "false",
     .help = "a \"touched\" event on every validate",
     .apply = [](gateway_config& c, value v) { c.sessions.touch_events = v.boolean; }},
    {.key = "sessions.events_per_stream",
     .type = integer,
     .default_value = "1000",
     .min = 1,
     .max = 10'000'000,
     .help = "events kept per event stream (256 streams)",
     .apply = [](gateway_config& c, value v) { c.sessions.events_per_stream = v.integer; }},
    {.key = "sessions.durability",
     .type = choice,
     .default_value = "none",
     .values = "none|replica",
     .help = "replica: create, rotate and destroys wait for a replica (WAIT)",
     .apply =
         [](gateway_config& c, value v) {
           c.sessions.durability =
               v.text == "replica" ? session_durability::replica : session_durability::none;
         }},
    {.key = "sessions.replica_timeout_ms",
     .type = duration_ms,
     .default_value = "1000",
     .min = 1,
     .max = max_ms,
     .help = "durability = replica: how long to wait for the replica",
     .apply = [](gateway_config& c,
                 value v) { c.sessions.replica_timeout = milliseconds(v.integer); }},
    {.key = "sessions.sweep_interval",
     .type = integer,
     .default_value = "60",
     .min = 0,
     .max = 86400,
     .help = "seconds between sweeps of dead sessions (jittered; 0: no sweeper)",
     .apply = [](gateway_config& c, value v) { c.sessions.sweep_interval = seconds(v.integer); }},
    {.key = "sessions.max_fields",
     .type = integer,
     .default_value = "64",
     .min = 1,
     .max = 10'000,
     .help = "data fields per session (413 above)",
     .apply = [](gateway_config& c, value v) { c.sessions.max_fields = v.integer; }},
    {.key = "sessions.max_field_bytes",
     .type = integer,
     .default_value = "65536",
     .min = 1,
     .max = 64LL << 20,
     .help = "largest data field value (413 above)",
     .apply = [](gateway_config& c, value v) { c.sessions.max_field_value = v.integer; }},
    {.key = "sessions.max_user_bytes",
     .type = integer,
     .default_value = "256",
     .min = 1,
     .max = 4096,
     .help = "longest user id (400 above)",
     .apply = [](gateway_config& c, value v) { c.sessions.max_user_length = v.integer; }},
    {.key = "sessions.prefix",
     .default_value = "rcache:session:",
     .values = "key prefix",
     .help = "prefix of every session key",
     .apply = [](gateway_config& c, value v) { c.sessions.prefix = v.text; }},

    // ---- [feed] ----
    {.key = "feed.enabled",
     .type = boolean,
     .default_value = "true",
     .help = "log the cache's writes and serve GET /v1/feed (WebSocket)",
     .apply = [](gateway_config& c, value v) { c.feed.enabled = v.boolean; }},
    {.key = "feed.shards",
     .type = integer,
     .default_value = "16",
     .min = 1,
     .max = 1024,
     .help = "change-log streams (slot ranges)",
     .apply = [](gateway_config& c, value v) { c.feed.log.shards = v.integer; }},
    {.key = "feed.max_length",
     .type = integer,
     .default_value = "100000",
     .min = 1,
     .max = 100'000'000,
     .help = "changes kept per stream, about",
     .apply = [](gateway_config& c, value v) { c.feed.log.max_length = v.integer; }},
    {.key = "feed.retention",
     .type = integer,
     .default_value = "3600",
     .min = 1,
     .max = max_ttl,
     .help = "seconds a change is kept at most",
     .apply = [](gateway_config& c, value v) { c.feed.log.retention = seconds(v.integer); }},
    {.key = "feed.value_max_bytes",
     .type = integer,
     .default_value = "1024",
     .min = 0,
     .max = 1LL << 20,
     .help = "values up to this size are logged with their change (0: none)",
     .apply = [](gateway_config& c, value v) { c.feed.log.value_max_bytes = v.integer; }},
    {.key = "feed.prefix",
     .default_value = "rcache:feed:",
     .values = "key prefix",
     .help = "prefix of the change log's keys",
     .apply = [](gateway_config& c, value v) { c.feed.log.prefix = v.text; }},
    {.key = "feed.max_connections",
     .type = integer,
     .default_value = "10000",
     .min = 1,
     .max = 1'000'000,
     .help = "open feed connections; more are answered 429",
     .apply = [](gateway_config& c, value v) { c.feed.max_connections = v.integer; }},
    {.key = "feed.max_subscriptions",
     .type = integer,
     .default_value = "256",
     .min = 1,
     .max = 100'000,
     .help = "subscriptions per connection",
     .apply = [](gateway_config& c, value v) { c.feed.max_subscriptions = v.integer; }},
    {.key = "feed.queue_messages",
     .type = integer,
     .default_value = "1024",
     .min = 1,
     .max = 1'000'000,
     .help = "messages waiting for a slow connection",
     .apply = [](gateway_config& c, value v) { c.feed.queue_messages = v.integer; }},
    {.key = "feed.queue_bytes",
     .type = integer,
     .default_value = "4194304",
     .min = 1024,
     .max = 1LL << 30,
     .help = "bytes waiting for a slow connection",
     .apply = [](gateway_config& c, value v) { c.feed.queue_bytes = v.integer; }},
    {.key = "feed.max_message_bytes",
     .type = integer,
     .default_value = "65536",
     .min = 256,
     .max = 16LL << 20,
     .help = "largest message a client may send",
     .apply = [](gateway_config& c, value v) { c.feed.max_message_bytes = v.integer; }},
    {.key = "feed.idle_timeout_ms",
     .type = duration_ms,
     .default_value = "30000",
     .min = 1000,
     .max = max_ms,
     .help = "silence after which a connection is pinged, and closed unanswered",
     .apply = [](gateway_config& c, value v) { c.feed.idle_timeout = milliseconds(v.integer); }},
    {.key = "feed.allowed_origins",
     .values = "origins (`https://app.example.com`), comma-separated",
     .help = "Origin header values accepted (unset: any)",
     .apply = [](gateway_config& c, value v) { c.feed.allowed_origins = split_list(v.text); }},
    {.key = "feed.namespaces",
     .values = "namespace names, comma-separated",
     .help = "namespaces feed clients may subscribe to (unset: all)",
     .apply = [](gateway_config& c, value v) { c.feed.namespaces = split_list(v.text); }},

    // ---- [monitoring] ----
    {.key = "monitoring.enabled",
     .env = "MONITORING_ENABLED",
     .type = boolean,
     .default_value = "true",
     .help = "serve /metrics (Prometheus text)",
     .apply = [](gateway_config& c, value v) { c.monitoring = v.boolean; }},

    // ---- [alerts] ----
    {.key = "alerts.memory_mb",
     .env = "ALERT_THRESHOLD_MEMORY",
     .type = number,
     .min = 1,
     .max = 1'000'000'000,
     .help = "alert above this Redis memory (MB)",
     .not_built = "alerts"},
    {.key = "alerts.cpu_percent",
     .env = "ALERT_THRESHOLD_CPU",
     .type = number,
     .min = 0,
     .max = 100,
     .help = "alert above this CPU use (%)",
     .not_built = "alerts"},
    {.key = "alerts.hit_rate_percent",
     .env = "ALERT_THRESHOLD_CACHE_HIT_RATE",
     .type = number,
     .min = 0,
     .max = 100,
     .help = "alert below this hit rate (%)",
     .not_built = "alerts"},

    // ---- [log] ----
    {.key = "log.level",
     .env = "RCACHE_LOG_LEVEL",
     .type = choice,
     .default_value = "info",
     .values = "trace|debug|info|warn|error|off",
     .help = "lowest level logged",
     .apply = [](gateway_config& c, value v) { c.log_level = v.text; }},
    {.key = "log.access",
     .env = "RCACHE_ACCESS_LOG",
     .type = boolean,
     .default_value = "true",
     .help = "one JSON line per request",
     .apply = [](gateway_config& c, value v) { c.access_log = v.boolean; }},
};

// The choices of a `choice` row, split at '|'.
template <class F>
void each_choice(std::string_view values, F f) {
  while (!values.empty()) {
    const auto bar = values.find('|');
    f(values.substr(0, bar));
    values = bar == std::string_view::npos ? std::string_view{} : values.substr(bar + 1);
  }
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

// server.listen: a port is required and may be 0 (any free port); an IPv6
// host may come without brackets; the host is an IP address or localhost.
constexpr detail::host_port_form listen_form{.port_zero = true, .bare_ipv6 = true};

std::variant<listen_address, std::string> read_listen_address(std::string_view text) {
  auto ep = detail::parse_host_port(text, listen_form);
  if (!ep) {
    const auto& f = ep.error();
    if (f.where == detail::host_port_fault::part::port && !f.text.empty()) {
      return quoted(f.text) + " is not a port (0..65535)";
    }
    return quoted(text) + " is not address:port (e.g. 127.0.0.1:8080)";
  }
  boost::system::error_code bad;
  const auto host = ep->host == "localhost" ? std::string("127.0.0.1") : ep->host;
  (void)boost::asio::ip::make_address(host, bad);
  if (bad) return quoted(std::string_view(ep->host)) + " is not an IP address (or localhost)";
  return listen_address{host, ep->port};
}

}  // namespace

std::span<const setting> settings_table() noexcept {
  return table;
}

const setting* find_setting(std::string_view key) noexcept {
  for (const auto& s : table) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

std::string env_name(const setting& s) {
  if (!s.env.empty()) return std::string(s.env);
  std::string out = "RCACHE_";
  for (char c : s.key) out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(c)));
  return out;
}

std::optional<listen_address> split_address(std::string_view text) {
  auto r = read_listen_address(text);
  if (auto* a = std::get_if<listen_address>(&r)) return std::move(*a);
  return std::nullopt;
}

std::optional<std::string> parse_setting(const setting& s, std::string_view given,
                                         setting_value& out) {
  out = {};
  out.text = given;
  out.set = true;
  const auto* end = given.data() + given.size();
  switch (s.type) {
    case integer:
    case duration_ms: {
      auto [p, ec] = std::from_chars(given.data(), end, out.integer);
      if (ec != std::errc() || p != end || out.integer < s.min || out.integer > s.max) {
        return quoted(given) + " is not an integer in " + std::to_string(s.min) + ".." +
               std::to_string(s.max);
      }
      return std::nullopt;
    }
    case number: {
      auto [p, ec] = std::from_chars(given.data(), end, out.number);
      if (ec != std::errc() || p != end || !std::isfinite(out.number) ||
          out.number < static_cast<double>(s.min) || out.number > static_cast<double>(s.max)) {
        return quoted(given) + " is not a number in " + std::to_string(s.min) + ".." +
               std::to_string(s.max);
      }
      return std::nullopt;
    }
    case boolean: {
      std::string t;
      for (char c : given)
        t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      if (t == "true" || t == "1" || t == "yes" || t == "on") {
        out.boolean = true;
      } else if (!(t == "false" || t == "0" || t == "no" || t == "off")) {
        return quoted(given) + " is not a boolean (true/false, 1/0, yes/no, on/off)";
      }
      return std::nullopt;
    }
    case choice: {
      bool found = false;
      std::string all;
      each_choice(s.values, [&](std::string_view c) {
        found = found || c == given;
        all += (all.empty() ? "" : ", ") + std::string(c);
      });
      if (!found) return quoted(given) + " is not one of " + all;
      return std::nullopt;
    }
    case address: {
      auto r = read_listen_address(given);
      if (auto* why = std::get_if<std::string>(&r)) return std::move(*why);
      return std::nullopt;
    }
    case text:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string describe_values(const setting& s) {
  switch (s.type) {
    case integer:
    case duration_ms:
      return std::to_string(s.min) + ".." + std::to_string(s.max);
    case number:
      return "number, " + std::to_string(s.min) + ".." + std::to_string(s.max);
    case boolean:
      return "boolean";
    case choice: {
      std::string out;
      each_choice(s.values, [&](std::string_view c) {
        out += (out.empty() ? "`" : ", `") + std::string(c) + "`";
      });
      return out;
    }
    case address:
    case text:
      return std::string(s.values);
  }
  return {};
}

}  // namespace rcache::server
