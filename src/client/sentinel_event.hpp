// The +switch-master event a sentinel publishes when a failover ends:
// "<master name> <old ip> <old port> <new ip> <new port>".
//
// Threading: a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "address/host_port.hpp"

namespace rcache::detail {

/// An address as the sentinels give it: ip and port.
using sentinel_address = std::pair<std::string, std::uint16_t>;

/// Whether the +switch-master `payload` moves master `name` away from
/// `current`, the master we use (nullopt: we are not on the master, so any
/// switch of it counts). A switch of another master does not count; a
/// switch to `current` does not either (we are already there: reconnecting
/// would only drop a good connection). An event about our master that
/// cannot be read counts: reconnecting is the safe side.
[[nodiscard]] inline bool switch_leaves(std::string_view payload, std::string_view name,
                                        const std::optional<sentinel_address>& current) {
  if (!payload.starts_with(name)) return false;
  std::string_view rest = payload.substr(name.size());
  if (!rest.empty() && rest.front() != ' ') return false;  // another name that starts with ours
  if (!rest.empty()) rest.remove_prefix(1);
  std::string_view words[4];
  for (auto& w : words) {
    const auto space = rest.find(' ');
    w = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  const auto port = parse_port(words[3]);
  if (!rest.empty() || words[2].empty() || !port || !current) return true;
  return words[2] != current->first || *port != current->second;
}

}  // namespace rcache::detail
