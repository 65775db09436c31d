// The subscriptions of a client's subscribers, without I/O: which channels,
// patterns and shard channels each subscriber holds, what Redis has been
// told, the next command that brings Redis in line, and who receives a
// message. The push router (push_router.hpp) does the I/O around it.
//
// Subscriptions are counted: a name is subscribed in Redis while at least
// one subscriber holds it, so several subscribers share one SUBSCRIBE and
// one subscriber leaving never cuts another off. Redis is told one change
// at a time (next_change / applied / failed), so a SUBSCRIBE and an
// UNSUBSCRIBE of the same name can never overtake each other.
//
//   table.add(1, subscription_kind::channel, {"news"});
//   auto c = table.next_change();   // {channel, subscribe, {"news"}}
//   ... SUBSCRIBE news confirmed ...
//   table.applied(*c);
//   table.owners_of(subscription_kind::channel, "news");   // {1}
//
// Threading: a plain value; the router keeps it under its mutex.
#pragma once

#include <rcache/subscriber.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::detail {

class subscription_table {
 public:
  using owner = std::uint64_t;

  /// `o` holds `names` of `kind`; returns those it did not hold before.
  std::vector<std::string> add(owner o, subscription_kind kind,
                               const std::vector<std::string>& names);
  /// `o` no longer holds `names` of `kind` (names it does not hold: ignored).
  void remove(owner o, subscription_kind kind, const std::vector<std::string>& names);
  /// `o` holds nothing any more.
  void remove_owner(owner o);

  /// One command's worth of difference between what is held and what Redis
  /// has been told: names of one kind to subscribe, or to unsubscribe.
  struct change {
    subscription_kind kind = subscription_kind::channel;
    bool subscribe = true;
    std::vector<std::string> names;
  };
  /// The next change to send, or none when Redis is in line.
  [[nodiscard]] std::optional<change> next_change() const;
  /// Redis confirmed `c`.
  void applied(const change& c);

  /// True when Redis is in line for every one of `names` (subscribed when
  /// held, unsubscribed when not).
  [[nodiscard]] bool in_line(subscription_kind kind, const std::vector<std::string>& names) const;

  /// The subscribers that hold `name` of `kind`.
  [[nodiscard]] std::vector<owner> owners_of(subscription_kind kind, std::string_view name) const;
  /// What `o` holds of `kind`.
  [[nodiscard]] std::vector<std::string> held_by(owner o, subscription_kind kind) const;

 private:
  static constexpr std::size_t kinds = 3;
  static std::size_t index(subscription_kind k) noexcept { return static_cast<std::size_t>(k); }
  // Per kind: name -> the owners holding it (never empty), and what Redis
  // was told last.
  std::array<std::map<std::string, std::set<owner>, std::less<>>, kinds> held_;
  std::array<std::set<std::string, std::less<>>, kinds> told_;
};

/// A pub/sub message in `push` ("message", "pmessage" or "smessage"), or
/// none for any other push.
[[nodiscard]] std::optional<message> message_of(const value& push);

/// The commands for `c` ("SUBSCRIBE", "PUNSUBSCRIBE", ...).
[[nodiscard]] std::string_view command_of(const subscription_table::change& c) noexcept;

}  // namespace rcache::detail
