// The metrics of a cache that do not depend on a namespace (cache_metrics.hpp).
#include "cache/cache_metrics.hpp"

#include <algorithm>

#include "cache/stored_read.hpp"

namespace rcache::cache_detail {

using boost::system::error_code;

namespace {

metrics::histogram* op_histogram(metrics::registry& reg, std::string_view op) {
  return reg
      .histogram("rcache_op_duration_seconds", "Cache operation latency (Redis round trips)",
                 {{"op", std::string(op)}})
      .value();
}

metrics::counter* invalidations(metrics::registry& reg, std::string_view source) {
  return reg
      .counter("rcache_invalidations_total", "Near-cache invalidations by source",
               {{"source", std::string(source)}})
      .value();
}

metrics::counter* connects(metrics::registry& reg, std::string_view result) {
  return reg
      .counter("rcache_redis_connects_total", "Redis connection attempts by outcome",
               {{"result", std::string(result)}})
      .value();
}

}  // namespace

cache_metrics::cache_metrics(metrics::registry& reg)
    : op_get(op_histogram(reg, "get")),
      op_set(op_histogram(reg, "set")),
      op_del(op_histogram(reg, "del")),
      op_exists(op_histogram(reg, "exists")),
      op_ttl(op_histogram(reg, "ttl")),
      op_expire(op_histogram(reg, "expire")),
      op_touch(op_histogram(reg, "touch")),
      op_get_many(op_histogram(reg, "get_many")),
      op_set_many(op_histogram(reg, "set_many")),
      op_load(op_histogram(reg, "load")),
      op_invalidate_tags(op_histogram(reg, "invalidate_tags")),
      op_tag_versions(op_histogram(reg, "tag_versions")),
      bytes_in(reg.counter("rcache_bytes_total", "Value bytes", {{"direction", "in"}}).value()),
      bytes_out(reg.counter("rcache_bytes_total", "Value bytes", {{"direction", "out"}}).value()),
      plain_bytes_written(
          reg.counter("rcache_value_plain_bytes_total", "Bytes of values before encoding").value()),
      stored_bytes_written(
          reg.counter("rcache_value_stored_bytes_total", "Bytes of values as stored").value()),
      invalidations_push(invalidations(reg, "push")),
      invalidations_flush(invalidations(reg, "flush")),
      invalidations_reconnect(invalidations(reg, "reconnect")),
      invalidations_slots(invalidations(reg, "slots")),
      reg_(reg),
      near_entries_(reg.gauge("rcache_near_cache_entries", "Entries in the near cache").value()),
      near_bytes_(reg.gauge("rcache_near_cache_bytes", "Bytes charged to the near cache").value()),
      compression_ratio_(
          reg.gauge("rcache_compression_ratio", "Stored bytes over plain bytes of values written")
              .value()),
      redis_up_(
          reg.gauge("rcache_redis_up", "1 while every Redis connection is up, else 0").value()),
      near_evictions_{
          reg.counter("rcache_near_cache_evictions_total", "Near-cache evictions by the policy")
              .value()},
      near_rejected_fills_{reg.counter("rcache_near_cache_rejected_fills_total",
                                       "Reads not stored in the near cache: the key was "
                                       "invalidated, or read with other bytes by another "
                                       "request, while the read was in flight")
                               .value()},
      redis_connects_ok_{connects(reg, "ok")},
      redis_connects_failed_{connects(reg, "failed")} {}

error_code cache_metrics::tally(metrics::histogram* op, std::chrono::steady_clock::time_point t0,
                                error_code ec, const response& resp) {
  op->record(std::chrono::steady_clock::now() - t0);
  if (!ec) {
    const auto bad =
        std::find_if(resp.begin(), resp.end(), [](const value& v) { return v.is_error(); });
    if (bad != resp.end()) ec = error_of(*bad);
  }
  if (ec) count_error(ec);
  return ec;
}

void cache_metrics::count_error(const error_code& ec) {
  std::string kind = ec.category() == error_category()
                         ? std::string(to_string(static_cast<error>(ec.value())))
                         : std::string(ec.category().name());
  metrics::counter* c = nullptr;
  {
    std::lock_guard lock(error_mutex_);
    auto& slot = errors_[kind];
    if (!slot) {
      auto r =
          reg_.counter("rcache_errors_total", "Failed cache operations by kind", {{"kind", kind}});
      if (r) slot = *r;
    }
    c = slot;
  }
  if (c) c->inc();
}

void cache_metrics::follower::advance(std::uint64_t total) {
  if (total > seen) counter->inc(total - seen);
  seen = std::max(seen, total);
}

void cache_metrics::scrape(const near::near_cache* near, const client& redis) {
  std::lock_guard lock(scrape_mutex_);
  if (near) {
    const auto s = near->stats();
    near_entries_->set(static_cast<double>(near->size()));
    near_bytes_->set(static_cast<double>(near->bytes()));
    near_evictions_.advance(s.evictions);
    near_rejected_fills_.advance(s.rejected_fills);
  }
  const auto rs = redis.stats();
  redis_connects_ok_.advance(rs.connects);
  redis_connects_failed_.advance(rs.connect_failures);
  redis_up_->set(redis.state() == connection_state::connected ? 1 : 0);
  const auto plain = plain_bytes_written->value();
  if (plain > 0) {
    compression_ratio_->set(static_cast<double>(stored_bytes_written->value()) /
                            static_cast<double>(plain));
  }
}

}  // namespace rcache::cache_detail
