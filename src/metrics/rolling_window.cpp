// Rolling windows: rings of closed intervals over cumulative counters and
// histograms, advanced by the caller's clock.
//
// Each interval holds the difference between two readings of the source at
// consecutive boundaries, so the source itself is never reset and other
// readers (the Prometheus exposition) keep seeing totals since start.
//
// Threading: every member function locks mutex_; sources are read lock-free.
#include "metrics/rolling_window.hpp"

#include <algorithm>

namespace rcache::metrics {

// ============================================================================
// interval_clock
// ============================================================================

namespace detail {

interval_clock::interval_clock(window_clock::time_point start,
                               window_clock::duration interval) noexcept
    : start_(start),
      interval_(interval > window_clock::duration::zero() ? interval : window_clock::duration(1)) {}

std::uint64_t interval_clock::advance(window_clock::time_point now) noexcept {
  if (now < start_) return 0;
  const auto index = static_cast<std::uint64_t>((now - start_) / interval_);
  if (index <= open_) return 0;
  const std::uint64_t closed = index - open_;
  open_ = index;
  return closed;
}

}  // namespace detail

// ============================================================================
// rolling_counter
// ============================================================================

rolling_counter::rolling_counter(const counter& source, window_clock::time_point start,
                                 window_options options)
    : rolling_counter([&source] { return source.value(); }, start, options) {}

rolling_counter::rolling_counter(std::function<std::uint64_t()> read,
                                 window_clock::time_point start, window_options options)
    : read_(std::move(read)),
      capacity_(std::max<std::size_t>(1, options.intervals)),
      clock_(start, options.interval),
      last_(read_()) {}

void rolling_counter::advance(window_clock::time_point now) {
  std::lock_guard lock(mutex_);
  const std::uint64_t closed = clock_.advance(now);
  if (closed == 0) return;
  const std::uint64_t reading = read_();
  ring_.push_back(reading - last_);
  last_ = reading;
  // The intervals after the first that closed saw no advance(): empty. More
  // than capacity_ of them would push out everything anyway.
  const std::uint64_t empty = std::min<std::uint64_t>(closed - 1, capacity_);
  for (std::uint64_t i = 0; i < empty; ++i) ring_.push_back(0);
  while (ring_.size() > capacity_) ring_.pop_front();
}

std::uint64_t rolling_counter::sum(std::size_t intervals) const {
  std::lock_guard lock(mutex_);
  const std::size_t n = std::min(intervals, ring_.size());
  std::uint64_t total = 0;
  for (auto it = ring_.end() - static_cast<std::ptrdiff_t>(n); it != ring_.end(); ++it)
    total += *it;
  return total;
}

std::size_t rolling_counter::closed_intervals() const {
  std::lock_guard lock(mutex_);
  return ring_.size();
}

std::optional<double> hit_ratio(const rolling_counter& hits, const rolling_counter& misses,
                                std::size_t intervals) {
  const std::uint64_t h = hits.sum(intervals);
  const std::uint64_t total = h + misses.sum(intervals);
  if (total == 0) return std::nullopt;
  return static_cast<double>(h) / static_cast<double>(total);
}

// ============================================================================
// rolling_histogram
// ============================================================================

rolling_histogram::rolling_histogram(const histogram& source, window_clock::time_point start,
                                     window_options options)
    : source_(source),
      capacity_(std::max<std::size_t>(1, options.intervals)),
      clock_(start, options.interval),
      last_(source.snapshot()) {}

void rolling_histogram::advance(window_clock::time_point now) {
  std::lock_guard lock(mutex_);
  const std::uint64_t closed = clock_.advance(now);
  if (closed == 0) return;
  histogram_snapshot reading = source_.snapshot();
  interval delta;
  const auto now_counts = reading.buckets();
  const auto then_counts = last_.buckets();
  for (std::size_t i = 0; i < bucket_count; ++i) {
    // Buckets only grow, so the difference is never negative.
    if (const std::uint64_t d = now_counts[i] - then_counts[i]; d != 0) {
      delta.buckets.emplace_back(static_cast<std::uint16_t>(i), d);
    }
  }
  delta.sum = reading.sum() - last_.sum();
  ring_.push_back(std::move(delta));
  last_ = std::move(reading);
  const std::uint64_t empty = std::min<std::uint64_t>(closed - 1, capacity_);
  for (std::uint64_t i = 0; i < empty; ++i) ring_.emplace_back();
  while (ring_.size() > capacity_) ring_.pop_front();
}

histogram_snapshot rolling_histogram::window(std::size_t intervals) const {
  std::lock_guard lock(mutex_);
  const std::size_t n = std::min(intervals, ring_.size());
  std::vector<std::uint64_t> counts(bucket_count, 0);
  std::uint64_t sum = 0;
  for (auto it = ring_.end() - static_cast<std::ptrdiff_t>(n); it != ring_.end(); ++it) {
    for (const auto& [index, count] : it->buckets) counts[index] += count;
    sum += it->sum;
  }
  return histogram_snapshot::from_buckets(std::move(counts), sum);
}

std::size_t rolling_histogram::closed_intervals() const {
  std::lock_guard lock(mutex_);
  return ring_.size();
}

}  // namespace rcache::metrics
