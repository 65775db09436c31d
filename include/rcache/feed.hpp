// rcache::change_log — the change feed's log of the cache's writes.
//
// A change log is the cache's write_observer (cache_options::observer):
// every change the cache makes — a set, a delete, an expire or touch, each
// key an invalidation unlinked — is appended to a Redis Stream, from which
// `rcache serve` feeds WebSocket subscribers (docs/feed.md), in the order
// Redis confirmed the writes on the cache's connection. The streams are
// readable by any Redis client:
//
//   <prefix>{<tag>}        one stream per shard: XADD entries with the fields
//                          ns, key, op (set|del|expire|touch|invalidate),
//                          ttl (ms; 0 none, -1 unknown), size (bytes of the
//                          value, set only) and, for small values, value
//   <prefix>{<tag>}:epoch  the shard's epoch: changes when the stream is
//                          lost (created by the feed's reader, SET NX)
//
// Sharding: the 16384 Redis Cluster hash slots are cut into `shards` equal
// ranges; a key's change goes to the stream of its slot's range, and each
// stream's tag is chosen to hash into that range, so in a cluster whose
// masters hold contiguous slot ranges a change is logged on the node that
// holds its key.
//
// Bounds: each append trims its stream to about max_length entries (XADD
// MAXLEN ~); one append in 64 trims by age instead (MINID ~ now -
// retention). Appending never delays the write's caller: the XADD is sent
// when the write's reply arrives and its own reply is only counted.
//
// Use: hand it to the cache, which attaches its own client to it:
//   auto log = std::make_shared<rcache::change_log>(rcache::change_log_options{});
//   rcache::cache_options o;
//   o.observer = log;
//   auto c = rcache::cache::create(executor, o);
//
// Threading: thread-safe.
#pragma once

#include <rcache/cache.hpp>
#include <rcache/client.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rcache {

struct change_log_options {
  /// The streams' key prefix; must not contain '{' or '}'.
  std::string prefix = "rcache:feed:";
  /// Streams (slot ranges): 1 to 1024.
  unsigned shards = 16;
  /// Entries kept per stream, approximately (XADD MAXLEN ~).
  std::size_t max_length = 100'000;
  /// Entries older than this are trimmed (XADD MINID ~, one append in 64).
  std::chrono::seconds retention{3600};
  /// A set's value is logged with it when it has at most this many bytes;
  /// 0: never (the gateway sets 0 when values are encrypted: the log would
  /// hold them in plaintext).
  std::size_t value_max_bytes = 1024;
};

/// Counts of a change log's appends.
struct change_log_stats {
  std::uint64_t appended = 0;  // XADDs Redis confirmed
  std::uint64_t failed = 0;    // appends that failed or found no client (not in the feed)
};

class change_log : public write_observer {
 public:
  /// Throws std::invalid_argument for options out of range.
  explicit change_log(change_log_options o);
  ~change_log() override;
  change_log(const change_log&) = delete;
  change_log& operator=(const change_log&) = delete;

  void on_attach(client& redis) noexcept override;
  void on_write(const write_event& e) noexcept override;
  void on_detach() noexcept override;

  [[nodiscard]] const change_log_options& options() const noexcept;
  [[nodiscard]] change_log_stats stats() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace rcache
