// "host:port" in every form rcache reads one: configurations (URL host
// lists, sentinel and cluster seeds: IPv6 in brackets, a default port),
// the gateway's listen address (port 0 for any free port), and what Redis
// writes (MOVED / ASK targets and CLUSTER SHARDS addresses: IPv6 with or
// without brackets, "MOVED 1 :7000" for the same host). One parser, told
// the form; nothing else in rcache splits a host from a port.
//
// Threading: pure functions.
#pragma once

#include <rcache/config.hpp>

#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace rcache::detail {

/// What a form of host:port allows.
struct host_port_form {
  /// The port of a text without one; nullopt: a port is required.
  std::optional<std::uint16_t> default_port{};
  /// Port 0 is a valid port (a listener's "any free port").
  bool port_zero = false;
  /// An IPv6 host may come without brackets ("::1:7000", as Redis writes
  /// it): the port is what follows the last ':'. Otherwise a host with a
  /// ':' must be in brackets ("[::1]:7000").
  bool bare_ipv6 = false;
  /// The host may be empty (":7000").
  bool empty_host = false;
};

/// Why a text is not host:port in its form: the host part (empty, an
/// unbracketed IPv6 address, unbalanced brackets) or the port part (absent
/// without a default, not decimal, out of range), and that part of the
/// text (a view into it; empty when the port is absent).
struct host_port_fault {
  enum class part : std::uint8_t { host, port };
  part where = part::host;
  std::string_view text{};
};

/// A TCP port in decimal, nothing else around it: 1..65535, or 0..65535
/// with `zero`.
[[nodiscard]] std::optional<std::uint16_t> parse_port(std::string_view text, bool zero = false);

/// The endpoint `text` names in `form` (brackets removed from an IPv6 host).
[[nodiscard]] boost::system::result<endpoint, host_port_fault> parse_host_port(
    std::string_view text, const host_port_form& form);

/// "item,item,..." of configuration items (brackets for IPv6, a missing
/// port is `default_port`; a trailing comma is allowed): the endpoints, or
/// nullopt with the first bad item in `*bad` when given.
[[nodiscard]] std::optional<std::vector<endpoint>> parse_host_list(
    std::string_view list, std::optional<std::uint16_t> default_port,
    std::string_view* bad = nullptr);

}  // namespace rcache::detail
