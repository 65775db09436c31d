// One near-cache shard: S3-FIFO over an open-addressing index (see shard.hpp).
#include "near/shard.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace rcache::near::detail {

namespace {

constexpr std::size_t initial_table_slots = 64;

// Move a key in the small FIFO to main once it has been hit this many times
// while there. 1 (the variant most implementations use) measured a higher hit
// ratio than the paper's 2 on zipf traces (bench/hit_ratio.cpp).
constexpr std::uint8_t promote_threshold = 1;
constexpr std::uint8_t max_freq = 3;

[[nodiscard]] std::size_t event_bucket(std::uint64_t hash) noexcept {
  return static_cast<std::size_t>(hash >> 48) & 0xff;
}

[[nodiscard]] std::uint32_t hash_tag(std::uint64_t hash) noexcept {
  return static_cast<std::uint32_t>(hash);
}

}  // namespace

shard::shard(std::size_t max_entries, std::size_t max_bytes)
    : table_(initial_table_slots),
      max_entries_(
          std::min<std::size_t>(max_entries, std::numeric_limits<std::uint32_t>::max() / 2)),
      max_bytes_(max_bytes),
      small_max_entries_(std::max<std::size_t>(1, max_entries_ / 10)),
      small_max_bytes_(max_bytes / 10),
      ghost_(initial_table_slots) {}

shard::~shard() = default;

// ---- the hit path -----------------------------------------------------------

value_ptr shard::get(std::string_view key, std::uint64_t hash, clock::time_point now) {
  std::lock_guard lock(mutex_);
  const std::uint32_t i = find(key, hash);
  if (i == npos) {
    misses_.add();
    return nullptr;
  }
  entry& e = at(i);
  if (e.expires_at <= now) {
    remove_entry(i);
    expired_.add();
    misses_.add();
    return nullptr;
  }
  // Saturated keys skip the store, so a hot entry's line stays clean.
  if (e.freq < max_freq) ++e.freq;
  hits_.add();
  return e.value;
}

std::uint32_t shard::find(std::string_view key, std::uint64_t hash) noexcept {
  const std::uint32_t tag = hash_tag(hash);
  const std::size_t mask = table_.size() - 1;
  for (std::size_t pos = tag & mask;; pos = (pos + 1) & mask) {
    const slot s = table_[pos];
    if (s.ref == 0) return npos;
    if (s.tag != tag) continue;
    // The hit will increment the value's reference count: start fetching it
    // now, in parallel with the entry instead of after it. For a value made by
    // std::make_shared (as values usually are) the count sits just before the
    // object. A prefetch never faults, so a wrong guess only wastes a fetch.
    __builtin_prefetch(reinterpret_cast<const void*>(
                           reinterpret_cast<std::uintptr_t>(s.value_hint) - sizeof(void*)),
                       1);
    const entry& e = at(s.ref - 1);
    if (e.hash == hash && e.key() == key) return s.ref - 1;
  }
}

// ---- fills and invalidations ------------------------------------------------

bool shard::put(std::string_view key, std::uint64_t hash, value_ptr value, std::uint64_t value_hash,
                clock::time_point expires_at, std::uint64_t token_sequence, std::size_t charge) {
  std::lock_guard lock(mutex_);
  const std::size_t b = event_bucket(hash);
  const fill_record& last = filled_[b];
  const bool invalidated = token_sequence < fill_floor_ || token_sequence < invalidated_at_[b];
  // A fill of this key that read other bytes completed since this one
  // began: over several connections, which of the two reads Redis ran last
  // is unknown.
  const bool rival = token_sequence < last.at && last.key == hash && last.value != value_hash;
  if (invalidated || rival) {
    // This read's bytes are being handed to its caller, and which read is
    // newer is unknown: an entry holding other bytes may be the older, so
    // it goes, and every fill of the bucket pending since before now is as
    // suspect as this one (recording this read's bytes instead would let a
    // later fill of the same old bytes pass the test above).
    note_invalidation(hash);
    if (const std::uint32_t old = find(key, hash);
        old != npos && (!value || *at(old).value != *value)) {
      remove_entry(old);
      invalidations_.add();
    }
    if (value) rejected_fills_.add();
    return false;
  }
  note_fill(b, hash, value_hash);
  if (!value) {
    // The read found nothing to store; any entry is no newer than that.
    if (const std::uint32_t old = find(key, hash); old != npos) {
      remove_entry(old);
      invalidations_.add();
    }
    return false;
  }
  if (charge > max_bytes_ || max_entries_ == 0 ||
      key.size() > std::numeric_limits<std::uint32_t>::max()) {
    // The value this put would have replaced is older than the one refused:
    // it must not keep being served.
    if (const std::uint32_t old = find(key, hash); old != npos) remove_entry(old);
    oversized_.add();
    return false;
  }

  // Everything that can throw happens before the shard changes.
  std::unique_ptr<char[]> key_heap;
  if (key.size() > inline_key_capacity) {
    key_heap = std::make_unique_for_overwrite<char[]>(key.size());
    std::memcpy(key_heap.get(), key.data(), key.size());
  }
  if ((count_.get() + 1) * 2 > table_.size()) grow_table();
  if (free_head_ == npos && allocated_ == chunks_.size() * chunk_entries) {
    chunks_.push_back(std::make_unique<entry[]>(chunk_entries));
  }

  // A replaced key keeps its queue and frequency; a new key goes to main if
  // the ghost remembers it, else to the small FIFO.
  queue_id queue = queue_id::small;
  std::uint8_t freq = 0;
  if (const std::uint32_t old = find(key, hash); old != npos) {
    queue = at(old).queue;
    freq = at(old).freq;
    remove_entry(old);
  } else if (ghost_recall(hash)) {
    queue = queue_id::main;
  }
  make_room(charge);

  const std::uint32_t i = allocate_entry();
  entry& e = at(i);
  e.hash = hash;
  e.expires_at = expires_at;
  e.value = std::move(value);
  e.key_size = static_cast<std::uint32_t>(key.size());
  e.freq = freq;
  if (key_heap) {
    e.key_heap = std::move(key_heap);
  } else if (!key.empty()) {
    std::memcpy(e.key_inline, key.data(), key.size());
  }
  e.charge = charge;
  push_tail(queue, i);
  table_insert(hash_tag(hash), i, e.value.get());
  count_.add();
  bytes_.add(charge);
  return true;
}

bool shard::invalidate(std::string_view key, std::uint64_t hash) {
  std::lock_guard lock(mutex_);
  note_invalidation(hash);
  const std::uint32_t i = find(key, hash);
  if (i == npos) return false;
  remove_entry(i);
  invalidations_.add();
  return true;
}

std::size_t shard::invalidate_if(const std::function<bool(std::string_view)>& pred) {
  std::lock_guard lock(mutex_);
  // Which pending fills match `pred` is unknown (their keys are not here
  // yet), so all of them are refused.
  refuse_pending_fills();
  return remove_where([&](const entry& e) { return pred(e.key()); }, invalidations_);
}

void shard::clear() {
  // The shard restarts at its initial footprint; allocate that first, so a
  // bad_alloc leaves the shard untouched.
  std::vector<slot> table(initial_table_slots);
  std::vector<ghost_record> ghost(initial_table_slots);
  std::lock_guard lock(mutex_);
  refuse_pending_fills();
  invalidations_.add(count_.get());
  chunks_.clear();  // releases every value
  free_head_ = npos;
  allocated_ = 0;
  small_ = {};
  main_ = {};
  table_.swap(table);
  ghost_.swap(ghost);
  count_.sub(count_.get());
  bytes_.sub(bytes_.get());
}

std::size_t shard::evict_expired(clock::time_point now) {
  std::lock_guard lock(mutex_);
  return remove_where([&](const entry& e) { return e.expires_at <= now; }, expired_);
}

void shard::note_invalidation(std::uint64_t hash) noexcept {
  const std::uint64_t seq = sequence_.load(std::memory_order_relaxed) + 1;
  invalidated_at_[event_bucket(hash)] = seq;
  sequence_.store(seq, std::memory_order_release);
}

void shard::note_fill(std::size_t b, std::uint64_t hash, std::uint64_t value_hash) noexcept {
  fill_record& last = filled_[b];
  if (last.at != 0 && last.key != hash) {
    // The bucket keeps one fill record: the older one, of another key,
    // becomes a bucket-wide event, so no fill pending since before it can
    // miss that it came (a stricter test, never a weaker one).
    invalidated_at_[b] = std::max(invalidated_at_[b], last.at);
  }
  // The same key read as the same bytes again is no news: concurrent
  // misses of one hot key must not refuse each other.
  if (last.at != 0 && last.key == hash && last.value == value_hash) return;
  const std::uint64_t seq = sequence_.load(std::memory_order_relaxed) + 1;
  last = {seq, hash, value_hash};
  sequence_.store(seq, std::memory_order_release);
}

void shard::refuse_pending_fills() noexcept {
  const std::uint64_t seq = sequence_.load(std::memory_order_relaxed) + 1;
  fill_floor_ = seq;
  sequence_.store(seq, std::memory_order_release);
}

template <typename Pred>
std::size_t shard::remove_where(Pred pred, shard_counter& counter) {
  std::size_t removed = 0;
  for (fifo* q : {&small_, &main_}) {
    for (std::uint32_t i = q->head; i != npos;) {
      const std::uint32_t next = at(i).next;
      if (pred(at(i))) {
        remove_entry(i);
        ++removed;
      }
      i = next;
    }
  }
  counter.add(removed);
  return removed;
}

void shard::add_stats(near_cache_stats& out) const noexcept {
  out.hits += hits_.get();
  out.misses += misses_.get();
  out.expired += expired_.get();
  out.evictions += evictions_.get();
  out.invalidations += invalidations_.get();
  out.rejected_fills += rejected_fills_.get();
  out.oversized += oversized_.get();
}

// ---- S3-FIFO eviction ---------------------------------------------------------

// Evicts until one more entry of `charge` bytes fits. Terminates: every
// evict_small() takes an entry out of the small FIFO, and evict_main() either
// evicts or spends one unit of an entry's (bounded) frequency.
void shard::make_room(std::size_t charge) noexcept {
  while (count_.get() >= max_entries_ || bytes_.get() + charge > max_bytes_) {
    if (small_.count == 0 && main_.count == 0) return;  // charge <= max_bytes_: unreachable
    const bool small_over = small_.count >= small_max_entries_ || small_.bytes >= small_max_bytes_;
    if (small_.count > 0 && (small_over || main_.count == 0)) {
      evict_small();
    } else {
      evict_main();
    }
  }
}

void shard::evict_small() noexcept {
  const std::uint32_t i = small_.head;
  entry& e = at(i);
  if (e.freq >= promote_threshold) {
    unlink(i);
    e.freq = 0;  // its hits in the small FIFO paid for the promotion
    push_tail(queue_id::main, i);
    return;
  }
  ghost_remember(e.hash);
  remove_entry(i);
  evictions_.add();
}

void shard::evict_main() noexcept {
  const std::uint32_t i = main_.head;
  entry& e = at(i);
  if (e.freq > 0) {
    --e.freq;
    unlink(i);
    push_tail(queue_id::main, i);
    return;
  }
  remove_entry(i);
  evictions_.add();
}

// ---- the ghost ------------------------------------------------------------------

// A direct-mapped table the size of the index: a colliding key overwrites an
// older record (the ghost forgets a key early, which only costs that key a
// trip through the small FIFO), and a tag collision can make the ghost recall
// a key it never saw (that key skips the small FIFO). Neither affects
// correctness.
void shard::ghost_remember(std::uint64_t hash) noexcept {
  if (++ghost_clock_ == 0) ++ghost_clock_;
  const std::size_t mask = ghost_.size() - 1;
  ghost_[((hash * 0x9e3779b97f4a7c15ull) >> 32) & mask] = {hash_tag(hash), ghost_clock_};
}

bool shard::ghost_recall(std::uint64_t hash) noexcept {
  const std::size_t mask = ghost_.size() - 1;
  ghost_record& r = ghost_[((hash * 0x9e3779b97f4a7c15ull) >> 32) & mask];
  if (r.stamp == 0 || r.tag != hash_tag(hash) || ghost_clock_ - r.stamp >= ghost_window()) {
    return false;
  }
  r = {};
  return true;
}

// The paper's ghost holds as many keys as the main FIFO; the number of keys
// resident approximates that once the shard is full.
std::uint32_t shard::ghost_window() const noexcept {
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(count_.get(), 1));
}

// ---- storage: FIFOs, entry slab, index --------------------------------------------

void shard::push_tail(queue_id q, std::uint32_t i) noexcept {
  fifo& f = queue_of(q);
  entry& e = at(i);
  e.queue = q;
  e.prev = f.tail;
  e.next = npos;
  if (f.tail != npos) {
    at(f.tail).next = i;
  } else {
    f.head = i;
  }
  f.tail = i;
  ++f.count;
  f.bytes += e.charge;
}

void shard::unlink(std::uint32_t i) noexcept {
  entry& e = at(i);
  fifo& f = queue_of(e.queue);
  if (e.prev != npos) {
    at(e.prev).next = e.next;
  } else {
    f.head = e.next;
  }
  if (e.next != npos) {
    at(e.next).prev = e.prev;
  } else {
    f.tail = e.prev;
  }
  --f.count;
  f.bytes -= e.charge;
  e.queue = queue_id::none;
  e.prev = e.next = npos;
}

// Precondition: a free entry exists or the last chunk has room (put()
// allocates the chunk beforehand, so this never throws).
std::uint32_t shard::allocate_entry() {
  if (free_head_ != npos) {
    const std::uint32_t i = free_head_;
    free_head_ = at(i).next;
    at(i).next = npos;
    return i;
  }
  return allocated_++;
}

void shard::remove_entry(std::uint32_t i) noexcept {
  entry& e = at(i);
  table_erase(hash_tag(e.hash), i);
  unlink(i);
  count_.sub(1);
  bytes_.sub(e.charge);
  e.value.reset();
  e.key_heap.reset();
  e.key_size = 0;
  e.charge = 0;
  e.freq = 0;
  e.next = free_head_;
  free_head_ = i;
}

void shard::table_insert(std::uint32_t tag, std::uint32_t i, const void* value_hint) {
  const std::size_t mask = table_.size() - 1;
  std::size_t pos = tag & mask;
  while (table_[pos].ref != 0) pos = (pos + 1) & mask;
  table_[pos] = {tag, i + 1, value_hint};
}

// Backward-shift deletion: later members of the probe run move into the hole
// when that does not carry them past their home slot, so lookups never need
// tombstones.
void shard::table_erase(std::uint32_t tag, std::uint32_t i) noexcept {
  const std::size_t mask = table_.size() - 1;
  std::size_t hole = tag & mask;
  while (table_[hole].ref != i + 1) hole = (hole + 1) & mask;
  for (std::size_t j = (hole + 1) & mask; table_[j].ref != 0; j = (j + 1) & mask) {
    const std::size_t home = table_[j].tag & mask;
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      table_[hole] = table_[j];
      hole = j;
    }
  }
  table_[hole] = {};
}

// Doubles the index. The ghost is tied to the index size and restarts empty:
// growth happens a logarithmic number of times, while the shard warms up.
void shard::grow_table() {
  std::vector<slot> bigger(table_.size() * 2);
  std::vector<ghost_record> ghost(bigger.size());
  const std::size_t mask = bigger.size() - 1;
  for (const slot s : table_) {
    if (s.ref == 0) continue;
    std::size_t pos = s.tag & mask;
    while (bigger[pos].ref != 0) pos = (pos + 1) & mask;
    bigger[pos] = s;
  }
  table_ = std::move(bigger);
  ghost_ = std::move(ghost);
}

}  // namespace rcache::near::detail
