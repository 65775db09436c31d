// "host[:port]" as configurations write it: a name, an IPv4 address, or an
// IPv6 address in brackets ("[::1]:26379"); the port 1..65535. One parser
// for the URL forms' host lists, the gateway's host-list settings and the
// ports the sentinels give.
//
// Threading: pure functions.
#pragma once

#include <rcache/config.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace rcache::detail {

/// A TCP port in decimal (1..65535), nothing else around it.
[[nodiscard]] inline std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(port);
}

/// The endpoint `item` names; a missing port is `default_port`, or an error
/// when that is nullopt. nullopt for an empty host, an IPv6 address without
/// brackets, or a port that is not 1..65535.
[[nodiscard]] std::optional<endpoint> parse_host_port(std::string_view item,
                                                      std::optional<std::uint16_t> default_port);

/// "item,item,..." of parse_host_port items (a trailing comma is allowed):
/// the endpoints, or nullopt with the first bad item in `*bad` when given.
[[nodiscard]] std::optional<std::vector<endpoint>> parse_host_list(
    std::string_view list, std::optional<std::uint16_t> default_port,
    std::string_view* bad = nullptr);

}  // namespace rcache::detail
