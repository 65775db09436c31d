// "host[:port]" as configurations write it: a name, an IPv4 address, or an
// IPv6 address in brackets ("[::1]:26379"); the port 1..65535. One parser
// for the URL forms' host lists and the gateway's host-list settings.
//
// Threading: a pure function.
#pragma once

#include <rcache/config.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace rcache::detail {

/// The endpoint `item` names; a missing port is `default_port`, or an error
/// when that is nullopt. nullopt for an empty host, an IPv6 address without
/// brackets, or a port that is not 1..65535.
[[nodiscard]] std::optional<endpoint> parse_host_port(std::string_view item,
                                                      std::optional<std::uint16_t> default_port);

}  // namespace rcache::detail
