// The state every operation of one cache shares, and the near cache's
// coherence with Redis.
//
// Everything lives in one shared `state` so that completions that arrive
// after the cache object is gone (they all arrive: every request has a
// deadline) find it alive. The Redis client runs on its own strand (one per
// connection when the cache was given several executors); the cache's
// completions for Redis replies have no executor of their own, so they run
// inline on that strand, right when the reply is matched — a read fills the
// near cache before any later invalidation push on its connection is
// processed. The fill token (near_cache::begin_fill) makes this safe even
// when that is not so, e.g. a push for the same key arriving on another
// connection.
//
// Near-cache coherence (on_push, on_state):
//   - connected with tracking on  -> the near cache serves reads (`near_live`);
//   - connection lost             -> the near cache serves nothing, except stale-on-error
//                                    reads of namespaces that allow them;
//   - reconnected (tracking re-enabled by the handshake) -> the near cache emptied, then live;
//   - `invalidate` push           -> those keys dropped; null payload -> all;
//   - Redis Cluster: a node's connection lost or slots moved -> the client's
//     `invalidate-slots` push drops the keys of those slots only, and the
//     connection states above do not empty the near cache (they are per node);
//   - our own writes              -> the key dropped before the write is sent
//                                    and again when its reply arrives (after_write);
//   - a read that completes       -> stored only if nothing (an invalidation,
//                                    a rival read of the key) came since it
//                                    was sent; a read that finds no value
//                                    drops the key (near_cache.hpp says why).
//
// Threading: thread-safe. Namespaces are immutable snapshots
// (namespaces.hpp); single-flight state is under flight_mutex; the near
// cache, the codec and the metrics are thread-safe themselves.
#pragma once

#include <rcache/cache.hpp>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/cache_metrics.hpp"
#include "cache/loader_pool.hpp"
#include "cache/namespaces.hpp"
#include "cache/tags.hpp"
#include "codec/value_codec.hpp"
#include "metrics/registry.hpp"
#include "near/near_cache.hpp"

namespace rcache::cache_detail {

/// One get_or_load in progress for one key: everyone asking meanwhile
/// waits, until its outcome or its deadline (get_or_load.cpp).
struct flight {
  std::vector<cache::get_handler> waiters;
  std::string lock_token;  // the cross-process lock it holds, if any
  /// Fires at the load's deadline; armed, and cancelled, on its strand.
  std::shared_ptr<boost::asio::steady_timer> deadline;
  /// A load of an entry with tags: the tags, and the versions read before
  /// the loader started (written before it starts, read after it is done).
  std::vector<std::string> tags;
  std::vector<tag_version> versions;
  /// The versions could not be read (Redis failed): the value is answered,
  /// not stored.
  bool unversioned = false;
  /// How many of `waiters` (the first ones) had joined when the current
  /// attempt began reading its versions: the ones its value may answer
  /// even if a tag moves while it loads (their reads began before).
  std::size_t served = 0;
};

struct state {
  /// A started cache over `executors`: checks `o` (throws
  /// std::invalid_argument for limits of zero or bad encryption keys),
  /// builds the codec and the near cache, and connects the client with
  /// the coherence handlers.
  [[nodiscard]] static std::shared_ptr<state> create(
      std::vector<boost::asio::any_io_executor> executors, cache_options o);

  cache_options opts;
  codec::codec_options codec;
  std::unique_ptr<near::near_cache> near_cache;  // null: no near cache
  metrics::registry reg;
  cache_metrics m{reg};
  namespace_table namespaces;
  std::unique_ptr<client> redis;
  std::atomic<bool> near_live{false};
  bool cluster = false;  // a Redis Cluster client: the near cache is dropped per slot

  std::mutex flight_mutex;
  std::unordered_map<std::string, std::shared_ptr<flight>> flights;

  /// The threads of blocking loaders, started on the first such load.
  [[nodiscard]] loader_pool& loaders();
  /// Called when the cache object goes: blocking loads still running
  /// deliver nothing any more (loader_pool.hpp).
  void close_loaders();

  [[nodiscard]] boost::asio::any_io_executor executor() const { return redis->get_executor(); }
  [[nodiscard]] bool near_for(const ns_state& ns) const { return near_cache && ns.opts.near_cache; }

  /// A write of `full` was answered. The key was dropped before the write
  /// was sent; a read on another connection may have stored the old value
  /// since (Redis ran it before the write), and its invalidation is still
  /// on its way on that connection. Dropping it again here, before the
  /// writer hears back, means the writer never reads its own write's
  /// predecessor.
  void after_write(const std::string& full) {
    if (near_cache) near_cache->invalidate(full);
  }

  /// Tells opts.observer (if any) of a change Redis confirmed.
  void observe(write_event::kind k, std::string_view ns, std::string_view key,
               std::string_view full, std::int64_t ttl_ms, std::string_view value = {}) noexcept {
    if (!opts.observer) return;
    try {
      opts.observer->on_write({k, ns, key, full, ttl_ms, value});
    } catch (
        ...) {  // NOLINT(bugprone-empty-catch): the observer's own failure, dropped as documented
    }
  }

  // ---- events from the connection (client strand) ----
  /// A push: true when it was the cache's (an invalidation), which then
  /// goes no further.
  bool on_push(const value& v);
  void on_state(connection_state s);

 private:
  explicit state(cache_options o)
      : opts(std::move(o)), namespaces(reg, opts.max_value_size, opts.default_ttl) {}
  std::mutex loaders_mutex_;
  std::unique_ptr<loader_pool> loaders_;
  bool loaders_closed_ = false;
};

}  // namespace rcache::cache_detail
