// Tests of the log-linear bucket scheme, histogram snapshots, quantiles
// against exact quantiles of known distributions, merge, concurrency and
// the memory bound.
#include "metrics/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "metrics/counter.hpp"
#include "metrics/gauge.hpp"

namespace rcache::metrics {
namespace {

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

// The exact nearest-rank quantile q = per_mille / 1000 of `values`, in
// integer arithmetic: the value of rank ceil(q * n).
std::uint64_t exact_quantile(std::vector<std::uint64_t> values, std::uint64_t per_mille) {
  std::sort(values.begin(), values.end());
  const std::uint64_t n = values.size();
  const std::uint64_t rank = std::max<std::uint64_t>(1, (per_mille * n + 999) / 1000);
  return values[rank - 1];
}

// Records `values` and checks p50 / p90 / p99 / p99.9 against the exact
// nearest-rank quantiles, and count / sum / min / max exactly.
void expect_quantiles_within_bound(const std::vector<std::uint64_t>& values) {
  histogram h;
  std::uint64_t sum = 0;
  for (std::uint64_t v : values) {
    h.record(v);
    sum += v;
  }
  const histogram_snapshot s = h.snapshot();
  ASSERT_EQ(s.count(), values.size());
  EXPECT_EQ(s.sum(), sum);
  EXPECT_EQ(s.min(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(s.max(), *std::max_element(values.begin(), values.end()));
  EXPECT_EQ(s.quantile(0.0), s.min());
  EXPECT_EQ(s.quantile(1.0), s.max());
  for (const std::uint64_t per_mille : {500, 900, 990, 999}) {
    const double exact = static_cast<double>(exact_quantile(values, per_mille));
    const double got = static_cast<double>(s.quantile(static_cast<double>(per_mille) / 1000.0));
    EXPECT_LE(std::fabs(got - exact), exact * max_relative_error)
        << "q=" << per_mille << "/1000 exact=" << exact << " got=" << got;
  }
}

// ============================================================================
// The bucket scheme
// ============================================================================

TEST(HistogramBuckets, TileTheWholeRangeWithoutGapsOrOverlap) {
  EXPECT_EQ(bucket_lower(0), 0u);
  EXPECT_EQ(bucket_upper(bucket_count - 1), u64_max);
  for (std::size_t i = 0; i < bucket_count; ++i) {
    ASSERT_EQ(bucket_index(bucket_lower(i)), i) << i;
    ASSERT_EQ(bucket_index(bucket_upper(i)), i) << i;
    if (i + 1 < bucket_count) {
      ASSERT_EQ(bucket_lower(i + 1), bucket_upper(i) + 1) << i;
    }
  }
}

TEST(HistogramBuckets, WidthIsAtMostOneSixteenthOfTheLowerBound) {
  for (std::size_t i = 0; i < bucket_count; ++i) {
    if (i < 2 * sub_bucket_count) {
      EXPECT_EQ(bucket_width(i), 1u);
      EXPECT_EQ(bucket_midpoint(i), bucket_lower(i));
      continue;
    }
    EXPECT_LE(bucket_width(i) * sub_bucket_count, bucket_lower(i)) << i;
    // The midpoint is within 1/32 of both ends of its bucket.
    const double mid = static_cast<double>(bucket_midpoint(i));
    const double lo = static_cast<double>(bucket_lower(i));
    const double hi = static_cast<double>(bucket_upper(i));
    EXPECT_LE(mid - lo, lo * max_relative_error) << i;
    EXPECT_LE(hi - mid, hi * max_relative_error) << i;
  }
}

TEST(HistogramBuckets, SmallValuesAreExact) {
  histogram h;
  for (std::uint64_t v = 0; v < 32; ++v) h.record(v);
  const histogram_snapshot s = h.snapshot();
  for (std::uint64_t v = 0; v < 32; ++v) EXPECT_EQ(s.buckets()[v], 1u);
  EXPECT_EQ(s.quantile(0.5), 15u);  // rank 16 of 0..31
}

// ============================================================================
// Quantiles of known distributions
// ============================================================================

TEST(HistogramQuantiles, Uniform) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::uint64_t> dist(1'000, 1'000'000);
  std::vector<std::uint64_t> values(100'000);
  for (auto& v : values) v = dist(rng);
  expect_quantiles_within_bound(values);
}

TEST(HistogramQuantiles, Exponential) {
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> dist(1.0 / 50'000.0);  // mean 50 us in ns
  std::vector<std::uint64_t> values(100'000);
  for (auto& v : values) v = static_cast<std::uint64_t>(dist(rng));
  expect_quantiles_within_bound(values);
}

TEST(HistogramQuantiles, ConstantIsExact) {
  const std::vector<std::uint64_t> values(10'000, 123'456);
  expect_quantiles_within_bound(values);
  histogram h;
  for (std::uint64_t v : values) h.record(v);
  const histogram_snapshot s = h.snapshot();
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) EXPECT_EQ(s.quantile(q), 123'456u);
  EXPECT_DOUBLE_EQ(s.mean(), 123'456.0);
}

TEST(HistogramQuantiles, Bimodal) {
  // 90 % fast (~200 us, near-cache / Redis hits), 10 % slow (~20 ms, loads).
  std::mt19937_64 rng(1234);
  std::normal_distribution<double> fast(200'000.0, 20'000.0);
  std::normal_distribution<double> slow(20'000'000.0, 2'000'000.0);
  std::bernoulli_distribution is_slow(0.1);
  std::vector<std::uint64_t> values(100'000);
  for (auto& v : values) {
    v = static_cast<std::uint64_t>(std::max(1.0, is_slow(rng) ? slow(rng) : fast(rng)));
  }
  expect_quantiles_within_bound(values);
  histogram h;
  for (std::uint64_t v : values) h.record(v);
  // p50 is in the fast mode, p99 in the slow one.
  EXPECT_LT(h.snapshot().quantile(0.5), 1'000'000u);
  EXPECT_GT(h.snapshot().quantile(0.99), 10'000'000u);
}

TEST(HistogramQuantiles, HugeValuesAndZero) {
  std::vector<std::uint64_t> values = {0, 0, 1, u64_max, u64_max - 1, std::uint64_t{1} << 63};
  for (std::uint64_t k = 0; k < 64; ++k) values.push_back(std::uint64_t{1} << k);
  histogram h;
  for (std::uint64_t v : values) h.record(v);
  const histogram_snapshot s = h.snapshot();
  EXPECT_EQ(s.count(), values.size());
  EXPECT_EQ(s.min(), 0u);
  EXPECT_EQ(s.max(), u64_max);
  for (const std::uint64_t per_mille : {500, 900, 990, 999}) {
    const double exact = static_cast<double>(exact_quantile(values, per_mille));
    const double got = static_cast<double>(s.quantile(static_cast<double>(per_mille) / 1000.0));
    EXPECT_LE(std::fabs(got - exact), exact * max_relative_error) << per_mille;
  }
}

TEST(HistogramQuantiles, EmptySnapshotIsAllZero) {
  histogram h;
  const histogram_snapshot s = h.snapshot();
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.sum(), 0u);
  EXPECT_EQ(s.min(), 0u);
  EXPECT_EQ(s.max(), 0u);
  EXPECT_EQ(s.quantile(0.99), 0u);
  EXPECT_EQ(s.mean(), 0.0);
}

TEST(HistogramQuantiles, OutOfRangeQIsClamped) {
  histogram h;
  h.record(10);
  h.record(1000);
  const histogram_snapshot s = h.snapshot();
  EXPECT_EQ(s.quantile(-1.0), 10u);
  EXPECT_EQ(s.quantile(std::nan("")), 10u);
  EXPECT_EQ(s.quantile(2.0), 1000u);
}

TEST(Histogram, RecordsDurationsInNanoseconds) {
  histogram h;
  h.record(std::chrono::microseconds(3));
  h.record(std::chrono::nanoseconds(-5));  // a clock step backwards counts as 0
  const histogram_snapshot s = h.snapshot();
  EXPECT_EQ(s.count(), 2u);
  EXPECT_EQ(s.min(), 0u);
  EXPECT_EQ(s.max(), 3000u);
}

// ============================================================================
// Prometheus `le` counting, merge, from_buckets
// ============================================================================

TEST(HistogramSnapshot, CountAtOrBelowNeverCountsValuesAboveTheBound) {
  histogram h;
  h.record(10);
  h.record(100);  // bucket [100, 103]
  h.record(1000);
  const histogram_snapshot s = h.snapshot();
  EXPECT_EQ(s.count_at_or_below(9), 0u);
  EXPECT_EQ(s.count_at_or_below(10), 1u);
  EXPECT_EQ(s.count_at_or_below(100), 1u);  // the bucket straddles 100: left out
  EXPECT_EQ(s.count_at_or_below(103), 2u);
  EXPECT_EQ(s.count_at_or_below(u64_max), 3u);
}

TEST(HistogramSnapshot, MergeEqualsRecordingIntoOne) {
  histogram a;
  histogram b;
  histogram both;
  std::mt19937_64 rng(99);
  std::uniform_int_distribution<std::uint64_t> small(50, 5'000);
  std::uniform_int_distribution<std::uint64_t> large(1'000'000, 9'000'000);
  for (int i = 0; i < 10'000; ++i) {
    const std::uint64_t x = small(rng);
    const std::uint64_t y = large(rng);
    a.record(x);
    b.record(y);
    both.record(x);
    both.record(y);
  }
  histogram_snapshot merged = a.snapshot();
  merged.merge(b.snapshot());
  merged.merge(histogram_snapshot{});  // merging an empty snapshot changes nothing
  const histogram_snapshot expected = both.snapshot();
  EXPECT_EQ(merged.count(), expected.count());
  EXPECT_EQ(merged.sum(), expected.sum());
  EXPECT_EQ(merged.min(), expected.min());
  EXPECT_EQ(merged.max(), expected.max());
  EXPECT_TRUE(std::equal(merged.buckets().begin(), merged.buckets().end(),
                         expected.buckets().begin(), expected.buckets().end()));
  for (double q : {0.5, 0.9, 0.99, 0.999}) EXPECT_EQ(merged.quantile(q), expected.quantile(q));

  histogram_snapshot into_empty;
  into_empty.merge(a.snapshot());
  EXPECT_EQ(into_empty.min(), a.snapshot().min());
  EXPECT_EQ(into_empty.max(), a.snapshot().max());
}

TEST(HistogramSnapshot, FromBucketsTakesMinMaxFromBucketBounds) {
  std::vector<std::uint64_t> counts(bucket_count, 0);
  counts[bucket_index(100)] = 2;
  counts[bucket_index(5000)] = 1;
  const auto s = histogram_snapshot::from_buckets(std::move(counts), 5200);
  EXPECT_EQ(s.count(), 3u);
  EXPECT_EQ(s.sum(), 5200u);
  EXPECT_EQ(s.min(), bucket_lower(bucket_index(100)));
  EXPECT_EQ(s.max(), bucket_upper(bucket_index(5000)));
  EXPECT_EQ(histogram_snapshot::from_buckets({1, 2, 3}, 6).count(), 0u);  // wrong size: empty
}

// ============================================================================
// Concurrency and the memory bound
// ============================================================================

TEST(HistogramConcurrency, FourThreadsGiveExactCounts) {
  constexpr int threads = 4;
  constexpr std::uint64_t per_thread = 100'000;
  histogram h;
  counter c;
  gauge g;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        h.record(i * (static_cast<std::uint64_t>(t) + 1));
        c.inc();
        g.add(1.0);
      }
    });
  }
  for (auto& w : workers) w.join();
  const histogram_snapshot s = h.snapshot();
  EXPECT_EQ(s.count(), threads * per_thread);
  const std::uint64_t triangle = per_thread * (per_thread - 1) / 2;
  EXPECT_EQ(s.sum(), triangle * (1 + 2 + 3 + 4));
  EXPECT_EQ(s.min(), 0u);
  EXPECT_EQ(s.max(), (per_thread - 1) * threads);
  EXPECT_EQ(c.value(), threads * per_thread);
  EXPECT_EQ(g.value(), static_cast<double>(threads * per_thread));
}

TEST(HistogramMemory, FixedSizeWhateverIsRecorded) {
  // A fixed array of counters plus sum, min and max: no heap, no growth.
  static_assert(bucket_count == 976);
  static_assert(sizeof(histogram) ==
                sizeof(std::atomic<std::uint64_t>) * bucket_count + 3 * sizeof(std::uint64_t));
  histogram h;
  for (std::uint64_t v : {std::uint64_t{0}, u64_max, std::uint64_t{1} << 40, std::uint64_t{7}}) {
    for (int i = 0; i < 1000; ++i) h.record(v);
  }
  const histogram_snapshot s = h.snapshot();
  EXPECT_EQ(s.buckets().size(), bucket_count);
  EXPECT_EQ(s.count(), 4000u);
  EXPECT_EQ(histogram_snapshot{}.buckets().size(), bucket_count);
}

}  // namespace
}  // namespace rcache::metrics
