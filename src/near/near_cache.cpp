// The near cache's sharding layer: hashes a key once, picks its shard by the
// top bits and forwards. Shards never talk to each other, so an operation on
// one key takes exactly one shard lock; only the whole-cache operations
// (invalidate_if, clear, evict_expired) visit every shard, one at a time.
#include "near/near_cache.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <thread>

#include "near/shard.hpp"

namespace rcache::near {

namespace {

constexpr std::size_t max_shards = 256;  // index = bits 56..63 of the hash
constexpr std::size_t min_entries_per_shard = 64;
constexpr std::size_t min_bytes_per_shard = 64u * 1024;

// libstdc++ hashes strings with MurmurHash2-64, whose final avalanche spreads
// every input bit over the top bits used for the shard and the low bits used
// for the index.
[[nodiscard]] std::uint64_t hash_key(std::string_view key) noexcept {
  return std::hash<std::string_view>{}(key);
}

[[nodiscard]] std::size_t shard_count_for(const near_cache_options& o) {
  std::size_t n = o.shards;
  if (n == 0) n = std::max<std::size_t>(16, 4 * std::thread::hardware_concurrency());
  n = std::bit_ceil(std::min(n, max_shards));
  while (n > 1 &&
         (o.max_entries / n < min_entries_per_shard || o.max_bytes / n < min_bytes_per_shard)) {
    n /= 2;
  }
  return n;
}

}  // namespace

near_cache::near_cache(near_cache_options options) {
  const std::size_t n = shard_count_for(options);
  shards_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    shards_.push_back(
        std::make_unique<detail::shard>(options.max_entries / n, options.max_bytes / n));
  }
  shard_mask_ = n - 1;
  max_entry_bytes_ = options.max_entries / n == 0 ? 0 : options.max_bytes / n;
}

near_cache::~near_cache() = default;

detail::shard& near_cache::shard_for(std::uint64_t hash) const noexcept {
  return *shards_[(hash >> 56) & shard_mask_];
}

std::size_t near_cache::charge(std::size_t key_size, std::size_t value_size) noexcept {
  return key_size + value_size + detail::shard::overhead_bytes();
}

value_ptr near_cache::get(std::string_view key, clock::time_point now) {
  const std::uint64_t hash = hash_key(key);
  return shard_for(hash).get(key, hash, now);
}

fill_token near_cache::begin_fill(std::string_view key) const noexcept {
  const std::uint64_t hash = hash_key(key);
  return fill_token(hash, shard_for(hash).fill_sequence());
}

bool near_cache::put(std::string_view key, value_ptr value, clock::time_point expires_at,
                     const fill_token& token) {
  const std::uint64_t hash = hash_key(key);
  if (!value || token.hash_ != hash) return false;
  const std::size_t bytes = charge(key.size(), value->size());
  // Hashed here, outside the shard's lock: a rival fill is told apart by
  // the bytes it read.
  std::uint64_t value_hash = hash_key(*value);
  if (value_hash == no_value_hash) ++value_hash;
  return shard_for(hash).put(key, hash, std::move(value), value_hash, expires_at, token.sequence_,
                             bytes);
}

void near_cache::end_fill(std::string_view key, const fill_token& token) {
  const std::uint64_t hash = hash_key(key);
  if (token.hash_ != hash) return;
  (void)shard_for(hash).put(key, hash, nullptr, no_value_hash, clock::time_point{}, token.sequence_,
                            0);
}

bool near_cache::invalidate(std::string_view key) {
  const std::uint64_t hash = hash_key(key);
  return shard_for(hash).invalidate(key, hash);
}

std::size_t near_cache::invalidate_prefix(std::string_view prefix) {
  return invalidate_if([prefix](std::string_view key) { return key.starts_with(prefix); });
}

std::size_t near_cache::invalidate_if(const std::function<bool(std::string_view)>& pred) {
  std::size_t removed = 0;
  for (const auto& s : shards_) removed += s->invalidate_if(pred);
  return removed;
}

void near_cache::clear() {
  for (const auto& s : shards_) s->clear();
}

std::size_t near_cache::evict_expired(clock::time_point now) {
  std::size_t removed = 0;
  for (const auto& s : shards_) removed += s->evict_expired(now);
  return removed;
}

std::size_t near_cache::size() const noexcept {
  std::size_t n = 0;
  for (const auto& s : shards_) n += s->size();
  return n;
}

std::size_t near_cache::bytes() const noexcept {
  std::size_t n = 0;
  for (const auto& s : shards_) n += s->bytes();
  return n;
}

near_cache_stats near_cache::stats() const noexcept {
  near_cache_stats out;
  for (const auto& s : shards_) s->add_stats(out);
  return out;
}

}  // namespace rcache::near
