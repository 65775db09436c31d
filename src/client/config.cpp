// Redis URL parsing (redis://, rediss://, unix://, and the multi-host
// redis-sentinel:// and redis-cluster:// forms) and redaction, on
// Boost.URL: the URL grammar, percent-decoding of user / password, and the
// query string are Boost's; the mapping onto client_config is ours.
#include <rcache/config.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <charconv>
#include <functional>
#include <optional>
#include <vector>

#include "address/host_port.hpp"

namespace rcache {
namespace {

template <class Int>
bool parse_int(std::string_view s, Int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_bool(std::string_view s, bool& out) {
  if (s == "true" || s == "1" || s == "yes") return out = true, true;
  if (s == "false" || s == "0" || s == "no") return out = false, true;
  return false;
}

}  // namespace

std::string_view to_string(connection_event::kind k) noexcept {
  switch (k) {
    case connection_event::kind::connected:
      return "connected";
    case connection_event::kind::lost:
      return "lost";
    case connection_event::kind::connect_failed:
      return "connect_failed";
    case connection_event::kind::auth_failed:
      return "auth_failed";
    case connection_event::kind::reconnected:
      return "reconnected";
    case connection_event::kind::topology_changed:
      return "topology_changed";
  }
  return "unknown";
}

std::string endpoint::to_string() const {
  if (kind == transport::unix_socket) return "unix:" + path;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + (tls ? " (tls)" : "");
}

namespace {

// Options a multi-host form adds to the query (master=, sentinel_password=).
using extra_option =
    std::function<bool(std::string_view key, std::string_view value, client_config& cfg, bool& ok)>;

// Where a parse says what went wrong (never quoting credentials).
struct diagnosis {
  std::string text;
  boost::system::error_code operator()(std::string what) {
    text = std::move(what);
    return make_error_code(error::invalid_url);
  }
};

std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

const char* const known_options =
    "db, client_name, username, password, connect_timeout_ms, timeout_ms, ca_file, cert_file, "
    "key_file, server_name, verify";

result<client_config> parse_single(std::string_view text, const extra_option& extra,
                                   diagnosis& fail) {
  if (text.find("://") == std::string_view::npos) {
    return fail(
        "no scheme: expected redis://, rediss://, unix://, redis-sentinel:// or "
        "redis-cluster://");
  }
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    return fail("not a URL (" + parsed.error().message() +
                "); characters such as @ : / ? # in a password must be percent-encoded");
  }
  const auto& u = *parsed;
  client_config cfg;
  const auto scheme = u.scheme();
  if (scheme == "redis" || scheme == "rediss") {
    cfg.server.kind = endpoint::transport::tcp;
    cfg.server.tls = scheme == "rediss";
    if (u.host_type() == boost::urls::host_type::ipv6) {
      cfg.server.host = u.host_address();
    } else {
      cfg.server.host = u.host();  // decoded
    }
    if (cfg.server.host.empty()) cfg.server.host = "127.0.0.1";
    if (u.has_port()) {
      const auto port = detail::parse_port(u.port());
      if (!port) return fail("port " + quoted(u.port()) + " is not a number from 1 to 65535");
      cfg.server.port = *port;
    }
    // The path is "/<db>" or empty.
    std::string path = u.path();
    if (!path.empty() && path != "/") {
      if (!parse_int(std::string_view(path).substr(1), cfg.db) || cfg.db < 0) {
        return fail("path " + quoted(path) + " is not /<database number>");
      }
    }
  } else if (scheme == "unix") {
    cfg.server.kind = endpoint::transport::unix_socket;
    cfg.server.path = u.path();
    if (cfg.server.path.empty()) return fail("unix:// needs a socket path (unix:///path/to.sock)");
  } else {
    return fail("unknown scheme " + quoted(scheme) +
                ": expected redis, rediss, unix, redis-sentinel or redis-cluster");
  }
  if (u.has_userinfo()) {
    cfg.username = u.user();
    cfg.password = u.password();
  }
  for (auto param : u.params()) {
    const std::string_view k = param.key;
    const std::string_view v = param.value;
    bool ok = true;
    if (k == "db") {
      ok = parse_int(v, cfg.db) && cfg.db >= 0;
    } else if (k == "client_name") {
      cfg.client_name = v;
    } else if (k == "password") {
      cfg.password = v;
    } else if (k == "username" || k == "user") {
      cfg.username = v;
    } else if (k == "connect_timeout_ms") {
      long ms = 0;
      ok = parse_int(v, ms) && ms > 0;
      cfg.connect_timeout = std::chrono::milliseconds(ms);
    } else if (k == "timeout_ms") {
      long ms = 0;
      ok = parse_int(v, ms) && ms > 0;
      cfg.command_timeout = std::chrono::milliseconds(ms);
    } else if (k == "ca_file") {
      cfg.tls.ca_file = v;
    } else if (k == "cert_file") {
      cfg.tls.cert_file = v;
    } else if (k == "key_file") {
      cfg.tls.key_file = v;
    } else if (k == "server_name") {
      cfg.tls.server_name = v;
    } else if (k == "verify") {
      ok = parse_bool(v, cfg.tls.verify_peer);
    } else if (extra && extra(k, v, cfg, ok)) {
      // handled by the multi-host form
    } else {
      // An unknown option is a typo, not something to ignore.
      return fail("unknown option " + quoted(k) + " in the query (known: " + known_options +
                  (extra ? ", and master, sentinel_username, sentinel_password, prefer_replica "
                           "for Sentinel)"
                         : ")"));
    }
    if (!ok) {
      const bool secret = k == "password" || k == "sentinel_password";
      return fail("option " + quoted(k) + " has an invalid value" +
                  (secret ? std::string() : " " + quoted(v)));
    }
  }
  return cfg;
}

// redis-sentinel:// and redis-cluster:// (and their rediss- TLS forms): the
// authority holds a comma-separated host list, which Boost.URL does not
// parse; the URL is read as redis:// with the first host, then the list is
// put in place.
result<client_config> parse_multi_host(std::string_view text, std::string_view scheme,
                                       diagnosis& fail) {
  const bool sentinel = scheme.ends_with("-sentinel");
  const bool tls = scheme.starts_with("rediss");
  auto rest = text.substr(scheme.size() + 3);  // after "://"
  std::string fragment;
  if (auto hash = rest.find('#'); hash != std::string_view::npos) {
    fragment = std::string(rest.substr(hash + 1));
    rest = rest.substr(0, hash);
  }
  const auto end = rest.find_first_of("/?");
  auto authority = rest.substr(0, end);
  const auto tail = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  std::string_view userinfo;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    userinfo = authority.substr(0, at + 1);
    authority = authority.substr(at + 1);
    // Credentials come once, before the list ("h1,user@h2" is a typo).
    if (userinfo.find(',') != std::string_view::npos) {
      return fail("credentials must come once, before the host list (user:password@h1,h2)");
    }
  }
  auto list =
      detail::parse_host_list(authority, sentinel ? std::uint16_t{26379} : std::uint16_t{6379});
  if (!list || list->empty()) {
    return fail("host list " + quoted(authority) + " is not host[:port][,host[:port]...]");
  }
  auto& hosts = *list;
  const auto first = hosts.front().host.find(':') != std::string::npos
                         ? "[" + hosts.front().host + "]"
                         : hosts.front().host;
  std::string single = std::string(tls ? "rediss://" : "redis://") + std::string(userinfo) + first +
                       ":" + std::to_string(hosts.front().port) + std::string(tail);
  auto cfg = parse_single(
      single,
      [sentinel](std::string_view k, std::string_view v, client_config& c, bool& ok) {
        if (!sentinel) return false;
        if (k == "master" || k == "master_name") {
          c.sentinel_master = v;
        } else if (k == "sentinel_password") {
          c.sentinel_password = v;
        } else if (k == "sentinel_username") {
          c.sentinel_username = v;
        } else if (k == "prefer_replica") {
          ok = parse_bool(v, c.sentinel_prefer_replica);
        } else {
          return false;
        }
        return true;
      },
      fail);
  if (!cfg) return cfg.error();
  for (auto& h : hosts) h.tls = tls;
  if (sentinel) {
    if (!fragment.empty()) cfg->sentinel_master = fragment;
    if (cfg->sentinel_master.empty()) {
      return fail("no master name: add ?master=NAME or #NAME");
    }
    cfg->sentinels = std::move(hosts);
  } else {
    if (!fragment.empty()) return fail("a cluster URL has no #fragment");
    if (cfg->db != 0) return fail("Redis Cluster has only database 0");
    cfg->cluster_nodes = std::move(hosts);
  }
  return cfg;
}

}  // namespace

namespace {
result<client_config> parse(std::string_view text, diagnosis& fail) {
  if (text.empty()) return fail("empty URL");
  for (std::string_view scheme :
       {"redis-sentinel", "rediss-sentinel", "redis-cluster", "rediss-cluster"}) {
    if (text.size() > scheme.size() + 3 && text.starts_with(scheme) &&
        text.substr(scheme.size(), 3) == "://") {
      return parse_multi_host(text, scheme, fail);
    }
  }
  return parse_single(text, nullptr, fail);
}
}  // namespace

result<client_config> parse_url(std::string_view text) {
  diagnosis fail;
  return parse(text, fail);
}

std::string describe_url_error(std::string_view url) {
  diagnosis fail;
  if (parse(url, fail)) return {};
  return fail.text;
}

std::string redacted_url(const client_config& cfg) {
  std::string out;
  const auto& ep = cfg.server;
  const bool unix_socket = ep.kind == endpoint::transport::unix_socket;
  const bool multi = !cfg.cluster_nodes.empty() || !cfg.sentinels.empty();
  out = unix_socket ? "unix://" : (ep.tls ? "rediss" : "redis");
  if (!unix_socket) {
    out += !cfg.cluster_nodes.empty() ? "-cluster://"
           : !cfg.sentinels.empty()   ? "-sentinel://"
                                      : "://";
  }
  if (!cfg.username.empty() || !cfg.password.empty()) {
    out += cfg.username;
    if (!cfg.password.empty()) out += ":***";
    out += "@";
  }
  if (multi) {
    const auto& hosts = cfg.cluster_nodes.empty() ? cfg.sentinels : cfg.cluster_nodes;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      const bool v6 = hosts[i].host.find(':') != std::string::npos;
      out += (i ? "," : "") + (v6 ? "[" + hosts[i].host + "]" : hosts[i].host) + ":" +
             std::to_string(hosts[i].port);
    }
    if (cfg.db != 0) out += "/" + std::to_string(cfg.db);
    if (!cfg.sentinels.empty() && cfg.cluster_nodes.empty()) {
      out += "?master=" + cfg.sentinel_master;
      if (!cfg.sentinel_password.empty()) out += "&sentinel_password=***";
    }
    return out;
  }
  if (unix_socket) {
    out += ep.path;
    if (cfg.db != 0) out += "?db=" + std::to_string(cfg.db);
  } else {
    const bool v6 = ep.host.find(':') != std::string::npos;
    out += (v6 ? "[" + ep.host + "]" : ep.host) + ":" + std::to_string(ep.port);
    if (cfg.db != 0) out += "/" + std::to_string(cfg.db);
  }
  return out;
}

}  // namespace rcache
