// Loading the gateway's configuration: the settings table, the merge of
// defaults, TOML file, environment and flags, and the typed checks. See
// config.hpp for the contract.
#include "server/config.hpp"

#include <rcache/config.hpp>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse_query.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>
#include <thread>
#include <toml++/toml.h>

#include "client/host_port.hpp"

extern char** environ;

namespace rcache::server {
namespace {

using namespace std::string_view_literals;

// ---- the settings table ---------------------------------------------------------

struct setting_def {
  std::string_view key;
  std::string_view env;  // empty: RCACHE_<KEY>
  std::string_view default_value;
  std::string_view help;
  bool secret = false;
  std::string_view not_built{};
};

// The order is the order of `rcache config check` and of the example file.
constexpr setting_def settings_table[] = {
    {"server.listen", "", "127.0.0.1:8080", "address:port to listen on (port 0: any free port)"},
    {"server.threads", "", "0", "I/O threads (0: the number of cores)"},
    {"server.max_connections", "", "10000", "open connections; more are answered 429"},
    {"server.max_body_bytes", "", "8388608", "largest request body (413 above)"},
    {"server.max_header_bytes", "", "16384", "largest request head (431 above)"},
    {"server.read_timeout_ms", "", "10000", "deadline to read one whole request"},
    {"server.idle_timeout_ms", "", "60000", "keep-alive connections idle longer are closed"},
    {"server.write_timeout_ms", "", "10000", "deadline to write one whole response"},
    {"server.shutdown_timeout_ms", "", "10000", "SIGTERM: how long in-flight requests may finish"},
    {"server.max_namespaces", "", "1000", "distinct namespaces served (they are metric labels)"},
    {"server.max_batch_keys", "", "1000", "keys in one batch or invalidation request"},
    {"server.max_response_bytes", "", "67108864", "largest batch answer (413 above)"},
    {"redis.url", "REDIS_URL", "", "redis://, rediss:// or unix:// URL; wins over host/port"},
    {"redis.host", "REDIS_HOST", "", "Redis host (unset with url and port: embedded Redis)"},
    {"redis.port", "REDIS_PORT", "", "Redis port (default 6379 when host is set)"},
    {"redis.sentinels", "REDIS_SENTINELS", "", "host:port,... of Redis Sentinels (wins over url)"},
    {"redis.sentinel_master", "REDIS_SENTINEL_MASTER", "", "the master name the sentinels know"},
    {"redis.sentinel_password", "REDIS_SENTINEL_PASSWORD", "", "password of the sentinels", true},
    {"redis.cluster_nodes", "REDIS_CLUSTER_NODES", "",
     "host:port,... of Redis Cluster nodes to start from (wins over url)"},
    {"redis.username", "REDIS_USERNAME", "", "ACL user (empty: default)"},
    {"redis.password", "REDIS_PASSWORD", "", "password (never logged or printed)", true},
    {"redis.db", "REDIS_DB", "", "database number"},
    {"redis.command_timeout_ms", "", "2000", "deadline of one Redis command"},
    {"redis.connect_timeout_ms", "", "2000", "deadline of connect + handshake"},
    {"redis.health_check_interval_ms", "", "2000", "PING when idle this long (0: off)"},
    {"redis.connections", "", "shared",
     "shared: one connection for all I/O threads; per_thread: one each"},
    {"embedded.dir", "RCACHE_DATA_DIR", "rcache-data", "data directory of the embedded Redis"},
    {"embedded.executable", "", "redis-server", "the redis-server binary the embedded mode runs"},
    {"cache.default_ttl", "CACHE_DEFAULT_TTL", "3600", "TTL in seconds of values put without one"},
    {"cache.max_keys", "CACHE_MAX_KEYS", "", "cap on cached keys", false, "key caps"},
    {"cache.compression", "CACHE_COMPRESSION_ENABLED", "false",
     "zstd for values above the threshold"},
    {"cache.compression_threshold", "", "1024", "smallest value compressed, in bytes"},
    {"cache.max_value_bytes", "", "67108864", "largest value stored"},
    {"cache.near_cache", "", "true", "in-process near cache (L1), kept coherent by Redis"},
    {"cache.near_cache_max_bytes", "", "67108864", "near-cache memory bound"},
    {"cache.near_cache_max_ttl", "", "300", "longest life of a near-cache entry, in seconds"},
    {"cache.encryption_keys", "", "", "AES-256-GCM key ring \"1:<base64>;current=1\"", true},
    {"cache.warming", "CACHE_WARMING_ENABLED", "false", "warm the cache at start-up", false,
     "cache warming"},
    {"monitoring.enabled", "MONITORING_ENABLED", "true", "serve /metrics (Prometheus text)"},
    {"alerts.memory_mb", "ALERT_THRESHOLD_MEMORY", "", "alert above this Redis memory (MB)", false,
     "alerts"},
    {"alerts.cpu_percent", "ALERT_THRESHOLD_CPU", "", "alert above this CPU use (%)", false,
     "alerts"},
    {"alerts.hit_rate_percent", "ALERT_THRESHOLD_CACHE_HIT_RATE", "",
     "alert below this hit rate (%)", false, "alerts"},
    {"log.level", "RCACHE_LOG_LEVEL", "info", "trace, debug, info, warn, error or off"},
    {"log.access", "RCACHE_ACCESS_LOG", "true", "one JSON line per request"},
};

std::string env_name(const setting_def& d) {
  if (!d.env.empty()) return std::string(d.env);
  std::string out = "RCACHE_";
  for (char c : d.key) out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(c)));
  return out;
}

const setting_def* find_def(std::string_view key) {
  for (const auto& d : settings_table) {
    if (d.key == key) return &d;
  }
  return nullptr;
}

// ---- the TOML file ---------------------------------------------------------------

// Flattens the file into key -> text; refuses unknown keys and non-scalars.
void read_file(const std::filesystem::path& path, std::map<std::string, std::string>& out) {
  toml::table root;
  try {
    root = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "config file " << path.string() << ": " << e.description() << " (line "
        << e.source().begin.line << ", column " << e.source().begin.column << ")";
    throw config_error(msg.str());
  }
  std::vector<std::string> errors;
  for (auto&& [section, node] : root) {
    const auto* table = node.as_table();
    const std::string prefix = std::string(section.str()) + ".";
    if (table && std::none_of(std::begin(settings_table), std::end(settings_table),
                              [&](const setting_def& d) { return d.key.starts_with(prefix); })) {
      errors.push_back("unknown section [" + std::string(section.str()) + "]");
      continue;
    }
    if (!table) {
      errors.push_back("'" + std::string(section.str()) + "' must be a table such as [server]");
      continue;
    }
    for (auto&& [name, leaf] : *table) {
      const std::string key = std::string(section.str()) + "." + std::string(name.str());
      if (!find_def(key)) {
        errors.push_back("unknown setting '" + key + "'");
        continue;
      }
      if (const auto* s = leaf.as_string()) {
        out[key] = s->get();
      } else if (const auto* i = leaf.as_integer()) {
        out[key] = std::to_string(i->get());
      } else if (const auto* b = leaf.as_boolean()) {
        out[key] = b->get() ? "true" : "false";
      } else if (const auto* f = leaf.as_floating_point()) {
        std::ostringstream v;
        v << f->get();
        out[key] = v.str();
      } else {
        errors.push_back("'" + key + "' must be a string, number or boolean");
      }
    }
  }
  if (!errors.empty()) {
    std::string msg = "config file " + path.string() + ":";
    for (const auto& e : errors) msg += "\n  " + e;
    throw config_error(msg);
  }
}

// ---- typed parsing ---------------------------------------------------------------

struct raw_value {
  std::string text;
  source from = source::default_value;
};

// Parses settings by key, collecting one error line per bad value.
class reader {
 public:
  explicit reader(std::map<std::string, raw_value> values) : values_(std::move(values)) {}

  const raw_value& raw(std::string_view key) const { return values_.at(std::string(key)); }
  bool is_set(std::string_view key) const { return !raw(key).text.empty(); }

  std::string text(std::string_view key) const { return raw(key).text; }

  template <class T>
  T integer(std::string_view key, T min, T max, T fallback) {
    const auto& v = raw(key);
    if (v.text.empty()) return fallback;
    long long n = 0;
    const auto* end = v.text.data() + v.text.size();
    auto [p, ec] = std::from_chars(v.text.data(), end, n);
    if (ec != std::errc() || p != end || n < static_cast<long long>(min) ||
        n > static_cast<long long>(max)) {
      fail(key, "'" + v.text + "' is not an integer in " + std::to_string(min) + ".." +
                    std::to_string(max));
      return fallback;
    }
    return static_cast<T>(n);
  }

  std::chrono::milliseconds millis(std::string_view key, std::chrono::milliseconds fallback) {
    return std::chrono::milliseconds(integer<long long>(key, 1, 3'600'000, fallback.count()));
  }

  double number(std::string_view key, double min, double max) {
    const auto& v = raw(key);
    if (v.text.empty()) return 0;
    double d = 0;
    const auto* end = v.text.data() + v.text.size();
    auto [p, ec] = std::from_chars(v.text.data(), end, d);
    if (ec != std::errc() || p != end || !std::isfinite(d) || d < min || d > max) {
      std::ostringstream range;
      range << min << ".." << max;
      fail(key, "'" + v.text + "' is not a number in " + range.str());
    }
    return d;
  }

  bool boolean(std::string_view key, bool fallback) {
    const auto& v = raw(key);
    std::string t;
    for (char c : v.text)
      t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (t.empty()) return fallback;
    if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "0" || t == "no" || t == "off") return false;
    fail(key, "'" + v.text + "' is not a boolean (true/false, 1/0, yes/no, on/off)");
    return fallback;
  }

  void fail(std::string_view key, const std::string& why) {
    const auto* d = find_def(key);
    const auto& v = raw(key);
    std::string where = std::string(to_string(v.from));
    if (v.from == source::environment && d) where = "environment variable " + env_name(*d);
    errors_.push_back(std::string(key) + " (from " + where + "): " + why);
  }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::map<std::string, raw_value> values_;
  std::vector<std::string> errors_;
};

void parse_listen(reader& r, gateway_config& c) {
  const auto text = r.text("server.listen");
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    r.fail("server.listen", "'" + text + "' is not address:port (e.g. 127.0.0.1:8080)");
    return;
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) {
    r.fail("server.listen", "'" + port_text + "' is not a port (0..65535)");
    return;
  }
  c.listen_host = host == "localhost" ? "127.0.0.1" : host;
  c.listen_port = static_cast<std::uint16_t>(port);
  boost::system::error_code ec2;
  (void)boost::asio::ip::make_address(c.listen_host, ec2);
  if (ec2) r.fail("server.listen", "'" + host + "' is not an IP address (or localhost)");
}

void parse_redis(reader& r, gateway_config& c, std::vector<setting_report>& reports) {
  auto note = [&](std::string_view key, std::string text) {
    for (auto& s : reports) {
      if (s.key == key) s.note = std::move(text);
    }
  };
  c.command_timeout = r.millis("redis.command_timeout_ms", c.command_timeout);
  c.connect_timeout = r.millis("redis.connect_timeout_ms", c.connect_timeout);
  c.health_check_interval = std::chrono::milliseconds(
      r.integer<long long>("redis.health_check_interval_ms", 0, 3'600'000, 2000));
  const auto connections = r.text("redis.connections");
  if (connections != "shared" && connections != "per_thread") {
    r.fail("redis.connections", "'" + connections + "' is not one of shared, per_thread");
  }
  c.connection_per_thread = connections == "per_thread";
  const int db = r.integer<int>("redis.db", 0, 1'000'000, 0);
  const auto port = r.integer<std::uint16_t>("redis.port", 1, 65535, 6379);
  // "host:port,host:port,..." of `key`; false (and the setting failed) on a bad item.
  auto endpoints = [&](std::string_view key, std::vector<endpoint>& out) {
    std::string_view bad;
    auto list = detail::parse_host_list(r.raw(key).text, std::nullopt, &bad);
    if (!list) {
      r.fail(key, "'" + std::string(bad) + "' is not host:port (IPv6: [address]:port)");
      return false;
    }
    out = std::move(*list);
    return true;
  };
  std::optional<client_config> cfg;
  if (r.is_set("redis.sentinels") && r.is_set("redis.cluster_nodes")) {
    r.fail("redis.cluster_nodes", "is set together with redis.sentinels: choose one");
    return;
  }
  if (r.is_set("redis.cluster_nodes")) {
    cfg.emplace();
    if (!endpoints("redis.cluster_nodes", cfg->cluster_nodes)) return;
    if (db != 0) {
      r.fail("redis.db", "must be 0 with redis.cluster_nodes: a cluster has only database 0");
      return;
    }
    for (auto key : {"redis.url", "redis.host", "redis.port"}) {
      if (r.is_set(key)) note(key, "ignored: redis.cluster_nodes is set");
    }
  } else if (r.is_set("redis.sentinels")) {
    cfg.emplace();
    if (!endpoints("redis.sentinels", cfg->sentinels)) return;
    if (!r.is_set("redis.sentinel_master")) {
      r.fail("redis.sentinels", "needs redis.sentinel_master (REDIS_SENTINEL_MASTER)");
      return;
    }
    cfg->sentinel_master = r.text("redis.sentinel_master");
    cfg->sentinel_password = r.text("redis.sentinel_password");
    for (auto key : {"redis.url", "redis.host", "redis.port"}) {
      if (r.is_set(key)) note(key, "ignored: redis.sentinels is set");
    }
  } else if (r.is_set("redis.url")) {
    auto parsed = parse_url(r.text("redis.url"));
    if (!parsed) {
      r.fail("redis.url",
             "not a redis://, rediss://, unix://, redis-sentinel:// or redis-cluster:// URL");
      return;
    }
    cfg = std::move(*parsed);
    if (r.is_set("redis.host")) note("redis.host", "ignored: redis.url is set");
    if (r.is_set("redis.port")) note("redis.port", "ignored: redis.url is set");
  } else if (r.is_set("redis.host") || r.is_set("redis.port")) {
    cfg.emplace();
    if (r.is_set("redis.host")) cfg->server.host = r.text("redis.host");
    cfg->server.port = port;
  }
  if (!cfg) {
    // The embedded default. Credentials, if given, protect it too.
    c.embedded_password = r.text("redis.password");
    if (r.is_set("redis.username")) note("redis.username", "ignored: the embedded Redis");
    if (r.is_set("redis.db")) c.cache.redis.db = db;
    return;
  }
  if (r.is_set("redis.username")) cfg->username = r.text("redis.username");
  if (r.is_set("redis.password")) cfg->password = r.text("redis.password");
  if (r.is_set("redis.db")) cfg->db = db;
  c.redis = std::move(cfg);
}

}  // namespace

std::string_view to_string(source s) noexcept {
  switch (s) {
    case source::default_value:
      return "default";
    case source::file:
      return "file";
    case source::environment:
      return "environment";
    case source::flag:
      return "flag";
  }
  return "?";
}

std::vector<std::string_view> setting_keys() {
  std::vector<std::string_view> out;
  for (const auto& d : settings_table) out.push_back(d.key);
  return out;
}

std::map<std::string, std::string, std::less<>> environment_map() {
  std::map<std::string, std::string, std::less<>> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos) out.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return out;
}

loaded_config load_config(const config_sources& sources) {
  std::map<std::string, raw_value> values;
  for (const auto& d : settings_table) values[std::string(d.key)] = {std::string(d.default_value)};

  if (sources.file) {
    std::map<std::string, std::string> file_values;
    read_file(*sources.file, file_values);
    for (auto& [k, v] : file_values) {
      if (!v.empty()) values[k] = {std::move(v), source::file};
    }
  }
  for (const auto& d : settings_table) {
    // An empty variable (FOO=) counts as unset, as shells and compose files mean it.
    if (auto it = sources.env.find(env_name(d)); it != sources.env.end() && !it->second.empty()) {
      values[std::string(d.key)] = {it->second, source::environment};
    }
  }
  std::vector<std::string> flag_errors;
  for (const auto& [k, v] : sources.flags) {
    if (!find_def(k)) {
      flag_errors.push_back("unknown setting '" + k + "' (see rcache config check)");
      continue;
    }
    if (!v.empty()) values[k] = {v, source::flag};
  }

  loaded_config out;
  for (const auto& d : settings_table) {
    const auto& v = values[std::string(d.key)];
    setting_report rep;
    rep.key = std::string(d.key);
    rep.env = env_name(d);
    rep.value = d.secret && !v.text.empty() ? "***" : v.text;
    if (d.key == "redis.url" && !v.text.empty()) {
      if (auto parsed = parse_url(v.text))
        rep.value = redacted_url(*parsed);
      else
        rep.value = "(invalid URL, not shown)";
    }
    rep.from = v.from;
    rep.secret = d.secret;
    rep.not_built = d.not_built;
    out.settings.push_back(std::move(rep));
  }

  reader r(std::move(values));
  auto& c = out.config;
  parse_listen(r, c);
  const auto threads = r.integer<unsigned>("server.threads", 0, 256, 0);
  c.threads = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
  c.max_connections = r.integer<std::size_t>("server.max_connections", 1, 1'000'000, 0);
  c.max_body_bytes = r.integer<std::size_t>("server.max_body_bytes", 1, 1u << 30, 0);
  c.max_header_bytes = r.integer<std::size_t>("server.max_header_bytes", 1024, 1u << 20, 0);
  c.read_timeout = r.millis("server.read_timeout_ms", c.read_timeout);
  c.idle_timeout = r.millis("server.idle_timeout_ms", c.idle_timeout);
  c.write_timeout = r.millis("server.write_timeout_ms", c.write_timeout);
  c.shutdown_timeout = r.millis("server.shutdown_timeout_ms", c.shutdown_timeout);
  c.max_namespaces = r.integer<std::size_t>("server.max_namespaces", 1, 9000, 0);
  c.max_batch_keys = r.integer<std::size_t>("server.max_batch_keys", 1, 100'000, 0);
  c.max_response_bytes =
      r.integer<std::size_t>("server.max_response_bytes", 1024, std::size_t{1} << 32, 0);

  parse_redis(r, c, out.settings);
  c.data_dir = r.text("embedded.dir");
  if (c.data_dir.empty()) r.fail("embedded.dir", "must not be empty");
  c.redis_executable = r.text("embedded.executable");
  if (c.redis_executable.empty()) r.fail("embedded.executable", "must not be empty");

  auto& k = c.cache;
  k.default_ttl =
      std::chrono::seconds(r.integer<long long>("cache.default_ttl", 0, 10LL * 365 * 86400, 3600));
  (void)r.integer<long long>("cache.max_keys", 1, 1LL << 40, 0);
  k.compression = r.boolean("cache.compression", false);
  k.compression_threshold =
      r.integer<std::size_t>("cache.compression_threshold", 1, 1u << 30, 1024);
  k.max_value_size = r.integer<std::size_t>("cache.max_value_bytes", 1, 512u << 20, 0);
  k.near_cache = r.boolean("cache.near_cache", true);
  k.near_cache_max_bytes =
      r.integer<std::size_t>("cache.near_cache_max_bytes", 4096, std::size_t{1} << 40, 0);
  k.near_cache_max_ttl =
      std::chrono::seconds(r.integer<long long>("cache.near_cache_max_ttl", 1, 86400, 300));
  k.encryption_keys = r.text("cache.encryption_keys");
  (void)r.boolean("cache.warming", false);
  c.monitoring = r.boolean("monitoring.enabled", true);
  (void)r.number("alerts.memory_mb", 1, 1e9);
  (void)r.number("alerts.cpu_percent", 0, 100);
  (void)r.number("alerts.hit_rate_percent", 0, 100);
  c.log_level = r.text("log.level");
  static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(std::begin(levels), std::end(levels), c.log_level) == std::end(levels)) {
    r.fail("log.level", "'" + c.log_level + "' is not one of trace, debug, info, warn, error, off");
  }
  c.access_log = r.boolean("log.access", true);

  auto errors = flag_errors;
  errors.insert(errors.end(), r.errors().begin(), r.errors().end());
  if (!errors.empty()) {
    std::string msg = "invalid configuration:";
    for (const auto& e : errors) msg += "\n  " + e;
    throw config_error(msg);
  }
  if (c.redis) {
    // A timeout given in redis.url (timeout_ms, connect_timeout_ms) holds
    // unless the setting is given too; otherwise the settings apply.
    auto given = [&](std::string_view key) { return r.raw(key).from != source::default_value; };
    // The URL counts when it is what the connection came from (redis.sentinels
    // and redis.cluster_nodes win over it). Its options are in the query:
    // before any '#' (a fragment names a Sentinel master), the text after the
    // first '?' (userinfo cannot hold one unencoded), keys decoded as
    // parse_url decodes them.
    const bool from_url = !r.is_set("redis.sentinels") && !r.is_set("redis.cluster_nodes");
    const auto url_text = from_url ? r.text("redis.url") : std::string();
    auto in_url = [&](std::string_view option) {
      const auto url = std::string_view(url_text).substr(0, url_text.find('#'));
      const auto q = url.find('?');
      if (q == std::string_view::npos) return false;
      const auto params = boost::urls::parse_query(url.substr(q + 1));
      if (!params) return false;
      return std::any_of(params->begin(), params->end(),
                         [&](const auto& p) { return p.key.decode() == option; });
    };
    if (!in_url("timeout_ms") || given("redis.command_timeout_ms")) {
      c.redis->command_timeout = c.command_timeout;
    }
    if (!in_url("connect_timeout_ms") || given("redis.connect_timeout_ms")) {
      c.redis->connect_timeout = c.connect_timeout;
    }
    c.redis->health_check_interval = c.health_check_interval;
  }
  return out;
}

std::vector<const setting_report*> loaded_config::unbuilt() const {
  std::vector<const setting_report*> out;
  for (const auto& s : settings) {
    if (!s.not_built.empty() && s.from != source::default_value) out.push_back(&s);
  }
  return out;
}

std::vector<std::string> loaded_config::warnings() const {
  std::vector<std::string> out;
  for (const auto* s : unbuilt()) {
    out.push_back(s->key + " (" + s->env + ") is accepted but has no effect yet: " +
                  std::string(s->not_built) + " is not built");
  }
  for (const auto& s : settings) {
    if (!s.note.empty()) out.push_back(s.key + " " + s.note);
  }
  return out;
}

std::string describe_target(const client_config& cfg) {
  auto list = [](const std::vector<endpoint>& nodes) {
    std::string out;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      out += (i ? "," : "") + nodes[i].host + ":" + std::to_string(nodes[i].port);
    }
    return out;
  };
  if (!cfg.cluster_nodes.empty()) return "cluster via " + list(cfg.cluster_nodes);
  if (!cfg.sentinels.empty())
    return "sentinel " + cfg.sentinel_master + " via " + list(cfg.sentinels);
  return redacted_url(cfg);
}

std::string describe(const loaded_config& loaded) {
  // Numbers and booleans print bare, everything else quoted; the reader
  // takes either form, so the output loads back as it was.
  auto toml_value = [](const std::string& v) {
    const bool bare =
        v == "true" || v == "false" || (!v.empty() && std::all_of(v.begin(), v.end(), [](char ch) {
          return std::isdigit(static_cast<unsigned char>(ch)) != 0;
        }));
    if (bare) return v;
    std::string q = "\"";
    for (char ch : v) {
      if (ch == '"' || ch == '\\') q.push_back('\\');
      q.push_back(ch);
    }
    return q + "\"";
  };
  std::ostringstream out;
  out << "# rcache effective configuration: flags > environment > file > defaults.\n"
      << "# Secrets are shown as \"***\".\n";
  std::string section;
  for (const auto& s : loaded.settings) {
    const auto dot = s.key.find('.');
    const auto sec = s.key.substr(0, dot);
    if (sec != section) {
      out << "\n[" << sec << "]\n";
      section = sec;
    }
    const auto* d = find_def(s.key);
    std::string line = s.key.substr(dot + 1) + " = " + toml_value(s.value);
    if (s.value.empty()) line = "# " + line;  // unset
    out << line;
    out << std::string(line.size() < 44 ? 44 - line.size() : 1, ' ') << "# ";
    out << (s.from == source::environment ? "environment " + s.env
                                          : std::string(to_string(s.from)));
    out << "; " << d->help;
    if (!s.not_built.empty()) out << "; NOT BUILT YET (" << s.not_built << "): no effect";
    if (!s.note.empty()) out << "; " << s.note;
    out << "\n";
  }
  const auto& c = loaded.config;
  out << "\n# Redis: "
      << (c.redis ? describe_target(*c.redis)
                  : "embedded redis-server in " + c.data_dir.string() + " (unix socket, AOF on)")
      << "\n# threads: " << c.threads << "\n";
  return out.str();
}

}  // namespace rcache::server
