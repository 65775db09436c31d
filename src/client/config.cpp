// Redis URL parsing (redis://, rediss://, unix://) and redaction, on
// Boost.URL: the URL grammar, percent-decoding of user / password, and the
// query string are Boost's; the mapping onto client_config is ours.
#include <rcache/config.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <charconv>

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

std::string endpoint::to_string() const {
  if (kind == transport::unix_socket) return "unix:" + path;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + (tls ? " (tls)" : "");
}

result<client_config> parse_url(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return make_error_code(error::invalid_url);
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
      std::uint16_t port = 0;
      if (!parse_int(u.port(), port) || port == 0) return make_error_code(error::invalid_url);
      cfg.server.port = port;
    }
    // The path is "/<db>" or empty.
    std::string path = u.path();
    if (!path.empty() && path != "/") {
      if (!parse_int(std::string_view(path).substr(1), cfg.db) || cfg.db < 0) {
        return make_error_code(error::invalid_url);
      }
    }
  } else if (scheme == "unix") {
    cfg.server.kind = endpoint::transport::unix_socket;
    cfg.server.path = u.path();
    if (cfg.server.path.empty()) return make_error_code(error::invalid_url);
  } else {
    return make_error_code(error::invalid_url);
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
    } else {
      ok = false;  // an unknown option is a typo, not something to ignore
    }
    if (!ok) return make_error_code(error::invalid_url);
  }
  return cfg;
}

std::string redacted_url(const client_config& cfg) {
  std::string out;
  const auto& ep = cfg.server;
  const bool unix_socket = ep.kind == endpoint::transport::unix_socket;
  out = unix_socket ? "unix://" : (ep.tls ? "rediss://" : "redis://");
  if (!cfg.username.empty() || !cfg.password.empty()) {
    out += cfg.username;
    if (!cfg.password.empty()) out += ":***";
    out += "@";
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
