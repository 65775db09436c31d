// Snapshots of log-linear histograms: copying, merging, quantiles.
//
// Threading: histogram::snapshot() reads the live atomics with relaxed
// loads while other threads record; everything else works on plain values.
#include "metrics/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace rcache::metrics {

// Every bucket boundary is consistent: the scheme is checked at compile time
// at its edges (0, the end of the linear range, the top of the range).
static_assert(bucket_count == 976);
static_assert(bucket_index(0) == 0 && bucket_index(31) == 31 && bucket_index(32) == 32);
static_assert(bucket_index(33) == 32 && bucket_index(34) == 33);
static_assert(bucket_index(std::numeric_limits<std::uint64_t>::max()) == bucket_count - 1);
static_assert(bucket_upper(bucket_count - 1) == std::numeric_limits<std::uint64_t>::max());
static_assert(bucket_lower(32) == 32 && bucket_upper(32) == 33 && bucket_lower(33) == 34);

histogram_snapshot::histogram_snapshot() : counts_(bucket_count, 0) {}

histogram_snapshot histogram_snapshot::from_buckets(std::vector<std::uint64_t> counts,
                                                    std::uint64_t sum) {
  histogram_snapshot out;
  if (counts.size() != bucket_count) return out;
  out.counts_ = std::move(counts);
  out.sum_ = sum;
  out.min_ = std::numeric_limits<std::uint64_t>::max();
  out.max_ = 0;
  out.recompute_count_and_range();
  return out;
}

// Sets count_ from the buckets and makes min_ / max_ agree with them: a value
// outside the lowest (highest) non-empty bucket is either unknown (from
// buckets alone) or stale (a record in flight during snapshot()), and is
// replaced by that bucket's bound. Invariant afterwards: min_ lies in the
// lowest non-empty bucket and max_ in the highest.
void histogram_snapshot::recompute_count_and_range() noexcept {
  count_ = 0;
  std::size_t lowest = bucket_count;
  std::size_t highest = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    if (counts_[i] == 0) continue;
    count_ += counts_[i];
    if (lowest == bucket_count) lowest = i;
    highest = i;
  }
  if (count_ == 0) {
    min_ = std::numeric_limits<std::uint64_t>::max();
    max_ = 0;
    return;
  }
  if (min_ < bucket_lower(lowest) || min_ > bucket_upper(lowest)) min_ = bucket_lower(lowest);
  if (max_ < bucket_lower(highest) || max_ > bucket_upper(highest)) max_ = bucket_upper(highest);
}

double histogram_snapshot::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

std::uint64_t histogram_snapshot::quantile(double q) const noexcept {
  if (count_ == 0) return 0;
  if (!(q > 0.0)) return min_;  // also NaN
  if (q >= 1.0) return max_;
  // Nearest rank, ceil(q * n). q * n is shrunk by a few ulps first so that
  // 0.999 * 100000 (99900.00000000001 in binary) is rank 99900, not 99901.
  const double scaled = q * static_cast<double>(count_);
  auto rank = static_cast<std::uint64_t>(std::ceil(scaled * (1.0 - 4 * 2.220446049250313e-16)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  if (rank == 1) return min_;
  if (rank == count_) return max_;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucket_midpoint(i), min_, max_);
  }
  return max_;  // unreachable: the buckets sum to count_
}

std::uint64_t histogram_snapshot::count_at_or_below(std::uint64_t bound) const noexcept {
  const std::size_t straddling = bucket_index(bound);
  const std::size_t end = bucket_upper(straddling) == bound ? straddling + 1 : straddling;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < end; ++i) total += counts_[i];
  return total;
}

void histogram_snapshot::merge(const histogram_snapshot& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

histogram_snapshot histogram::snapshot() const {
  histogram_snapshot out;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    out.counts_[i] = counts_[i].load(std::memory_order_relaxed);
  }
  out.sum_ = sum_.load(std::memory_order_relaxed);
  out.min_ = min_.load(std::memory_order_relaxed);
  out.max_ = max_.load(std::memory_order_relaxed);
  out.recompute_count_and_range();
  return out;
}

}  // namespace rcache::metrics
