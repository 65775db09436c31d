// Direct writes through keyspace notifications; see keyspace.hpp.
#include "feed/keyspace.hpp"

#include <array>

namespace rcache::feed {

keyspace_verdict judge_keyspace_events(std::optional<std::string_view> flags,
                                       std::string_view error) {
  const std::string fix =
      "; to see them: CONFIG SET notify-keyspace-events " + std::string(keyspace_flags);
  if (!flags) {
    return {false, "cannot read notify-keyspace-events (" + std::string(error) +
                       "): writes made straight into Redis may not reach feed subscribers" + fix};
  }
  const auto has = [&](char c) { return flags->find(c) != std::string_view::npos; };
  // 'A' is "g$lshzxetd" (and m, n are separate): it covers g, $ and x.
  const bool all = has('A');
  std::string missing;
  for (char c : std::string_view("Kg$x")) {
    if (c == 'K' ? !has('K') : !(all || has(c))) missing.push_back(c);
  }
  const std::string shown = "notify-keyspace-events is '" + std::string(*flags) + "'";
  if (missing.empty()) {
    return {true, shown +
                      ": writes made straight into Redis reach feed subscribers (without "
                      "a position: one made while the gateway's connection is down is lost)"};
  }
  return {false, shown + ", without '" + missing +
                     "': writes made straight into Redis do not reach feed subscribers (writes "
                     "through rcache do)" +
                     fix};
}

std::optional<std::string_view> keyspace_key(std::string_view channel) noexcept {
  constexpr std::string_view head = "__keyspace@";
  if (!channel.starts_with(head)) return std::nullopt;
  const auto end = channel.find("__:", head.size());
  if (end == std::string_view::npos || end == head.size()) return std::nullopt;
  for (auto c : channel.substr(head.size(), end - head.size())) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return channel.substr(end + 3);
}

std::optional<write_event::kind> keyspace_op(std::string_view event) noexcept {
  static constexpr std::array<std::string_view, 5> deleted = {"del", "unlink", "expired", "evicted",
                                                              "rename_from"};
  for (auto e : deleted) {
    if (event == e) return write_event::kind::del;
  }
  if (event == "expire" || event == "persist") return write_event::kind::expire;
  // Events that change no value: a key created for a later write (new),
  // moves between databases, and what a subscriber of values cannot use.
  if (event == "new" || event == "move_from" || event == "move_to" || event == "rename_to" ||
      event.empty()) {
    return event == "rename_to" ? std::optional(write_event::kind::set) : std::nullopt;
  }
  return write_event::kind::set;
}

}  // namespace rcache::feed
