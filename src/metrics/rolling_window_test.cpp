// Tests of rolling windows driven by an explicit clock: intervals close as
// time advances, old intervals age out, gaps are empty, hit ratios and live
// percentiles come out of the last N intervals. No sleeps.
#include "metrics/rolling_window.hpp"

#include <chrono>
#include <cstdint>
#include <gtest/gtest.h>

namespace rcache::metrics {
namespace {

using namespace std::chrono_literals;

const window_clock::time_point t0 = window_clock::time_point{} + 1000s;

TEST(RollingCounter, OldIntervalsAgeOut) {
  counter c;
  c.inc(5);  // before the window starts: part of no interval
  rolling_counter w(c, t0, {.interval = 1s, .intervals = 3});
  EXPECT_EQ(w.sum(3), 0u);
  EXPECT_EQ(w.closed_intervals(), 0u);

  c.inc(10);
  w.advance(t0 + 500ms);  // still inside the first interval
  EXPECT_EQ(w.closed_intervals(), 0u);
  w.advance(t0 + 1s);
  EXPECT_EQ(w.sum(3), 10u);

  c.inc(20);
  w.advance(t0 + 2s);
  c.inc(30);
  w.advance(t0 + 3s);
  EXPECT_EQ(w.sum(3), 60u);
  EXPECT_EQ(w.sum(1), 30u);
  EXPECT_EQ(w.sum(100), 60u);  // more than held: all of them

  c.inc(40);
  w.advance(t0 + 4s);  // the first interval (10) falls out
  EXPECT_EQ(w.closed_intervals(), 3u);
  EXPECT_EQ(w.sum(3), 90u);

  w.advance(t0 + 2s);  // time going backwards changes nothing
  EXPECT_EQ(w.sum(3), 90u);

  w.advance(t0 + 60s);  // a long quiet gap empties the window
  EXPECT_EQ(w.sum(3), 0u);
  EXPECT_EQ(w.closed_intervals(), 3u);
}

TEST(RollingCounter, ActivityDuringAGapGoesToTheFirstClosedInterval) {
  counter c;
  rolling_counter w(c, t0, {.interval = 1s, .intervals = 10});
  c.inc(7);
  w.advance(t0 + 3s + 200ms);  // closes intervals 0, 1 and 2 at once
  EXPECT_EQ(w.closed_intervals(), 3u);
  EXPECT_EQ(w.sum(3), 7u);
  EXPECT_EQ(w.sum(2), 0u);  // the two newest intervals are empty
}

TEST(RollingCounter, ReadsAnyMonotonicSource) {
  counter a;
  counter b;
  rolling_counter w([&] { return a.value() + b.value(); }, t0);
  a.inc(2);
  b.inc(3);
  w.advance(t0 + 1s);
  EXPECT_EQ(w.sum(60), 5u);
}

TEST(RollingCounter, HitRatioOverTheWindow) {
  counter hits;
  counter misses;
  const window_options shape{.interval = 1s, .intervals = 2};
  rolling_counter h(hits, t0, shape);
  rolling_counter m(misses, t0, shape);
  EXPECT_EQ(hit_ratio(h, m, 2), std::nullopt);  // no traffic yet

  hits.inc(90);
  misses.inc(10);
  h.advance(t0 + 1s);
  m.advance(t0 + 1s);
  ASSERT_TRUE(hit_ratio(h, m, 2).has_value());
  EXPECT_DOUBLE_EQ(*hit_ratio(h, m, 2), 0.9);

  hits.inc(10);
  misses.inc(30);
  h.advance(t0 + 2s);
  m.advance(t0 + 2s);
  EXPECT_DOUBLE_EQ(*hit_ratio(h, m, 1), 0.25);  // the last second only
  EXPECT_DOUBLE_EQ(*hit_ratio(h, m, 2), 100.0 / 140.0);

  h.advance(t0 + 10s);
  m.advance(t0 + 10s);
  EXPECT_EQ(hit_ratio(h, m, 2), std::nullopt);  // everything aged out
}

TEST(RollingHistogram, LivePercentilesOfTheLastIntervals) {
  histogram source;
  source.record(999'999'999);  // before the window: part of no interval
  rolling_histogram w(source, t0, {.interval = 1s, .intervals = 3});

  for (int i = 0; i < 100; ++i) source.record(1'000);  // 1 us
  w.advance(t0 + 1s);
  for (int i = 0; i < 100; ++i) source.record(1'000'000);  // 1 ms
  w.advance(t0 + 2s);

  const histogram_snapshot last = w.window(1);
  EXPECT_EQ(last.count(), 100u);
  EXPECT_EQ(last.sum(), 100'000'000u);
  EXPECT_NEAR(static_cast<double>(last.quantile(0.99)), 1e6, 1e6 * max_relative_error);

  const histogram_snapshot both = w.window(3);
  EXPECT_EQ(both.count(), 200u);
  EXPECT_NEAR(static_cast<double>(both.quantile(0.5)), 1e3, 1e3 * max_relative_error);
  EXPECT_NEAR(static_cast<double>(both.quantile(0.9)), 1e6, 1e6 * max_relative_error);
  // Per-interval min / max are bucket bounds around the true values.
  EXPECT_LE(both.min(), 1'000u);
  EXPECT_GE(both.max(), 1'000'000u);
  EXPECT_LE(both.max(), 1'000'000u + 1'000'000u / 16);

  for (int i = 0; i < 10; ++i) source.record(50'000);
  w.advance(t0 + 3s);
  w.advance(t0 + 4s);  // now holds intervals 1, 2, 3: the 1 us interval aged out
  EXPECT_EQ(w.closed_intervals(), 3u);
  const histogram_snapshot later = w.window(3);
  EXPECT_EQ(later.count(), 110u);
  EXPECT_GE(later.min(), 40'000u);

  w.advance(t0 + 100s);
  EXPECT_EQ(w.window(3).count(), 0u);
  EXPECT_EQ(source.snapshot().count(), 211u);  // the source still counts since start
}

}  // namespace
}  // namespace rcache::metrics
