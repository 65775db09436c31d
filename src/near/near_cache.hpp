// The near cache: an in-process, bounded, sharded cache of immutable
// values in front of Redis.
//
// Keys hash to one of a power-of-two number of shards; each shard is an
// independent S3-FIFO cache (a small probationary FIFO, a main FIFO and a
// ghost of recently evicted keys) behind its own mutex, bounded both in
// entries and in bytes (key + value + a per-entry overhead estimate). A hit
// takes one shard lock, bumps a 2-bit frequency and copies a shared_ptr: no
// allocation, no list movement. A one-pass scan of cold keys only churns the
// small FIFO, so a frequently used working set in the main FIFO survives it.
//
// Coherence with Redis (server-assisted client-side caching) is the cache
// layer's job; this structure gives it the one primitive it needs, the fill
// protocol: take a fill_token with begin_fill(key) *before* issuing the Redis
// read, then put(key, value, expires_at, token). An invalidate(key),
// invalidate_if(), invalidate_prefix() or clear() that starts after
// begin_fill() makes the matching put() a no-op, so a value read from Redis
// while its key was being invalidated is never stored.
//
// Two fills of one key that overlap and read different bytes are refused
// too: the later put() is a no-op that also drops the entry the earlier one
// stored. Over one connection, replies come in the order Redis ran the
// reads; over several (a connection per thread), they need not: a read that
// Redis ran first may complete last, and storing it would serve a version
// older than the one its rival's caller was just given (reads that go
// backwards). Neither value is kept, since which is newer is unknown; the
// next read misses and fetches the current one. Overlapping fills that read
// the same bytes (a burst of misses on a hot key) do not refuse each other.
// A read that finds nothing to store (absent key, too short a TTL) ends
// with end_fill(), for the same reason.
//
// It costs nothing per pending fill: each shard keeps a sequence number of
// events and, for 256 buckets of key hashes, the sequence number of the
// last invalidation and a record of the last completed fill (key hash,
// value hash). A put is refused if its token is older than the bucket's
// last invalidation, or older than a fill of the same key that read other
// bytes; a refused put then counts as an invalidation of its bucket (the
// fills pending with it are as suspect as it is). A bucket keeps one fill
// record: a fill of another key in the same
// bucket turns the previous record into a bucket-wide event. Keys sharing a
// bucket can so make a put be refused needlessly (a false positive: one
// lost fill, counted in stats().rejected_fills); a stale value is never
// accepted.
//
// Threading: every member function may be called from any thread
// concurrently. Values are std::shared_ptr<const std::string>: a caller's copy
// stays valid after the entry is evicted, replaced or invalidated.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::near {

using clock = std::chrono::steady_clock;

/// An immutable, shared value. Never null inside the cache.
using value_ptr = std::shared_ptr<const std::string>;

struct near_cache_options {
  /// Bound on the bytes charged to entries (see near_cache::charge()), summed
  /// over all shards. Each shard gets max_bytes / shards, which is also the
  /// largest entry that can be stored.
  std::size_t max_bytes = 64u * 1024 * 1024;
  /// Bound on the number of entries, summed over all shards.
  std::size_t max_entries = 100'000;
  /// Number of shards; rounded up to a power of two. 0 derives it from
  /// std::thread::hardware_concurrency() (at least 16); at most 256. It is then lowered
  /// until every shard holds at least 64 entries and 64 KiB, so that small
  /// caches keep a useful policy and can hold entries of reasonable size.
  std::size_t shards = 0;
};

/// Counters since construction, summed over shards. Each is read with a
/// relaxed load, so a snapshot taken under load is not atomic as a whole.
struct near_cache_stats {
  std::uint64_t hits = 0;            // get() returned a value
  std::uint64_t misses = 0;          // get() found nothing or an expired entry
  std::uint64_t expired = 0;         // entries dropped because their TTL ran out
  std::uint64_t evictions = 0;       // entries dropped by the policy to make room
  std::uint64_t invalidations = 0;   // entries dropped by invalidate*() or clear()
  std::uint64_t rejected_fills = 0;  // put() refused: an invalidation or a fill raced it
  std::uint64_t oversized = 0;       // put() refused: the entry exceeds a shard's budget
};

/// Proof that a fill of one key began at a given point in that key's shard's
/// invalidation history. Obtained from near_cache::begin_fill(); valid only
/// for the same key on the same near_cache.
class fill_token {
 private:
  friend class near_cache;
  fill_token(std::uint64_t hash, std::uint64_t sequence) noexcept
      : hash_(hash), sequence_(sequence) {}
  std::uint64_t hash_;
  std::uint64_t sequence_;
};

namespace detail {
class shard;
}

class near_cache {
 public:
  /// Throws std::bad_alloc only; any options are accepted (bounds of 0 make a
  /// cache that stores nothing).
  explicit near_cache(near_cache_options options = {});
  ~near_cache();
  near_cache(const near_cache&) = delete;
  near_cache& operator=(const near_cache&) = delete;

  /// The value of `key` if present and `now < expires_at`; null otherwise. An
  /// expired entry is dropped. Counts a hit or a miss. Never allocates.
  [[nodiscard]] value_ptr get(std::string_view key, clock::time_point now);

  /// Starts a fill of `key`: call it before the Redis read whose result will
  /// be put(). Lock-free.
  [[nodiscard]] fill_token begin_fill(std::string_view key) const noexcept;

  /// Stores `value` (not null) for `key` until `expires_at`, replacing any
  /// present value, evicting as the policy decides. Returns false, storing
  /// nothing, when an invalidation of `key` (or a clear, or an
  /// invalidate_if/prefix), or another put() or end_fill() of `key` that
  /// read other bytes, came after begin_fill() returned `token` (then a
  /// present value with other bytes is dropped: its order against this one
  /// is unknown), when `token` belongs to another key, or when the entry is
  /// larger than a shard's byte budget (then a value already present is
  /// dropped, since it is older). The caller passes expires_at no later than
  /// the server's remaining TTL. Copies `key`.
  [[nodiscard]] bool put(std::string_view key, value_ptr value, clock::time_point expires_at,
                         const fill_token& token);

  /// Ends a fill that stores nothing: the read found `key` absent, or with
  /// too short a TTL to keep. Drops any entry of `key` (it is no newer than
  /// what the read saw, which goes to its caller) and counts, for
  /// overlapping fills of `key`, as a read of "no value". A token of
  /// another key is ignored.
  void end_fill(std::string_view key, const fill_token& token);

  /// The value hash end_fill() records; a value hashing to it is recorded
  /// as the next number.
  static constexpr std::uint64_t no_value_hash = 0x9E3779B97F4A7C15ull;

  /// Drops `key` and refuses pending fills of it. Returns whether an entry was
  /// dropped. O(1).
  bool invalidate(std::string_view key);

  /// Drops every key starting with `prefix` (a namespace clear). Refuses all
  /// fills pending at the time, whatever their key. O(entries).
  std::size_t invalidate_prefix(std::string_view prefix);

  /// Drops every key for which `pred` returns true. `pred` runs under a shard
  /// lock: it must not call back into this cache. Refuses all fills pending
  /// at the time, whatever their key. Returns the number dropped. O(entries).
  std::size_t invalidate_if(const std::function<bool(std::string_view)>& pred);

  /// Drops everything and refuses all pending fills (FLUSHALL, a lost
  /// connection, a failover).
  void clear();

  /// Drops the entries expired at `now`; returns how many. Expired entries are
  /// otherwise dropped lazily, by get() or by the policy. O(entries).
  std::size_t evict_expired(clock::time_point now);

  /// Entries and charged bytes currently held; never above the bounds.
  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] std::size_t bytes() const noexcept;
  [[nodiscard]] near_cache_stats stats() const noexcept;

  /// The effective shard count, and the largest charge() that can be stored.
  [[nodiscard]] std::size_t shard_count() const noexcept { return shards_.size(); }
  [[nodiscard]] std::size_t max_entry_bytes() const noexcept { return max_entry_bytes_; }

  /// The bytes an entry is charged: key, value and an estimate of the
  /// per-entry bookkeeping (entry record, hash slots, the value's control
  /// block and string header).
  [[nodiscard]] static std::size_t charge(std::size_t key_size, std::size_t value_size) noexcept;

 private:
  [[nodiscard]] detail::shard& shard_for(std::uint64_t hash) const noexcept;

  std::vector<std::unique_ptr<detail::shard>> shards_;
  std::uint64_t shard_mask_ = 0;  // shard index = (hash >> 56) & shard_mask_
  std::size_t max_entry_bytes_ = 0;
};

}  // namespace rcache::near
