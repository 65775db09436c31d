// Log-linear histograms in fixed memory (HdrHistogram's bucket scheme).
//
// A value is an unsigned 64-bit integer: nanoseconds for latencies, bytes for
// sizes, anything non-negative. Values 0..31 have a bucket each; above that,
// every power-of-two range [2^k, 2^(k+1)) is cut into 16 equal sub-buckets,
// so a bucket is never wider than 1/16 of its lower bound. 976 buckets cover
// the whole range 0 .. 2^64-1; nothing is ever clamped and memory does not
// depend on what is recorded.
//
// A quantile is the midpoint of the bucket that holds the nearest-rank order
// statistic, clamped to the snapshot's min and max. The midpoint is at most
// half a bucket from any value in the bucket, so the reported quantile is
// within 1/32 (3.125 %) of the exact nearest-rank quantile (exact below 32).
//
// Threading: histogram::record() is lock-free (relaxed atomics, a bit trick
// for the bucket, no loop over buckets) and may run on any number of threads
// at once. snapshot() may run concurrently with it: its count is always the
// sum of its bucket counts, but sum / min / max may lag records in flight.
// A histogram_snapshot is a plain value (one owner at a time).
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace rcache::metrics {

// ============================================================================
// The bucket scheme
// ============================================================================

/// log2 of the number of linear sub-buckets per power of two.
inline constexpr unsigned sub_bucket_bits = 4;
/// Linear sub-buckets per power of two (16).
inline constexpr std::size_t sub_bucket_count = std::size_t{1} << sub_bucket_bits;
/// Buckets of every histogram: 976, whatever is recorded.
inline constexpr std::size_t bucket_count = (64 - sub_bucket_bits + 1) << sub_bucket_bits;
/// The guaranteed bound on |reported - exact| / exact for a quantile.
inline constexpr double max_relative_error = 1.0 / (2.0 * sub_bucket_count);

/// The bucket of `value`. Branch-free: values below 2*sub_bucket_count map to
/// themselves; above, `shift` drops all but the 5 leading bits, and those
/// bits (16..31) plus 16 per shift give the index.
[[nodiscard]] constexpr std::size_t bucket_index(std::uint64_t value) noexcept {
  constexpr std::uint64_t low_mask = (std::uint64_t{1} << (sub_bucket_bits + 1)) - 1;
  const auto shift =
      static_cast<unsigned>(std::bit_width(value | low_mask)) - (sub_bucket_bits + 1);
  return (std::size_t{shift} << sub_bucket_bits) + static_cast<std::size_t>(value >> shift);
}

/// The smallest value that falls into bucket `index` (< bucket_count).
[[nodiscard]] constexpr std::uint64_t bucket_lower(std::size_t index) noexcept {
  if (index < 2 * sub_bucket_count) return index;
  const auto shift = static_cast<unsigned>(index >> sub_bucket_bits) - 1;
  return static_cast<std::uint64_t>(index - (std::size_t{shift} << sub_bucket_bits)) << shift;
}

/// How many distinct values fall into bucket `index`: 1 below 32, else 2^shift.
[[nodiscard]] constexpr std::uint64_t bucket_width(std::size_t index) noexcept {
  if (index < 2 * sub_bucket_count) return 1;
  return std::uint64_t{1} << ((index >> sub_bucket_bits) - 1);
}

/// The largest value that falls into bucket `index` (inclusive; the last
/// bucket ends at 2^64-1).
[[nodiscard]] constexpr std::uint64_t bucket_upper(std::size_t index) noexcept {
  return bucket_lower(index) + (bucket_width(index) - 1);
}

/// The value reported for a quantile that lands in bucket `index`: its
/// midpoint, at most width/2 <= lower/32 from any value in the bucket.
[[nodiscard]] constexpr std::uint64_t bucket_midpoint(std::size_t index) noexcept {
  return bucket_lower(index) + (bucket_width(index) >> 1);
}

// ============================================================================
// Snapshots
// ============================================================================

/// A point-in-time copy of a histogram (or a merge or difference of such
/// copies): bucket counts, count, sum, min and max. Always bucket_count
/// buckets.
class histogram_snapshot {
 public:
  /// An empty snapshot: count 0, every quantile 0.
  histogram_snapshot();

  /// A snapshot from raw bucket counts (`counts.size()` must be bucket_count,
  /// else the result is empty). min / max are the bounds of the lowest and
  /// highest non-empty buckets, since the exact values are not known.
  [[nodiscard]] static histogram_snapshot from_buckets(std::vector<std::uint64_t> counts,
                                                       std::uint64_t sum);

  /// Number of recorded values (the sum of the bucket counts).
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  /// Sum of recorded values, modulo 2^64.
  [[nodiscard]] std::uint64_t sum() const noexcept { return sum_; }
  /// Smallest recorded value; 0 when empty.
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  /// Largest recorded value; 0 when empty.
  [[nodiscard]] std::uint64_t max() const noexcept { return count_ == 0 ? 0 : max_; }
  /// sum / count; 0 when empty.
  [[nodiscard]] double mean() const noexcept;

  /// The nearest-rank q-quantile (q in [0, 1], clamped): the value of rank
  /// ceil(q * count), reported within max_relative_error of the exact value.
  /// q = 0 gives min, q = 1 gives max. 0 when empty.
  [[nodiscard]] std::uint64_t quantile(double q) const noexcept;

  /// How many values lie in buckets that end at or below `bound`. Never
  /// counts a value above `bound`; values in the one bucket that straddles
  /// `bound` are left out. Used for Prometheus `le` buckets.
  [[nodiscard]] std::uint64_t count_at_or_below(std::uint64_t bound) const noexcept;

  /// The raw bucket counts, indexed like bucket_index().
  [[nodiscard]] std::span<const std::uint64_t> buckets() const noexcept { return counts_; }

  /// Adds `other` into this snapshot: counts and sums add, min / max widen.
  void merge(const histogram_snapshot& other) noexcept;

 private:
  friend class histogram;

  void recompute_count_and_range() noexcept;

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ = 0;
};

// ============================================================================
// The live histogram
// ============================================================================

/// A concurrent histogram: a fixed array of bucket_count atomic counters
/// plus sum, min and max. Not copyable or movable (hand out references).
class histogram {
 public:
  histogram() noexcept = default;
  histogram(const histogram&) = delete;
  histogram& operator=(const histogram&) = delete;

  /// Records one value. Lock-free, wait-free apart from the min/max CAS
  /// (which retries only while another thread lowers min / raises max).
  void record(std::uint64_t value) noexcept {
    counts_[bucket_index(value)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
    std::uint64_t seen = min_.load(std::memory_order_relaxed);
    while (value < seen && !min_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
    seen = max_.load(std::memory_order_relaxed);
    while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
  }

  /// Records a duration in nanoseconds; negative durations count as 0.
  void record(std::chrono::nanoseconds duration) noexcept {
    record(duration.count() < 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(duration.count()));
  }

  /// A copy of the current state; safe while other threads record.
  [[nodiscard]] histogram_snapshot snapshot() const;

 private:
  std::array<std::atomic<std::uint64_t>, bucket_count> counts_{};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> min_{std::numeric_limits<std::uint64_t>::max()};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace rcache::metrics
