// Loading the gateway's configuration: the merge of defaults, TOML file,
// environment and flags; each value parsed by its row of the settings table
// (settings.hpp); the combined checks of the Redis target. See config.hpp
// for the contract.
#include "server/config.hpp"

#include <rcache/config.hpp>

#include <algorithm>
#include <boost/url/parse_query.hpp>
#include <cctype>
#include <sstream>
#include <toml++/toml.h>

#include "address/host_port.hpp"
#include "server/settings.hpp"

extern char** environ;

namespace rcache::server {
namespace {

using namespace std::string_view_literals;

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
    if (table && std::none_of(settings_table().begin(), settings_table().end(),
                              [&](const setting& d) { return d.key.starts_with(prefix); })) {
      errors.push_back("unknown section [" + std::string(section.str()) + "]");
      continue;
    }
    if (!table) {
      errors.push_back("'" + std::string(section.str()) + "' must be a table such as [server]");
      continue;
    }
    for (auto&& [name, leaf] : *table) {
      const std::string key = std::string(section.str()) + "." + std::string(name.str());
      if (!find_setting(key)) {
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

// The merged values, each parsed by its row of the table as it is stored;
// one error line per bad value.
class reader {
 public:
  explicit reader(std::map<std::string, raw_value> values) : raw_(std::move(values)) {
    for (const auto& s : settings_table()) {
      auto& v = parsed_[s.key];
      const auto& text = raw_.at(std::string(s.key)).text;
      if (text.empty()) continue;
      if (auto why = parse_setting(s, text, v)) {
        fail(s.key, *why);
        v = {};
      }
    }
  }

  const raw_value& raw(std::string_view key) const { return raw_.at(std::string(key)); }
  bool is_set(std::string_view key) const { return !raw(key).text.empty(); }
  std::string text(std::string_view key) const { return raw(key).text; }
  /// The parsed value; `set` is false when unset or invalid.
  const setting_value& value(std::string_view key) const { return parsed_.at(key); }
  bool valid(std::string_view key) const { return value(key).set; }

  void fail(std::string_view key, const std::string& why) {
    const auto* d = find_setting(key);
    const auto& v = raw(key);
    std::string where = std::string(to_string(v.from));
    if (v.from == source::environment && d) where = "environment variable " + env_name(*d);
    errors_.push_back(std::string(key) + " (from " + where + "): " + why);
  }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::map<std::string, raw_value> raw_;
  std::map<std::string_view, setting_value> parsed_;
  std::vector<std::string> errors_;
};

// Settings parsed past what a row's type says.
void parse_combined(reader& r, gateway_config& c) {
  auto proxies = trusted_proxies::parse(r.text("server.trusted_proxies"));
  if (auto* why = std::get_if<std::string>(&proxies)) {
    r.fail("server.trusted_proxies", *why);
  } else {
    c.trusted = std::move(std::get<trusted_proxies>(proxies));
  }
  // A brace would make the keys' hash tag instead of the user's bucket.
  if (c.sessions.prefix.find_first_of("{}") != std::string::npos) {
    r.fail("sessions.prefix", "'" + c.sessions.prefix + "' may not contain '{' or '}'");
  }
  // The change log's streams carry their own hash tags.
  if (c.feed.log.prefix.find_first_of("{}") != std::string::npos) {
    r.fail("feed.prefix", "'" + c.feed.log.prefix + "' may not contain '{' or '}'");
  }
}

void parse_redis(reader& r, gateway_config& c, std::vector<setting_report>& reports) {
  auto note = [&](std::string_view key, std::string text) {
    for (auto& s : reports) {
      if (s.key == key) s.note = std::move(text);
    }
  };
  const int db = static_cast<int>(r.value("redis.db").integer);
  constexpr std::uint16_t default_port = 6379;  // when only the host is given
  const auto port = r.valid("redis.port")
                        ? static_cast<std::uint16_t>(r.value("redis.port").integer)
                        : default_port;
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
      r.fail("redis.url", describe_url_error(r.text("redis.url")));
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
  for (const auto& d : settings_table()) out.push_back(d.key);
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
  for (const auto& d : settings_table())
    values[std::string(d.key)] = {std::string(d.default_value)};

  if (sources.file) {
    std::map<std::string, std::string> file_values;
    read_file(*sources.file, file_values);
    for (auto& [k, v] : file_values) {
      if (!v.empty()) values[k] = {std::move(v), source::file};
    }
  }
  for (const auto& d : settings_table()) {
    // An empty variable (FOO=) counts as unset, as shells and compose files mean it.
    if (auto it = sources.env.find(env_name(d)); it != sources.env.end() && !it->second.empty()) {
      values[std::string(d.key)] = {it->second, source::environment};
    }
  }
  std::vector<std::string> flag_errors;
  for (const auto& [k, v] : sources.flags) {
    if (!find_setting(k)) {
      flag_errors.push_back("unknown setting '" + k + "' (see rcache config check)");
      continue;
    }
    if (!v.empty()) values[k] = {v, source::flag};
  }

  loaded_config out;
  for (const auto& d : settings_table()) {
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
  for (const auto& s : settings_table()) {
    if (s.apply && r.valid(s.key)) s.apply(c, r.value(s.key));
  }
  parse_redis(r, c, out.settings);
  parse_combined(r, c);

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
    const auto* d = find_setting(s.key);
    std::string line = s.key.substr(dot + 1) + " = " + toml_value(s.value);
    if (s.value.empty()) line = "# " + line;  // unset
    out << line;
    out << std::string(line.size() < 44 ? 44 - line.size() : 1, ' ') << "# ";
    out << (s.from == source::environment ? "environment " + s.env
                                          : std::string(to_string(s.from)));
    out << "; " << d->help;
    if (auto values = describe_values(*d); !values.empty()) {
      std::erase(values, '`');  // markdown quoting, for docs/configuration.md
      out << " [" << values << "]";
    }
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
