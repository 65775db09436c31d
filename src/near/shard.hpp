// One shard of the near cache: an S3-FIFO cache bounded in entries and bytes,
// plus the invalidation bookkeeping behind the fill protocol.
//
// S3-FIFO (Yang et al., SOSP 2023): new keys enter a small FIFO (10% of the
// budget); at its head a key that was hit while there moves to the main FIFO,
// any other key is evicted and remembered in a ghost table. A key found in the
// ghost when it comes back goes straight to main. At the head of main, a key
// with a non-zero frequency is reinserted at the tail with its frequency
// decremented; a key at zero is evicted. A hit only increments a 2-bit
// frequency: no list is touched, so the hit path is a hash probe and a byte
// store. Scans of one-hit keys never reach main.
//
// Storage: entries live in fixed-size chunks (never moved, so growth is not a
// copy of the whole cache) and are indexed by an open-addressing table of
// (32-bit hash tag, entry index, value address) slots with linear probing and
// backward-shift deletion. Keys up to 66 bytes are stored inside the entry. A
// hit is two dependent cache misses: the slot, then the entry and the value's
// reference count fetched in parallel.
//
// Threading: every public member takes mutex_ (a spin-then-sleep lock, see
// hybrid_mutex.hpp), except fill_sequence() and the counter readers, which
// read atomics. Counters are written only under mutex_ (a relaxed load +
// store, no locked instruction) and read anywhere.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "near/hybrid_mutex.hpp"
#include "near/near_cache.hpp"

namespace rcache::near::detail {

/// A counter with one writer at a time (the shard lock holder) and readers
/// anywhere.
class shard_counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class alignas(64) shard {
 public:
  /// Bounds of this shard alone; max_bytes is also the largest charge stored.
  shard(std::size_t max_entries, std::size_t max_bytes);
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  [[nodiscard]] value_ptr get(std::string_view key, std::uint64_t hash, clock::time_point now);

  /// The shard's invalidation sequence number, for a fill token.
  [[nodiscard]] std::uint64_t fill_sequence() const noexcept {
    return sequence_.load(std::memory_order_acquire);
  }

  /// See near_cache::put and end_fill (a null `value`); `value_hash` is a
  /// hash of the value's bytes (near_cache::no_value_hash for none);
  /// `charge` is near_cache::charge() of the entry.
  [[nodiscard]] bool put(std::string_view key, std::uint64_t hash, value_ptr value,
                         std::uint64_t value_hash, clock::time_point expires_at,
                         std::uint64_t token_sequence, std::size_t charge);

  bool invalidate(std::string_view key, std::uint64_t hash);
  std::size_t invalidate_if(const std::function<bool(std::string_view)>& pred);
  void clear();
  std::size_t evict_expired(clock::time_point now);

  [[nodiscard]] std::size_t size() const noexcept { return count_.get(); }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_.get(); }
  void add_stats(near_cache_stats& out) const noexcept;

  /// Bookkeeping charged per entry besides key and value bytes: the entry
  /// record, two index slots (the index is at most half full), a ghost record,
  /// and the value's shared_ptr control block and std::string header.
  [[nodiscard]] static constexpr std::size_t overhead_bytes() noexcept;

 private:
  static constexpr std::uint32_t npos = 0xffffffffu;
  static constexpr std::size_t chunk_entries = 256;
  static constexpr std::size_t inline_key_capacity = 66;
  static constexpr std::size_t event_buckets = 256;

  enum class queue_id : std::uint8_t { none, small, main };

  // 128 bytes, aligned so that the fields a hit reads (hash, expiry, value,
  // frequency and the first 26 bytes of the key) share the first cache line.
  struct alignas(128) entry {
    std::uint64_t hash = 0;
    clock::time_point expires_at{};
    value_ptr value;
    std::uint32_t key_size = 0;
    std::uint8_t freq = 0;  // 0..3, saturating
    queue_id queue = queue_id::none;
    char key_inline[inline_key_capacity];
    std::unique_ptr<char[]> key_heap;  // when key_size > inline_key_capacity
    std::uint32_t prev = npos;         // towards the head (older)
    std::uint32_t next = npos;         // towards the tail (newer); free-list link
    std::size_t charge = 0;

    [[nodiscard]] std::string_view key() const noexcept {
      return {key_size <= inline_key_capacity ? key_inline : key_heap.get(), key_size};
    }
  };
  static_assert(sizeof(entry) == 128, "an entry is two cache lines, the first one hot");

  // An index slot: ref == 0 is empty, else entry index + 1. tag is the low 32
  // bits of the hash, which also give the slot's home position. value_hint is
  // the entry's value.get(), only ever prefetched (see find()).
  struct slot {
    std::uint32_t tag = 0;
    std::uint32_t ref = 0;
    const void* value_hint = nullptr;
  };

  // Ghost record: a key evicted from the small FIFO. It counts as present
  // while fewer than ghost_window() other keys have been evicted since
  // (stamps are a 32-bit eviction clock; 0 marks an empty bucket).
  struct ghost_record {
    std::uint32_t tag = 0;
    std::uint32_t stamp = 0;
  };

  struct fifo {
    std::uint32_t head = npos;  // oldest
    std::uint32_t tail = npos;  // newest
    std::size_t count = 0;
    std::size_t bytes = 0;
  };

  [[nodiscard]] entry& at(std::uint32_t i) noexcept {
    return chunks_[i / chunk_entries][i % chunk_entries];
  }
  [[nodiscard]] std::uint32_t find(std::string_view key, std::uint64_t hash) noexcept;
  [[nodiscard]] fifo& queue_of(queue_id q) noexcept {
    return q == queue_id::small ? small_ : main_;
  }

  void push_tail(queue_id q, std::uint32_t i) noexcept;
  void unlink(std::uint32_t i) noexcept;
  [[nodiscard]] std::uint32_t allocate_entry();
  void remove_entry(std::uint32_t i) noexcept;
  void table_insert(std::uint32_t hash_tag, std::uint32_t i, const void* value_hint);
  void table_erase(std::uint32_t hash_tag, std::uint32_t i) noexcept;
  void grow_table();

  void make_room(std::size_t charge) noexcept;
  void evict_small() noexcept;
  void evict_main() noexcept;

  void ghost_remember(std::uint64_t hash) noexcept;
  [[nodiscard]] bool ghost_recall(std::uint64_t hash) noexcept;
  [[nodiscard]] std::uint32_t ghost_window() const noexcept;

  void note_invalidation(std::uint64_t hash) noexcept;
  void note_fill(std::size_t bucket, std::uint64_t hash, std::uint64_t value_hash) noexcept;
  void refuse_pending_fills() noexcept;
  template <typename Pred>
  std::size_t remove_where(Pred pred, shard_counter& counter);

  // Layout: what every get() writes shares one cache line, what it only
  // reads sits on the next, so two threads hitting the same shard move one
  // line between their caches, not three.
  hybrid_mutex mutex_;
  shard_counter hits_;
  shard_counter misses_;

  alignas(64) std::vector<slot> table_;  // power-of-two size, at most half full
  std::vector<std::unique_ptr<entry[]>> chunks_;

  alignas(64) const std::size_t max_entries_;
  const std::size_t max_bytes_;
  const std::size_t small_max_entries_;
  const std::size_t small_max_bytes_;
  std::uint32_t free_head_ = npos;
  std::uint32_t allocated_ = 0;  // entries ever handed out of chunks_
  fifo small_;
  fifo main_;
  std::vector<ghost_record> ghost_;  // power-of-two size, resized with table_
  std::uint32_t ghost_clock_ = 0;

  // Fill protocol. sequence_ counts events; a token carries its value at
  // begin_fill. Per bucket b of key hashes: invalidated_at_[b], the
  // sequence number of the last invalidation of a key in b (or of a fill
  // record folded into it, below); filled_[b], the last completed fill: its
  // sequence number, key hash and value hash. fill_floor_ is the last event
  // that refused every pending fill (clear, invalidate_if). A put of key k
  // read as bytes v with token t is accepted iff t >= fill_floor_,
  // t >= invalidated_at_[b], and not (t < filled_[b].at, filled_[b] is k,
  // and its bytes differ from v). A refused put is an invalidation of b. An
  // accepted fill of another key replaces the record and folds the old one
  // into invalidated_at_[b]; a fill of k with the same bytes leaves it as
  // it is. Every number only grows, so a key's
  // own invalidation or rival fill is never forgotten.
  struct fill_record {
    std::uint64_t at = 0;  // 0: none yet
    std::uint64_t key = 0;
    std::uint64_t value = 0;
  };
  alignas(64) std::atomic<std::uint64_t> sequence_{0};
  std::uint64_t fill_floor_ = 0;
  std::array<std::uint64_t, event_buckets> invalidated_at_{};
  std::array<fill_record, event_buckets> filled_{};

  shard_counter count_;
  shard_counter bytes_;
  shard_counter expired_;
  shard_counter evictions_;
  shard_counter invalidations_;
  shard_counter rejected_fills_;
  shard_counter oversized_;
};

constexpr std::size_t shard::overhead_bytes() noexcept {
  return sizeof(entry) + 2 * sizeof(slot) + sizeof(ghost_record) + 64;
}

}  // namespace rcache::near::detail
