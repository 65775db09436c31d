// Direct writes — made straight into Redis (redis-cli, another
// application), not through rcache — reach the feed through Redis keyspace
// notifications: what the feed needs of `notify-keyspace-events`, and how a
// notification reads as a change.
//
// A notification is fire-and-forget: it has no place in the change log, so
// a direct change carries no position, and one made while the gateway's
// pub/sub connection was down is lost (subscribers are told so).
//
// Threading: pure functions.
#pragma once

#include <rcache/cache.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace rcache::feed {

/// The flags the feed asks for: K (the __keyspace@<db>__:<key> channel),
/// g (DEL, EXPIRE, RENAME, ...), $ (string commands), x (expired keys),
/// e (evicted keys). The embedded server is started with them.
inline constexpr std::string_view keyspace_flags = "Kg$xe";

/// What a server's notify-keyspace-events means for direct writes.
struct keyspace_verdict {
  bool seen = false;    // direct writes to string keys reach subscribers
  std::string message;  // one plain sentence for the log and `rcache config check`
};
/// `flags`: the setting's value (nullopt when it could not be read, with
/// `error` saying why: CONFIG may be forbidden by an ACL or renamed).
[[nodiscard]] keyspace_verdict judge_keyspace_events(std::optional<std::string_view> flags,
                                                     std::string_view error = {});

/// The Redis key a keyspace notification is about, from its channel
/// "__keyspace@<db>__:<key>"; nullopt for any other channel.
[[nodiscard]] std::optional<std::string_view> keyspace_key(std::string_view channel) noexcept;

/// The change a keyspace event stands for: del (del, unlink, expired,
/// evicted, rename_from), expire (expire, persist), set (set and every
/// other string write); nullopt for events of no interest (new, ...).
[[nodiscard]] std::optional<write_event::kind> keyspace_op(std::string_view event) noexcept;

}  // namespace rcache::feed
