// rcache::cache — the cache API application code calls.
//
// A cache is a Redis-backed key/value cache with namespaces, a default TTL,
// a value codec (optional zstd compression and AES-256-GCM encryption) and an
// in-process near cache kept coherent by Redis server-assisted
// client-side caching (RESP3 CLIENT TRACKING on the cache's connection):
//   - a read fills the near cache only if no invalidation of that key arrived while the
//     read was in flight;
//   - the cache's own writes drop the near-cache entry before the write is sent;
//   - invalidation pushes (another client wrote the key) and the null
//     invalidation (FLUSHDB / FLUSHALL) drop entries as they arrive;
//   - while the connection is down nothing is served from the near cache (except to a
//     namespace that allows stale-on-error), and the near cache is emptied on reconnect.
//
// Keys are "<namespace prefix><key>"; a namespace's prefix defaults to
// "<name>:" and the default namespace ("") has none. Values are bytes; plain
// values are stored as given, readable by any Redis client.
//
// Errors: rcache::error values (invalid_key, value_too_large, timeout,
// not_connected, value_tampered, ...) or the loader's own error_code for
// get_or_load. A miss is not an error: get returns an empty optional.
//
// Threading: every method is thread-safe. Completion handlers run on their
// associated executor (or inline on the cache's strand if they have none).
// Lifetime: the executor's context must outlive outstanding operations.
#pragma once

#include <rcache/client.hpp>
#include <rcache/config.hpp>
#include <rcache/error.hpp>
#include <rcache/tags.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace rcache {

/// Per-namespace behaviour. Every field has a working default.
struct namespace_options {
  /// Key prefix; unset: "<name>:" ("" for the default namespace).
  std::optional<std::string> prefix{};
  /// TTL of values written without an explicit TTL; unset: the cache's
  /// default (CACHE_DEFAULT_TTL).
  std::optional<std::chrono::seconds> ttl{};
  /// TTL by key pattern (Redis glob syntax, matched against the key without
  /// the prefix); the first matching rule wins over `ttl`.
  struct ttl_rule {
    std::string pattern{};
    std::chrono::seconds ttl{};
  };
  std::vector<ttl_rule> ttl_rules{};
  /// Values larger than this are not cached (set succeeds without storing;
  /// the metrics count it). 0: the cache-wide max_value_size.
  std::size_t max_value_size = 0;
  /// Return true to skip caching a value (set and get_or_load fills).
  std::function<bool(std::string_view key, std::string_view value)> skip{};
  /// Keep values of this namespace in the near cache.
  bool near_cache = true;
  /// While Redis is unreachable, reads may return the last near-cache value.
  bool stale_on_error = false;
  /// get_or_load: remember "not found" this long (0: off).
  std::chrono::seconds negative_ttl{0};
  /// get_or_load: serve a value this long after its TTL ran out while one
  /// caller refreshes it (stale-while-revalidate; 0: off).
  std::chrono::seconds stale_grace{0};
  /// get_or_load: probabilistic early refresh (XFetch) strength; 0: off,
  /// 1: the usual choice.
  double early_refresh_beta = 0;
  /// get_or_load: also take a cross-process lock (SET NX PX) around the
  /// loader, so one process in the fleet loads a key at a time.
  bool distributed_lock = false;
  std::chrono::milliseconds lock_ttl{5000};
  /// get_or_load: how long callers wait for the loader; unset: the cache's
  /// load_timeout. See cache_options::load_timeout.
  std::optional<std::chrono::milliseconds> load_timeout{};
};

/// A get_or_load that did not produce a value: which key, the error its
/// callers got (error::loader_failed, error::load_timeout, or the loader's
/// own error code) and what the loader said (an exception's what(), the
/// error's message).
struct load_failure {
  std::string_view ns;
  std::string_view key;
  boost::system::error_code error;
  std::string_view message;
};

/// One change the cache made in Redis, as reported to a write_observer.
struct write_event {
  /// invalidate_tag: `key` is the tag, `full` its version key. geo_add,
  /// geo_move, geo_remove (rcache/geo.hpp): `key` is "<set>/<id>", `full`
  /// the set's key, `value` (add, move) the point as JSON {"lon", "lat"[,
  /// "data"]}.
  enum class kind : std::uint8_t {
    set,
    del,
    expire,
    touch,
    invalidate,
    invalidate_tag,
    geo_add,
    geo_move,
    geo_remove,
  };
  kind what = kind::set;
  std::string_view ns{};    // the namespace
  std::string_view key{};   // the key within it
  std::string_view full{};  // the Redis key
  /// set / expire / touch: the TTL it now has, in ms (0: none; -1: not known).
  std::int64_t ttl_ms = -1;
  /// set: the value as the caller gave it (before compression or encryption).
  std::string_view value{};
};

/// Learns of every change the cache makes: the change feed (rcache/feed.hpp)
/// logs them. on_write runs once per change Redis confirmed (a set that was
/// written, a delete or expire of a key that existed, each key an
/// invalidation unlinked), in the order Redis answered them on the cache's
/// connection, before the caller's completion; on the client's strand: it
/// must not block. The views live for the call only.
class write_observer {
 public:
  virtual ~write_observer() = default;
  /// The cache started: `redis` is its client, usable until on_detach().
  virtual void on_attach(client& redis) noexcept { (void)redis; }
  virtual void on_write(const write_event& e) noexcept = 0;
  /// The cache stops: its client must not be used any more.
  virtual void on_detach() noexcept {}
};

struct cache_options {
  client_config redis{};
  /// CACHE_DEFAULT_TTL.
  std::chrono::seconds default_ttl{3600};
  std::size_t max_key_size = 16 * 1024;
  std::size_t max_value_size = 64u * 1024 * 1024;
  /// CACHE_COMPRESSION_ENABLED: zstd above the threshold, kept only if smaller.
  bool compression = false;
  std::size_t compression_threshold = 1024;
  /// AES-256-GCM key ring ("1:<base64 key>,2:<base64 key>;current=2"); empty: off.
  std::string encryption_keys{};
  /// Near cache.
  bool near_cache = true;
  std::size_t near_cache_max_bytes = 64u * 1024 * 1024;
  std::size_t near_cache_max_entries = 1'000'000;
  /// A near-cache entry lives at most this long (and never longer than its Redis TTL).
  std::chrono::seconds near_cache_max_ttl{300};
  /// get_or_load: a load that has not finished this
  /// long after it started fails every waiting caller with
  /// error::load_timeout; its late result is discarded (not stored), and
  /// the next caller starts a new load. Per namespace:
  /// namespace_options::load_timeout.
  std::chrono::milliseconds load_timeout{10000};
  /// Called for every get_or_load that fails (a throwing loader, a loader
  /// error, a timeout), with what the loader said: the message an error
  /// code cannot carry. Runs on the thread that saw the failure; must not
  /// block; what it throws is dropped.
  std::function<void(const load_failure&)> on_load_failure{};
  /// Threads that run blocking loaders (blocking_loader, blocking_cache),
  /// started as needed: a bounded pool, whose loads beyond it wait for a
  /// thread within their deadline (at most 1024 waiting: more fail with
  /// error::queue_full).
  std::size_t loader_threads = 8;
  /// Told of every change the cache makes (the change feed); null: none.
  std::shared_ptr<write_observer> observer{};
};

struct set_options {
  /// Explicit TTL; unset: the namespace's rules.
  std::optional<std::chrono::milliseconds> ttl{};
  enum class condition : std::uint8_t { always, if_absent, if_present };
  condition when = condition::always;  // NX / XX
  bool keep_ttl = false;               // KEEPTTL: leave the key's TTL as it is
  /// The entry's tags (docs/tags.md): once any of them is invalidated
  /// (async_invalidate_tags) the entry reads as a miss, in every instance.
  /// At most max_tags, each valid_tag (rcache/tags.hpp;
  /// error::invalid_argument otherwise, also with keep_ttl). A tagged set
  /// costs one more round trip: the tags' versions are read (and their
  /// keys' TTLs extended) before the value is written.
  std::vector<std::string> tags{};
};

/// The result of a conditional set: whether the value was written.
using set_result = bool;

/// A loader for get_or_load: produces the value of a key, or nullopt when it
/// does not exist. Called at most once at a time per key in this process.
/// It is handed a completion handler for void(error_code, optional<string>),
/// so it may be a plain callback user or a function that takes an Asio
/// completion token:
///   [&](auto done) { db.async_find(id, std::move(done)); }
/// It may complete on any thread; a second completion is ignored; what it
/// throws fails the load with error::loader_failed.
using load_done = std::function<void(boost::system::error_code, std::optional<std::string>)>;
using loader = std::function<void(load_done done)>;
/// A coroutine loader: its awaitable runs on the cache's executor; what it
/// throws fails the load with error::loader_failed (the message goes to
/// cache_options::on_load_failure). The cache keeps the function object
/// alive until its coroutine completes, so a lambda coroutine may capture.
using coroutine_loader = std::function<boost::asio::awaitable<std::optional<std::string>>()>;
/// A blocking loader: runs on the cache's loader threads (a bounded pool,
/// cache_options::loader_threads), never on the event loop. An error result
/// fails the load with that error; what it throws, with
/// error::loader_failed.
using blocking_loader = std::function<result<std::optional<std::string>>()>;

class cache {
 public:
  using get_handler = boost::asio::any_completion_handler<void(boost::system::error_code,
                                                               std::optional<std::string>)>;
  using many_handler = boost::asio::any_completion_handler<void(
      boost::system::error_code, std::vector<std::optional<std::string>>)>;
  using bool_handler = boost::asio::any_completion_handler<void(boost::system::error_code, bool)>;
  using bools_handler =
      boost::asio::any_completion_handler<void(boost::system::error_code, std::vector<bool>)>;
  using int_handler =
      boost::asio::any_completion_handler<void(boost::system::error_code, std::int64_t)>;

  /// Creates a cache on `ex` and starts connecting (operations issued before
  /// the first connection wait for it, within their deadlines; the client
  /// keeps reconnecting, and run() does not return, until stop() or the
  /// cache's destruction). `ex` is an io_context's executor, not a strand
  /// (as for rcache::client). Throws std::invalid_argument
  /// for a configuration that cannot work (bad key ring, zero sizes).
  [[nodiscard]] static std::unique_ptr<cache> create(boost::asio::any_io_executor ex,
                                                     cache_options o);
  /// The same with one Redis connection per executor, for a program that
  /// runs one event loop per thread: an operation uses the connection of
  /// the calling thread's executor (see rcache::client's constructor) and
  /// one near cache serves them all. The near cache serves while every
  /// connection is up and starts empty after any of them reconnects. Throws
  /// std::invalid_argument also when `executors` is empty.
  [[nodiscard]] static std::unique_ptr<cache> create(
      std::vector<boost::asio::any_io_executor> executors, cache_options o);
  virtual ~cache() = default;

  /// Registers (or replaces) a namespace. Names: letters, digits, `_ - . :`,
  /// at most 128 bytes (they become key prefixes and metric labels); throws
  /// std::invalid_argument otherwise. Operations on a namespace that was
  /// never registered use the defaults; one with an invalid name fails with
  /// error::invalid_argument.
  virtual void add_namespace(std::string name, namespace_options o) = 0;

  // ---- operations; `ns` is a namespace name ("" for the default) ----
  // Completion signatures: get -> (ec, optional<string>); set -> (ec, bool
  // written); del / exists / touch -> (ec, bool); ttl -> (ec, int64 ms: -1 no
  // TTL, -2 no key); get_many -> (ec, vector<optional<string>>).

  template <class Token>
  auto async_get(std::string_view ns, std::string_view key, Token&& token) {
    return initiate<void(boost::system::error_code, std::optional<std::string>), Token>(
        token, [this, ns = std::string(ns), key = std::string(key)](get_handler h) mutable {
          do_get(ns, key, std::move(h));
        });
  }
  template <class Token>
  auto async_set(std::string_view ns, std::string_view key, std::string value, set_options o,
                 Token&& token) {
    return initiate<void(boost::system::error_code, bool), Token>(
        token, [this, ns = std::string(ns), key = std::string(key), v = std::move(value),
                o](bool_handler h) mutable { do_set(ns, key, std::move(v), o, std::move(h)); });
  }
  /// async_set with the default options (the namespace's TTL rules).
  template <class Token>
  auto async_set(std::string_view ns, std::string_view key, std::string value, Token&& token) {
    return async_set(ns, key, std::move(value), set_options{}, std::forward<Token>(token));
  }
  template <class Token>
  auto async_del(std::string_view ns, std::string_view key, Token&& token) {
    return initiate<void(boost::system::error_code, bool), Token>(
        token, [this, ns = std::string(ns), key = std::string(key)](bool_handler h) mutable {
          do_del(ns, key, std::move(h));
        });
  }
  template <class Token>
  auto async_exists(std::string_view ns, std::string_view key, Token&& token) {
    return initiate<void(boost::system::error_code, bool), Token>(
        token, [this, ns = std::string(ns), key = std::string(key)](bool_handler h) mutable {
          do_exists(ns, key, std::move(h));
        });
  }
  /// Remaining TTL in milliseconds: -1 when the key has none, -2 when absent.
  template <class Token>
  auto async_ttl(std::string_view ns, std::string_view key, Token&& token) {
    return initiate<void(boost::system::error_code, std::int64_t), Token>(
        token, [this, ns = std::string(ns), key = std::string(key)](int_handler h) mutable {
          do_ttl(ns, key, std::move(h));
        });
  }
  /// Sets a new TTL; completes with false when the key does not exist.
  template <class Token>
  auto async_expire(std::string_view ns, std::string_view key, std::chrono::milliseconds ttl,
                    Token&& token) {
    return initiate<void(boost::system::error_code, bool), Token>(
        token, [this, ns = std::string(ns), key = std::string(key), ttl](bool_handler h) mutable {
          do_expire(ns, key, ttl, std::move(h));
        });
  }
  /// Resets the TTL to the namespace's TTL for that key (sliding expiry).
  template <class Token>
  auto async_touch(std::string_view ns, std::string_view key, Token&& token) {
    return initiate<void(boost::system::error_code, bool), Token>(
        token, [this, ns = std::string(ns), key = std::string(key)](bool_handler h) mutable {
          do_touch(ns, key, std::move(h));
        });
  }
  template <class Token>
  auto async_get_many(std::string_view ns, std::vector<std::string> keys, Token&& token) {
    return initiate<void(boost::system::error_code, std::vector<std::optional<std::string>>),
                    Token>(
        token, [this, ns = std::string(ns), k = std::move(keys)](many_handler h) mutable {
          do_get_many(ns, std::move(k), std::move(h));
        });
  }
  /// Writes every pair with the namespace's TTL rules, in one pipeline;
  /// completes with (ec, vector<bool>): per item, in order, whether it was
  /// written (false: kept out by a size or skip rule, or refused by Redis,
  /// which also makes ec error::redis_error). A key or value that cannot be
  /// written at all (invalid_key, value_too_large) fails the whole call
  /// before anything is sent.
  template <class Token>
  auto async_set_many(std::string_view ns, std::vector<std::pair<std::string, std::string>> items,
                      Token&& token) {
    return initiate<void(boost::system::error_code, std::vector<bool>), Token>(
        token, [this, ns = std::string(ns), it = std::move(items)](bools_handler h) mutable {
          do_set_many(ns, std::move(it), std::move(h));
        });
  }
  /// Deletes every key of the namespace whose name (without the prefix)
  /// matches `pattern` (Redis glob syntax), walking the keyspace with SCAN
  /// (never KEYS) and removing batches with UNLINK; completes with the number
  /// of keys deleted. Keys written while the walk runs may survive it; every
  /// deleted key also leaves this process's near cache (and, through
  /// CLIENT TRACKING, every other instance's). Errors: invalid_argument (bad
  /// namespace name or empty pattern), the first transport error.
  template <class Token>
  auto async_invalidate(std::string_view ns, std::string_view pattern, Token&& token) {
    return initiate<void(boost::system::error_code, std::int64_t), Token>(
        token, [this, ns = std::string(ns), p = std::string(pattern)](int_handler h) mutable {
          do_invalidate(ns, p, std::move(h));
        });
  }
  /// Cache-aside: the cached value, or the loader's (stored for next time).
  /// One loader runs per key at a time in this process; the namespace's
  /// options add negative caching, stale-while-revalidate, early refresh
  /// and a cross-process lock. Every load has a deadline (load_timeout):
  /// past it, waiting callers get error::load_timeout and the late result
  /// is dropped. A loader error (its own code, or error::loader_failed when
  /// it threw) reaches every waiting caller and nothing is cached.
  template <class Token>
  auto async_get_or_load(std::string_view ns, std::string_view key, loader load, Token&& token) {
    return async_get_or_load(ns, key, std::vector<std::string>{}, std::move(load),
                             std::forward<Token>(token));
  }
  /// The same with a coroutine loader:
  ///   co_await c->async_get_or_load("users", id,
  ///       [&]() -> asio::awaitable<std::optional<std::string>> { co_return co_await db(id); },
  ///       asio::use_awaitable);
  template <class Token>
  auto async_get_or_load(std::string_view ns, std::string_view key, coroutine_loader load,
                         Token&& token) {
    return async_get_or_load(ns, key, std::vector<std::string>{}, std::move(load),
                             std::forward<Token>(token));
  }
  /// The same with a blocking loader (a database driver without an async
  /// API), run on the cache's loader threads.
  template <class Token>
  auto async_get_or_load(std::string_view ns, std::string_view key, blocking_loader load,
                         Token&& token) {
    return async_get_or_load(ns, key, std::vector<std::string>{}, std::move(load),
                             std::forward<Token>(token));
  }
  /// get_or_load of an entry with tags (set_options::tags says which): the
  /// tags' versions are read before the loader starts and stored with its
  /// value, so an invalidation of one of them while the loader runs leaves
  /// nothing behind that a later read would take. When the versions moved
  /// by the time the loader finished, the value is not stored: it answers
  /// the callers that were waiting when the load began (their reads overlap
  /// the invalidation), and the load runs again, within the deadline, for
  /// those that came since, so no caller gets a value loaded before an
  /// invalidation that completed before it asked. Negative caching does not
  /// apply to tagged entries.
  template <class Load, class Token>
  requires std::is_constructible_v<loader, Load> ||
      std::is_constructible_v<coroutine_loader, Load> ||
      std::is_constructible_v<blocking_loader, Load>
  auto async_get_or_load(std::string_view ns, std::string_view key, std::vector<std::string> tags,
                         Load load, Token&& token) {
    return initiate<void(boost::system::error_code, std::optional<std::string>), Token>(
        token, [this, ns = std::string(ns), key = std::string(key), tags = std::move(tags),
                l = std::move(load)](get_handler h) mutable {
          do_get_or_load(ns, key, std::move(tags), std::move(l), std::move(h));
        });
  }
  /// Makes every entry of the namespace carrying one of `tags` a miss, in
  /// every instance (one INCR of each tag's version; nothing is scanned or
  /// deleted: the entries' keys expire with their TTLs, or are deleted by
  /// the first read that finds them out of date). Completes with how many
  /// of the tags had entries written with them still possibly alive (their
  /// version key existed). Errors: invalid_argument (a bad namespace or tag
  /// name, more than 32 tags), the request's.
  template <class Token>
  auto async_invalidate_tags(std::string_view ns, std::vector<std::string> tags, Token&& token) {
    return initiate<void(boost::system::error_code, std::int64_t), Token>(
        token, [this, ns = std::string(ns), t = std::move(tags)](int_handler h) mutable {
          do_invalidate_tags(ns, std::move(t), std::move(h));
        });
  }

  /// The near-cache value of a key, without waiting: what async_get
  /// would return at once from the near cache, counted as a near-cache hit. nullopt when the near
  /// cache has no live copy (a miss, the near cache off for the namespace, or the connection down);
  /// nothing is counted then, and the caller goes on with async_get.
  [[nodiscard]] virtual std::optional<std::string> try_get_near(std::string_view ns,
                                                                std::string_view key) = 0;

  /// Stops the cache: loads in flight end (their callers get
  /// error::client_stopped; blocking loaders still running deliver
  /// nothing), the client stops (outstanding requests complete with
  /// error::client_stopped), and every later operation fails with
  /// client_stopped. Returns at once; every completion still comes, through
  /// the executor. Idempotent; the destructor does the same.
  virtual void stop() = 0;

  /// The client underneath (stats, last_error, pub/sub). Its push handler
  /// receives what the cache does not consume: the near cache's
  /// invalidations always reach the cache first, whatever handler is set.
  [[nodiscard]] virtual client& redis() noexcept = 0;
  /// Receives pushes the cache does not consume (pub/sub messages): the
  /// same as redis().set_push_handler(h).
  virtual void set_push_handler(std::function<void(const value&)> h) = 0;
  /// The cache's metrics in the Prometheus text format.
  [[nodiscard]] virtual std::string metrics_text() const = 0;
  /// The observer the cache was made with (cache_options::observer); null:
  /// none. A geo_index over the cache tells it of point changes.
  [[nodiscard]] virtual std::shared_ptr<write_observer> observer() const noexcept = 0;

 protected:
  virtual void do_get(const std::string& ns, const std::string& key, get_handler h) = 0;
  virtual void do_set(const std::string& ns, const std::string& key, std::string v, set_options o,
                      bool_handler h) = 0;
  virtual void do_del(const std::string& ns, const std::string& key, bool_handler h) = 0;
  virtual void do_exists(const std::string& ns, const std::string& key, bool_handler h) = 0;
  virtual void do_ttl(const std::string& ns, const std::string& key, int_handler h) = 0;
  virtual void do_expire(const std::string& ns, const std::string& key,
                         std::chrono::milliseconds ttl, bool_handler h) = 0;
  virtual void do_touch(const std::string& ns, const std::string& key, bool_handler h) = 0;
  virtual void do_get_many(const std::string& ns, std::vector<std::string> keys,
                           many_handler h) = 0;
  virtual void do_set_many(const std::string& ns,
                           std::vector<std::pair<std::string, std::string>> items,
                           bools_handler h) = 0;
  virtual void do_invalidate(const std::string& ns, const std::string& pattern, int_handler h) = 0;
  virtual void do_invalidate_tags(const std::string& ns, std::vector<std::string> tags,
                                  int_handler h) = 0;
  virtual void do_get_or_load(const std::string& ns, const std::string& key,
                              std::vector<std::string> tags, loader load, get_handler h) = 0;
  virtual void do_get_or_load(const std::string& ns, const std::string& key,
                              std::vector<std::string> tags, coroutine_loader load,
                              get_handler h) = 0;
  virtual void do_get_or_load(const std::string& ns, const std::string& key,
                              std::vector<std::string> tags, blocking_loader load,
                              get_handler h) = 0;

 private:
  // `Token` is the caller's forwarding type, so an lvalue handler (Token =
  // H&) is copied and only an rvalue one is moved from.
  template <class Signature, class Token, class Start>
  static auto initiate(std::remove_reference_t<Token>& token, Start start) {
    return boost::asio::async_initiate<Token, Signature>(
        [](auto handler, Start s) { s(std::move(handler)); }, token, std::move(start));
  }
};

}  // namespace rcache
