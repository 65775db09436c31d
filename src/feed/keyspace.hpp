// Direct writes — made straight into Redis (redis-cli, another
// application), not through rcache — reach the feed through Redis keyspace
// notifications: what the feed needs of `notify-keyspace-events`, and how a
// notification reads as a change.
//
// A notification is fire-and-forget: it has no place in the change log, so
// a direct change carries no position, and one made while the gateway's
// pub/sub connection was down is lost (subscribers are told so).
//
// Threading: pure functions, and direct_write_filter (one per hub, on its
// strand).
#pragma once

#include <rcache/cache.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

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

/// Tells direct writes from writes through rcache, which Redis notifies
/// too. A write through rcache is delivered once, as its logged change
/// (with its position); its notifications must not be delivered again.
/// They usually come first (Redis sends them while the write runs; the log
/// entry is appended after its reply), so a notification is held for
/// `window`, and a logged change of the same key absorbs every one held
/// (this write's, or an earlier one's that its later state supersedes). A
/// logged change that finds none held leaves credits for the ones still to
/// come, which absorb them. Past the window, a held notification was a
/// direct write, and a credit is dropped. At most `max_held` notifications
/// are held: past it, a new one is a direct write at once.
///
/// Keys are Redis keys; time is given (a fake clock in the tests). Not
/// thread-safe.
class direct_write_filter {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  direct_write_filter(std::chrono::milliseconds window, std::size_t max_held)
      : window_(window), max_held_(max_held) {}

  /// A notification of `key`: true when it is a direct write to deliver
  /// now (held past max_held); false when held or absorbed.
  bool notified(const std::string& key, write_event::kind op, time_point now);
  /// The logged change of a write to `key` (SET with a TTL notifies twice:
  /// "set" and "expire").
  void logged(const std::string& key, write_event::kind op, std::int64_t ttl_ms, time_point now);
  /// Takes the notifications held for `window` or longer (direct writes;
  /// per key, oldest first) and drops the credits as old.
  std::vector<std::pair<std::string, write_event::kind>> expire(time_point now);

  /// Nothing held or credited (nothing for expire() to do).
  [[nodiscard]] bool empty() const noexcept { return held_.empty() && credits_.empty(); }
  [[nodiscard]] std::size_t held() const noexcept { return held_count_; }
  void clear();

 private:
  std::chrono::milliseconds window_;
  std::size_t max_held_;
  std::unordered_map<std::string, std::deque<std::pair<time_point, write_event::kind>>> held_;
  std::unordered_map<std::string, std::deque<time_point>> credits_;
  std::size_t held_count_ = 0;
};

}  // namespace rcache::feed
