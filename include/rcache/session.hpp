// rcache::session_store — login sessions for many users, in Redis.
//
// A session has an id, a user, device facts and data (named string fields).
// It dies when either of its expiries runs out: the idle timeout (sliding:
// every validate pushes it back) or the absolute lifetime (fixed at
// creation); no touch revives a dead session. Each user's sessions are
// indexed (list them, log out one device or all) and may be capped.
//
// Storage (docs/sessions.md): a hash per session and a sorted set per user
// scored by expiry, under one hash tag so that in Redis Cluster both share a
// slot; every operation is one server-side script and one round trip, so
// concurrent logins cannot pass a cap together and concurrent updates of
// different fields both survive. Expiry needs no keyspace notifications:
// the user's index is pruned whenever it is written, and a sweeper (one
// instance at a time, under a lease) removes the rest. Events (created,
// rotated, touched, destroyed, expired, evicted) go to bounded Redis
// Streams that any instance can read, even after a restart.
//
// Ids are 256 random bits (OpenSSL RAND_bytes) in URL-safe base64, followed
// by "." and two hex digits naming the bucket of the user (8 bits of a hash
// of the user id): the id alone finds the session's keys, and tells nothing
// else about the user.
//
// Errors: rcache::error values (invalid_argument, value_too_large,
// too_many_fields, session_cap_reached, version_conflict, not_replicated,
// and the client's transport errors). A dead or unknown session is not an
// error: it is an empty optional (or false).
//
// Threading: every method is thread-safe. Completion handlers run on their
// associated executor (or on the client's strand if they have none).
// Lifetime: the client is borrowed and must outlive the store; destroying
// the store stops its sweeper, and operations in flight still complete —
// also when the client is stopped or destroyed after the store (with
// error::client_stopped), without touching the client again.
#pragma once

#include <rcache/client.hpp>
#include <rcache/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rcache {

/// Milliseconds since the Unix epoch, the resolution sessions keep.
using session_time = std::chrono::sys_time<std::chrono::milliseconds>;

/// Where a session was opened from.
struct device_info {
  std::string id{};  // chosen by the application (a cookie, an app install id); may be empty
  std::string user_agent{};  // may be empty
  std::string ip{};          // may be empty
};

struct session {
  std::string id{};    // the id it was asked for (after rotation: see async_rotate)
  std::string user{};  // the user id
  device_info device{};
  session_time created{};
  session_time last_seen{};
  /// When it dies unless validated again: min(last_seen + idle timeout, absolute_expiry).
  session_time expires{};
  /// created + absolute lifetime: no validate keeps it past this.
  session_time absolute_expiry{};
  /// Starts at 0; every update adds 1 (for compare-and-set updates).
  std::uint64_t version = 0;
  /// The data fields. async_list leaves them out.
  std::map<std::string, std::string> data{};
};

/// A change of data fields: set some, remove some, optionally only if the
/// session is still at `expected_version`. Fields not named are untouched,
/// so two updates of different fields both survive.
struct session_update {
  std::map<std::string, std::string> set{};
  std::vector<std::string> remove{};
  std::optional<std::uint64_t> expected_version{};
};

/// What a create does when the user already has max_per_user sessions.
enum class session_cap_policy : std::uint8_t {
  evict_least_recently_seen,  // the session seen longest ago is destroyed (event "evicted")
  refuse,                     // the create fails with error::session_cap_reached
};

/// sessions.durability.
enum class session_durability : std::uint8_t {
  none,     // acknowledged once the master has it
  replica,  // create, rotate, destroy and destroy_all also wait (WAIT) until a replica has them
};

struct session_options {
  /// Key prefix; keys are "<prefix>{<bucket>}:...".
  std::string prefix = "rcache:session:";
  /// Sliding idle timeout and absolute lifetime (both > 0).
  std::chrono::seconds idle_timeout{30 * 60};
  std::chrono::seconds absolute_lifetime{24 * 3600};
  /// Sessions per user; 0: unlimited.
  std::size_t max_per_user = 0;
  session_cap_policy cap_policy = session_cap_policy::evict_least_recently_seen;
  /// After a rotation the old id stays valid this long (requests in flight).
  std::chrono::seconds rotation_grace{30};
  /// Emit a "touched" event on every validate (off: one per validate is a lot).
  bool touch_events = false;
  /// Each of the 256 event streams keeps about this many events (XADD MAXLEN ~).
  std::size_t events_per_stream = 1000;
  session_durability durability = session_durability::none;
  /// With durability = replica: how long to wait for a replica's
  /// acknowledgement before failing with error::not_replicated (the write
  /// may still have happened on the master).
  std::chrono::milliseconds replica_timeout{1000};
  /// The background sweeper's mean interval (jittered by ±25%); 0: no
  /// sweeper in this store (async_sweep still works).
  std::chrono::seconds sweep_interval{60};
  /// Input limits (create and update fail with invalid_argument,
  /// too_many_fields or value_too_large past them).
  std::size_t max_user_length = 256;
  std::size_t max_fields = 64;
  std::size_t max_field_name = 128;
  std::size_t max_field_value = 64 * 1024;
  std::size_t max_device_field = 512;
  /// The clock expiries are computed with (instances should agree: NTP);
  /// unset: the system clock. Tests pass a fake one.
  std::function<session_time()> clock{};
};

/// One entry of the event streams.
struct session_event {
  enum class kind : std::uint8_t { created, rotated, touched, destroyed, expired, evicted };
  kind what = kind::created;
  std::string id{};  // the session (rotated: the new id)
  std::string user{};
  session_time at{};        // when it happened, by the writer's clock
  std::string from{};       // rotated: the old id
  std::string stream_id{};  // the Redis Stream entry id
};
/// "created", "rotated", ... (the `kind` field in the stream).
[[nodiscard]] std::string_view to_string(session_event::kind k) noexcept;

/// Where a reader of the event streams is: the last entry read per stream.
/// Default-constructed: from the oldest event still kept.
class session_event_cursor {
 public:
  session_event_cursor();
  /// The entry id read last in stream `bucket` (0..255); "-" before any.
  [[nodiscard]] const std::string& last(std::size_t bucket) const { return last_.at(bucket); }
  void advance(std::size_t bucket, std::string id) { last_.at(bucket) = std::move(id); }

 private:
  std::vector<std::string> last_;
};

/// A batch of events (oldest first by `at`) and the cursor after it.
struct session_events {
  std::vector<session_event> events{};
  session_event_cursor next{};
};

/// A sweep's outcome.
struct sweep_result {
  bool swept = false;       // false: another instance holds the sweeper lease
  std::size_t expired = 0;  // dead sessions removed (each with an "expired" event)
};

namespace detail {
struct session_store_state;
}

class session_store {
 public:
  template <class... T>
  using handler = boost::asio::any_completion_handler<void(boost::system::error_code, T...)>;

  /// A store over `redis` (borrowed: it must outlive the store and every
  /// operation in flight). Starts the sweeper when o.sweep_interval > 0.
  /// Throws std::invalid_argument for options that cannot work (zero
  /// timeouts, an empty prefix, zero limits).
  session_store(client& redis, session_options o);
  ~session_store();
  session_store(const session_store&) = delete;
  session_store& operator=(const session_store&) = delete;

  /// Creates a session for `user` (1..max_user_length bytes, no control
  /// characters), enforcing the cap; completes with the new session.
  template <class Token>
  auto async_create(std::string user, device_info device, std::map<std::string, std::string> data,
                    Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, session)>(
        [st = state_](auto h, std::string u, device_info d, std::map<std::string, std::string> m) {
          do_create(st, std::move(u), std::move(d), std::move(m), std::move(h));
        },
        token, std::move(user), std::move(device), std::move(data));
  }

  /// Validates and touches: the live session (its idle expiry pushed back,
  /// never past the absolute one), or nullopt when dead or unknown. Within
  /// the rotation grace an old id still answers (with its own id).
  template <class Token>
  auto async_validate(std::string_view id, Token&& token) {
    return boost::asio::async_initiate<Token,
                                       void(boost::system::error_code, std::optional<session>)>(
        [st = state_](auto h, std::string i) { do_read(st, std::move(i), true, std::move(h)); },
        token, std::string(id));
  }

  /// The session without touching it; nullopt when dead or unknown.
  template <class Token>
  auto async_read(std::string_view id, Token&& token) {
    return boost::asio::async_initiate<Token,
                                       void(boost::system::error_code, std::optional<session>)>(
        [st = state_](auto h, std::string i) { do_read(st, std::move(i), false, std::move(h)); },
        token, std::string(id));
  }

  /// Sets and removes data fields (field-level: other fields are kept);
  /// completes with the new version, or nullopt when dead or unknown.
  /// Errors: version_conflict (expected_version differs), too_many_fields,
  /// value_too_large, invalid_argument (an empty field name).
  template <class Token>
  auto async_update(std::string_view id, session_update u, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code,
                                                   std::optional<std::uint64_t>)>(
        [st = state_](auto h, std::string i, session_update up) {
          do_update(st, std::move(i), std::move(up), std::move(h));
        },
        token, std::string(id), std::move(u));
  }

  /// Gives the session a new id (after a login or a privilege change): the
  /// session under its new id, or nullopt when dead or unknown (an id that
  /// was itself rotated away cannot be rotated again). The old id keeps
  /// answering validate for rotation_grace, without revealing the new one.
  template <class Token>
  auto async_rotate(std::string_view id, Token&& token) {
    return boost::asio::async_initiate<Token,
                                       void(boost::system::error_code, std::optional<session>)>(
        [st = state_](auto h, std::string i) { do_rotate(st, std::move(i), std::move(h)); }, token,
        std::string(id));
  }

  /// Destroys a session (an old id in its grace period destroys the
  /// session it was rotated to); completes with false when there was none.
  template <class Token>
  auto async_destroy(std::string_view id, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, bool)>(
        [st = state_](auto h, std::string i) { do_destroy(st, std::move(i), std::move(h)); }, token,
        std::string(id));
  }

  /// Destroys every session of `user` except `keep` (empty: none kept);
  /// completes with how many were destroyed.
  template <class Token>
  auto async_destroy_all(std::string_view user, std::string_view keep, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [st = state_](auto h, std::string u, std::string k) {
          do_destroy_all(st, std::move(u), std::move(k), std::move(h));
        },
        token, std::string(user), std::string(keep));
  }

  /// The user's live sessions with their devices (without data), the most
  /// recently seen first.
  template <class Token>
  auto async_list(std::string_view user, Token&& token) {
    return boost::asio::async_initiate<Token,
                                       void(boost::system::error_code, std::vector<session>)>(
        [st = state_](auto h, std::string u) { do_list(st, std::move(u), std::move(h)); }, token,
        std::string(user));
  }

  /// Sweeps now: under the sweeper lease, removes every dead session's
  /// keys and index entries (with an "expired" event each), on every
  /// master. What the background sweeper does at each interval.
  template <class Token>
  auto async_sweep(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, sweep_result)>(
        [st = state_](auto h) { do_sweep(st, std::move(h)); }, token);
  }

  /// Reads up to `max_per_stream` events of each stream after `from`.
  template <class Token>
  auto async_read_events(session_event_cursor from, std::size_t max_per_stream, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, session_events)>(
        [st = state_](auto h, session_event_cursor c, std::size_t n) {
          do_read_events(st, std::move(c), n, std::move(h));
        },
        token, std::move(from), max_per_stream);
  }

  [[nodiscard]] const session_options& options() const noexcept;

 private:
  using state_ptr = std::shared_ptr<detail::session_store_state>;
  static void do_create(const state_ptr& st, std::string user, device_info device,
                        std::map<std::string, std::string> data, handler<session> h);
  static void do_read(const state_ptr& st, std::string id, bool touch,
                      handler<std::optional<session>> h);
  static void do_update(const state_ptr& st, std::string id, session_update u,
                        handler<std::optional<std::uint64_t>> h);
  static void do_rotate(const state_ptr& st, std::string id, handler<std::optional<session>> h);
  static void do_destroy(const state_ptr& st, std::string id, handler<bool> h);
  static void do_destroy_all(const state_ptr& st, std::string user, std::string keep,
                             handler<std::size_t> h);
  static void do_list(const state_ptr& st, std::string user, handler<std::vector<session>> h);
  static void do_sweep(const state_ptr& st, handler<sweep_result> h);
  static void do_read_events(const state_ptr& st, session_event_cursor from, std::size_t n,
                             handler<session_events> h);
  state_ptr state_;
};

/// The same operations for programs without an event loop: each call
/// blocks until its result. The client must be run by an event loop on
/// another thread (blocking_client::async(), blocking_cache's
/// async().redis()); never call from that thread.
class blocking_session_store {
 public:
  blocking_session_store(client& redis, session_options o);
  [[nodiscard]] result<session> create(std::string user, device_info device = {},
                                       std::map<std::string, std::string> data = {});
  [[nodiscard]] result<std::optional<session>> validate(std::string_view id);
  [[nodiscard]] result<std::optional<session>> read(std::string_view id);
  [[nodiscard]] result<std::optional<std::uint64_t>> update(std::string_view id, session_update u);
  [[nodiscard]] result<std::optional<session>> rotate(std::string_view id);
  [[nodiscard]] result<bool> destroy(std::string_view id);
  [[nodiscard]] result<std::size_t> destroy_all(std::string_view user, std::string_view keep = {});
  [[nodiscard]] result<std::vector<session>> list(std::string_view user);
  [[nodiscard]] result<sweep_result> sweep();
  [[nodiscard]] result<session_events> read_events(session_event_cursor from,
                                                   std::size_t max_per_stream = 100);
  /// The asynchronous store underneath.
  [[nodiscard]] session_store& async() noexcept { return store_; }

 private:
  session_store store_;
};

}  // namespace rcache
