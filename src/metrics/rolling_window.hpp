// Rolling windows over cumulative metrics: "hit ratio over the last minute",
// "p99 over the last 10 seconds".
//
// A window is a ring of N closed intervals (60 x 1 s by default) laid over a
// live counter or histogram that keeps counting since start. The caller
// drives time with an explicit `now`, so tests need no clock and no sleeps:
// advance(now) closes every interval that has ended by `now`. Everything
// recorded since the previous advance() is attributed to the interval that
// just closed; intervals skipped over (no advance for a while) are empty.
// Queries see closed intervals only; the oldest ones age out of the ring.
//
// A histogram interval is stored sparsely (only its non-empty buckets), so a
// window costs memory in proportion to the spread of what was recorded,
// never more than N x bucket_count counters.
//
// Threading: advance() and the queries lock an internal mutex and may be
// called from any thread. The source is only read (relaxed loads), never
// locked: recording stays lock-free. The source must outlive the window.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "metrics/counter.hpp"
#include "metrics/histogram.hpp"

namespace rcache::metrics {

using window_clock = std::chrono::steady_clock;

/// The shape of a rolling window.
struct window_options {
  /// Length of one interval; > 0.
  window_clock::duration interval = std::chrono::seconds(1);
  /// Closed intervals kept; >= 1.
  std::size_t intervals = 60;
};

namespace detail {

/// Interval bookkeeping shared by the windows: which interval is open, and
/// how many close when time moves to `now`. Not thread-safe on its own.
class interval_clock {
 public:
  interval_clock(window_clock::time_point start, window_clock::duration interval) noexcept;

  /// Number of intervals that end in (previous now, now]; 0 when `now` is in
  /// the open interval, before `start`, or earlier than a previous call.
  [[nodiscard]] std::uint64_t advance(window_clock::time_point now) noexcept;

 private:
  window_clock::time_point start_;
  window_clock::duration interval_;
  std::uint64_t open_ = 0;  // index of the open interval, counted from start_
};

}  // namespace detail

/// A rolling window over a monotonic count (a counter, or any sum of them).
class rolling_counter {
 public:
  /// A window over `source`, which must outlive it. Counting starts at
  /// `start`; what the counter held before is not part of any interval.
  rolling_counter(const counter& source, window_clock::time_point start,
                  window_options options = {});

  /// A window over any monotonic reading (e.g. the sum of hits over every
  /// namespace); `read` is called in the constructor and in advance().
  rolling_counter(std::function<std::uint64_t()> read, window_clock::time_point start,
                  window_options options = {});

  /// Closes the intervals that have ended by `now`.
  void advance(window_clock::time_point now);

  /// The count over the last `intervals` closed intervals (fewer if fewer
  /// have closed; all of them if `intervals` exceeds the capacity).
  [[nodiscard]] std::uint64_t sum(std::size_t intervals) const;

  /// Closed intervals currently held (<= window_options::intervals).
  [[nodiscard]] std::size_t closed_intervals() const;

 private:
  std::function<std::uint64_t()> read_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  detail::interval_clock clock_;
  std::uint64_t last_;              // reading at the last interval boundary
  std::deque<std::uint64_t> ring_;  // oldest first, at most capacity_
};

/// hits / (hits + misses) over the last `intervals` closed intervals of two
/// windows advanced together; nullopt when there was no traffic.
[[nodiscard]] std::optional<double> hit_ratio(const rolling_counter& hits,
                                              const rolling_counter& misses, std::size_t intervals);

/// A rolling window over a histogram: live percentiles.
class rolling_histogram {
 public:
  /// A window over `source`, which must outlive it; values recorded before
  /// `start` are not part of any interval.
  rolling_histogram(const histogram& source, window_clock::time_point start,
                    window_options options = {});

  /// Closes the intervals that have ended by `now` (one snapshot of the
  /// source, O(bucket_count)).
  void advance(window_clock::time_point now);

  /// The merge of the last `intervals` closed intervals (fewer if fewer have
  /// closed). Exact min / max are not known per interval: they are the
  /// bounds of the lowest / highest non-empty bucket.
  [[nodiscard]] histogram_snapshot window(std::size_t intervals) const;

  /// Closed intervals currently held (<= window_options::intervals).
  [[nodiscard]] std::size_t closed_intervals() const;

 private:
  // One closed interval: the non-empty buckets' (index, count) and the sum.
  struct interval {
    std::vector<std::pair<std::uint16_t, std::uint64_t>> buckets;
    std::uint64_t sum = 0;
  };

  const histogram& source_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  detail::interval_clock clock_;
  histogram_snapshot last_;    // the source at the last interval boundary
  std::deque<interval> ring_;  // oldest first, at most capacity_
};

}  // namespace rcache::metrics
