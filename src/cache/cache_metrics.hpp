// The metrics of a cache that do not depend on a namespace: latency per
// operation, value bytes, near-cache invalidations by source, errors by
// kind, and the figures that follow totals kept elsewhere (the near
// cache's, the client's), brought up to date at each scrape. The
// per-namespace ones are in namespaces.hpp; docs/metrics.md names them all.
//
// Threading: thread-safe (the metrics are; scrape() and the error map have
// their own locks).
#pragma once

#include <rcache/client.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "metrics/registry.hpp"
#include "near/near_cache.hpp"

namespace rcache::cache_detail {

struct cache_metrics {
  /// Registers every metric in `reg`, which must outlive this.
  explicit cache_metrics(metrics::registry& reg);

  /// The end of every operation but a read: its latency recorded under
  /// `op`, the first error reply to its commands made an error (error_of:
  /// wrong_type or redis_error), a
  /// failure counted. Returns the operation's error.
  [[nodiscard]] boost::system::error_code tally(metrics::histogram* op,
                                                std::chrono::steady_clock::time_point t0,
                                                boost::system::error_code ec, const response& resp);
  /// Counts a failed operation under its kind (rcache's enumerator names,
  /// else the error category's name: a bounded set of labels).
  void count_error(const boost::system::error_code& ec);
  /// Brings the gauges and the counters that follow other totals up to
  /// date, before the registry is rendered. `near` may be null.
  void scrape(const near::near_cache* near, const client& redis);

  // Latency per operation (Redis round trips; loads: the loader's time).
  metrics::histogram* op_get;
  metrics::histogram* op_set;
  metrics::histogram* op_del;
  metrics::histogram* op_exists;
  metrics::histogram* op_ttl;
  metrics::histogram* op_expire;
  metrics::histogram* op_touch;
  metrics::histogram* op_get_many;
  metrics::histogram* op_set_many;
  metrics::histogram* op_load;
  metrics::histogram* op_invalidate_tags;
  metrics::histogram* op_tag_versions;  // tag versions read from Redis (not the near cache)
  metrics::counter* bytes_in;
  metrics::counter* bytes_out;
  metrics::counter* plain_bytes_written;
  metrics::counter* stored_bytes_written;
  metrics::counter* invalidations_push;
  metrics::counter* invalidations_flush;
  metrics::counter* invalidations_reconnect;
  metrics::counter* invalidations_slots;

 private:
  // A counter that follows a running total kept elsewhere.
  struct follower {
    metrics::counter* counter;
    std::uint64_t seen = 0;
    void advance(std::uint64_t total);
  };

  metrics::registry& reg_;
  std::mutex scrape_mutex_;  // guards the followers and the gauges' updates
  metrics::gauge* near_entries_;
  metrics::gauge* near_bytes_;
  metrics::gauge* compression_ratio_;
  metrics::gauge* redis_up_;
  follower near_evictions_;
  follower near_rejected_fills_;
  follower redis_connects_ok_;
  follower redis_connects_failed_;
  std::mutex error_mutex_;
  std::unordered_map<std::string, metrics::counter*> errors_;
};

}  // namespace rcache::cache_detail
