// Tests of the registry: families and children, validation of names and
// labels, cardinality limits, concurrent registration, collect(), and a
// golden test of the Prometheus text exposition (including escaping).
#include "metrics/registry.hpp"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "metrics/error.hpp"
#include "metrics/prometheus_text.hpp"

namespace rcache::metrics {
namespace {

// ============================================================================
// Families and children
// ============================================================================

TEST(Registry, SameNameAndLabelsGiveTheSameChild) {
  registry reg;
  auto a = reg.counter("rcache_cache_hits_total", "Cache hits.",
                       {{"namespace", "users"}, {"tier", "near"}});
  ASSERT_TRUE(a.has_value()) << a.error().message();
  auto b = reg.counter("rcache_cache_hits_total", "Other help is ignored.",
                       {{"tier", "near"}, {"namespace", "users"}});  // any label order
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*a, *b);
  auto c = reg.counter("rcache_cache_hits_total", "", {{"namespace", "users"}, {"tier", "l2"}});
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(*a, *c);

  (*a)->inc();
  (*b)->inc(4);
  EXPECT_EQ((*a)->value(), 5u);
  EXPECT_EQ((*c)->value(), 0u);
}

TEST(Registry, GaugesSetAndAdd) {
  registry reg;
  metrics::gauge* g = reg.gauge("rcache_near_cache_entries", "Entries.").value();
  g->set(10);
  g->add(-3);
  g->add(0.5);
  EXPECT_DOUBLE_EQ(g->value(), 7.5);
  EXPECT_EQ(reg.gauge("rcache_near_cache_entries", "Entries.").value(), g);
}

TEST(Registry, HistogramsAreChildrenToo) {
  registry reg;
  metrics::histogram* get =
      reg.histogram("rcache_op_duration_seconds", "Latency.", {{"op", "get"}}).value();
  get->record(std::chrono::microseconds(250));
  EXPECT_EQ(reg.histogram("rcache_op_duration_seconds", "Latency.", {{"op", "get"}}).value(), get);
  EXPECT_EQ(get->snapshot().count(), 1u);
}

TEST(Registry, ConcurrentRegistrationAndRecordingAreExact) {
  registry reg;
  constexpr int threads = 4;
  constexpr int per_thread = 50'000;
  std::vector<metrics::counter*> seen(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      metrics::counter* c = reg.counter("rcache_requests_total", "Requests.",
                                        {{"route", "/v1/cache"}, {"status", "200"}})
                                .value();
      seen[t] = c;
      metrics::histogram* h =
          reg.histogram("rcache_op_duration_seconds", "Latency.", {{"op", "get"}}).value();
      for (int i = 0; i < per_thread; ++i) {
        c->inc();
        h->record(std::uint64_t{1000});
      }
      (void)reg.prometheus_text();  // exposition while others record
    });
  }
  for (auto& w : workers) w.join();
  for (int t = 1; t < threads; ++t) EXPECT_EQ(seen[t], seen[0]);
  EXPECT_EQ(seen[0]->value(), std::uint64_t{threads} * per_thread);
  EXPECT_EQ(
      reg.histogram("rcache_op_duration_seconds", "", {{"op", "get"}}).value()->snapshot().count(),
      std::uint64_t{threads} * per_thread);
}

TEST(Registry, CollectSeesEveryFamilyInNameOrder) {
  registry reg;
  reg.gauge("b_gauge", "B.").value()->set(2.5);
  reg.counter("a_total", "A.", {{"k", "y"}}).value()->inc(3);
  reg.counter("a_total", "A.", {{"k", "x"}}).value()->inc(1);
  const auto families = reg.collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "a_total");
  EXPECT_EQ(families[0].kind, metric_kind::counter);
  ASSERT_EQ(families[0].series.size(), 2u);
  EXPECT_EQ(families[0].series[0].labels, (label_set{{"k", "x"}}));
  EXPECT_EQ(std::get<std::uint64_t>(families[0].series[0].value), 1u);
  EXPECT_EQ(std::get<std::uint64_t>(families[0].series[1].value), 3u);
  EXPECT_EQ(families[1].name, "b_gauge");
  EXPECT_EQ(std::get<double>(families[1].series[0].value), 2.5);
}

// ============================================================================
// Validation
// ============================================================================

TEST(RegistryValidation, InvalidMetricNamesAreRejected) {
  registry reg;
  for (const char* bad : {"", "1abc", "a-b", "a b", "é", "a.b"}) {
    auto r = reg.counter(bad, "help");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error(), errc::invalid_metric_name) << bad;
  }
  for (const char* good : {"a", "_a", ":a", "rcache:ratio_5m", "A9_"}) {
    EXPECT_TRUE(reg.counter(good, "help").has_value()) << good;
  }
}

TEST(RegistryValidation, InvalidLabelsAreRejected) {
  registry reg;
  auto code = [&](const label_set& labels) {
    auto r = reg.counter("x_total", "help", labels);
    return r.has_value() ? boost::system::error_code{} : r.error();
  };
  EXPECT_EQ(code({{"1x", "v"}}), errc::invalid_label_name);
  EXPECT_EQ(code({{"a-b", "v"}}), errc::invalid_label_name);
  EXPECT_EQ(code({{"", "v"}}), errc::invalid_label_name);
  EXPECT_EQ(code({{"a:b", "v"}}), errc::invalid_label_name);  // colons are for metric names only
  EXPECT_EQ(code({{"__name__", "v"}}), errc::reserved_label_name);
  EXPECT_EQ(code({{"a", "1"}, {"a", "2"}}), errc::duplicate_label_name);
  EXPECT_EQ(code({{"a", "\xff"}}), errc::invalid_utf8);
  EXPECT_EQ(code({{"a", "\xc0\xaf"}}), errc::invalid_utf8);      // overlong '/'
  EXPECT_EQ(code({{"a", "\xed\xa0\x80"}}), errc::invalid_utf8);  // a surrogate
  EXPECT_EQ(code({{"a", "caf\xc3"}}), errc::invalid_utf8);       // truncated
  EXPECT_FALSE(reg.counter("x_total", "\xff").has_value());

  auto h = reg.histogram("h_seconds", "help", {{"le", "1"}});
  EXPECT_EQ(h.error(), errc::reserved_label_name);
  h = reg.histogram("h_seconds", "help", {{"quantile", "1"}});
  EXPECT_EQ(h.error(), errc::reserved_label_name);
  // `le` is only reserved on histograms.
  EXPECT_TRUE(reg.counter("le_total", "help", {{"le", "1"}}).has_value());
  // Any UTF-8 is a fine label value.
  EXPECT_TRUE(
      reg.counter("utf8_total", "help", {{"a", "caf\xc3\xa9 \xf0\x9f\x98\x80"}}).has_value());
}

TEST(RegistryValidation, RefusedRegistrationsLeaveNoTrace) {
  registry reg;
  EXPECT_FALSE(reg.counter("bad name", "help").has_value());
  EXPECT_FALSE(reg.counter("good_total", "help", {{"__x", "v"}}).has_value());
  EXPECT_EQ(reg.prometheus_text(), "");
  // The refused label names were not fixed for the family.
  EXPECT_TRUE(reg.counter("good_total", "help", {{"x", "v"}}).has_value());
}

TEST(RegistryValidation, FamiliesKeepTheirKindLabelsAndOptions) {
  registry reg;
  ASSERT_TRUE(reg.counter("m", "help", {{"a", "1"}}).has_value());
  EXPECT_EQ(reg.gauge("m", "help", {{"a", "1"}}).error(), errc::kind_mismatch);
  EXPECT_EQ(reg.histogram("m", "help", {{"a", "1"}}).error(), errc::kind_mismatch);
  EXPECT_EQ(reg.counter("m", "help", {{"b", "1"}}).error(), errc::label_names_mismatch);
  EXPECT_EQ(reg.counter("m", "help").error(), errc::label_names_mismatch);
  EXPECT_EQ(reg.counter("m", "help", {{"a", "1"}, {"b", "2"}}).error(), errc::label_names_mismatch);

  ASSERT_TRUE(reg.histogram("h", "help").has_value());
  histogram_options other;
  other.divisor = 1.0;
  EXPECT_EQ(reg.histogram("h", "help", {}, other).error(), errc::histogram_options_mismatch);
}

TEST(RegistryValidation, SeriesNamesOfDifferentFamiliesNeverCollide) {
  registry reg;
  ASSERT_TRUE(reg.histogram("lat", "help").has_value());
  for (const char* taken : {"lat_bucket", "lat_sum", "lat_count", "lat_quantile"}) {
    EXPECT_EQ(reg.counter(taken, "help").error(), errc::name_collision) << taken;
  }
  ASSERT_TRUE(reg.gauge("size_count", "help").has_value());
  EXPECT_EQ(reg.histogram("size", "help").error(), errc::name_collision);
  // Without quantiles, `_quantile` stays free.
  histogram_options plain;
  plain.export_quantiles = false;
  ASSERT_TRUE(reg.histogram("bytes", "help", {}, plain).has_value());
  EXPECT_TRUE(reg.gauge("bytes_quantile", "help").has_value());
}

TEST(RegistryValidation, InvalidHistogramOptionsAreRejected) {
  registry reg;
  auto with = [&](std::vector<double> buckets, double divisor = 1e9) {
    histogram_options o;
    o.buckets = std::move(buckets);
    o.divisor = divisor;
    auto r = reg.histogram("h", "help", {}, o);
    return r.has_value() ? boost::system::error_code{} : r.error();
  };
  EXPECT_EQ(with({1.0, 1.0}), errc::invalid_histogram_options);  // not strictly increasing
  EXPECT_EQ(with({2.0, 1.0}), errc::invalid_histogram_options);
  EXPECT_EQ(with({-1.0, 1.0}), errc::invalid_histogram_options);
  EXPECT_EQ(with({0.0}), errc::invalid_histogram_options);
  EXPECT_EQ(with({std::nan("")}), errc::invalid_histogram_options);
  EXPECT_EQ(with({std::numeric_limits<double>::infinity()}), errc::invalid_histogram_options);
  EXPECT_EQ(with({1.0}, 0.0), errc::invalid_histogram_options);
  EXPECT_EQ(with({1.0}, std::nan("")), errc::invalid_histogram_options);
  std::vector<double> too_many;
  for (std::size_t i = 1; i <= max_exported_buckets + 1; ++i) too_many.push_back(double(i));
  EXPECT_EQ(with(too_many), errc::invalid_histogram_options);
  too_many.pop_back();
  EXPECT_EQ(with(too_many), boost::system::error_code{});
}

TEST(RegistryValidation, SeriesPerFamilyAreCapped) {
  registry reg(registry_options{.max_series_per_family = 2});
  ASSERT_TRUE(reg.counter("req_total", "help", {{"route", "/a"}}).has_value());
  ASSERT_TRUE(reg.counter("req_total", "help", {{"route", "/b"}}).has_value());
  auto third = reg.counter("req_total", "help", {{"route", "/c"}});
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error(), errc::too_many_series);
  EXPECT_EQ(third.error().category().name(), std::string("rcache.metrics"));
  EXPECT_FALSE(third.error().message().empty());
  // Existing children are still found; other families have their own cap.
  EXPECT_TRUE(reg.counter("req_total", "help", {{"route", "/a"}}).has_value());
  EXPECT_TRUE(reg.counter("other_total", "help", {{"route", "/c"}}).has_value());
}

// ============================================================================
// Exposition
// ============================================================================

TEST(PrometheusText, Escaping) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escape_help("say \"hi\"\\\n"), "say \"hi\"\\\\\\n");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1e-06), "1e-06");
  EXPECT_EQ(format_value(42.0), "42");
  EXPECT_EQ(format_value(0.0001), "0.0001");
  EXPECT_EQ(format_value(123456.0), "123456");
  EXPECT_EQ(format_value(1e6), "1e+06");
  EXPECT_EQ(format_value(52428800.0), "5.24288e+07");
  EXPECT_EQ(format_value(-0.25), "-0.25");
  EXPECT_EQ(format_value(0.0), "0");
  EXPECT_EQ(format_value(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(format_value(1e300), "1e+300");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(PrometheusText, Golden) {
  registry reg;
  reg.counter("rcache_cache_hits_total", "Cache hits.", {{"namespace", "users"}, {"tier", "near"}})
      .value()
      ->inc(3);
  reg.counter("rcache_cache_hits_total", "Cache hits.",
              {{"tier", "l2"}, {"namespace", "we\"ird\\path\nx"}})
      .value()
      ->inc();
  reg.gauge("rcache_near_cache_bytes", "Bytes in the near cache.\nSecond line with a \\ backslash.")
      .value()
      ->set(1536.5);
  (void)reg.counter("rcache_near_cache_evictions_total", "Near-cache evictions.").value();

  histogram_options opts;
  opts.buckets = {0.000001, 0.001};  // 1 us, 1 ms
  metrics::histogram* get =
      reg.histogram("rcache_op_duration_seconds", "Operation latency.", {{"op", "get"}}, opts)
          .value();
  for (std::uint64_t ns : {500, 800, 2'000, 5'000'000}) get->record(ns);
  (void)reg.histogram("rcache_op_duration_seconds", "Operation latency.", {{"op", "set"}}, opts)
      .value();

  // p50 of {500, 800, 2000, 5e6} is rank 2, 800 ns: its bucket [800, 831]
  // reports the midpoint 816 ns. p90 and above are rank 4, the exact max.
  const std::string expected = R"(# HELP rcache_cache_hits_total Cache hits.
# TYPE rcache_cache_hits_total counter
rcache_cache_hits_total{namespace="users",tier="near"} 3
rcache_cache_hits_total{namespace="we\"ird\\path\nx",tier="l2"} 1
# HELP rcache_near_cache_bytes Bytes in the near cache.\nSecond line with a \\ backslash.
# TYPE rcache_near_cache_bytes gauge
rcache_near_cache_bytes 1536.5
# HELP rcache_near_cache_evictions_total Near-cache evictions.
# TYPE rcache_near_cache_evictions_total counter
rcache_near_cache_evictions_total 0
# HELP rcache_op_duration_seconds Operation latency.
# TYPE rcache_op_duration_seconds histogram
rcache_op_duration_seconds_bucket{op="get",le="1e-06"} 2
rcache_op_duration_seconds_bucket{op="get",le="0.001"} 3
rcache_op_duration_seconds_bucket{op="get",le="+Inf"} 4
rcache_op_duration_seconds_sum{op="get"} 0.0050033
rcache_op_duration_seconds_count{op="get"} 4
rcache_op_duration_seconds_bucket{op="set",le="1e-06"} 0
rcache_op_duration_seconds_bucket{op="set",le="0.001"} 0
rcache_op_duration_seconds_bucket{op="set",le="+Inf"} 0
rcache_op_duration_seconds_sum{op="set"} 0
rcache_op_duration_seconds_count{op="set"} 0
# HELP rcache_op_duration_seconds_quantile Quantiles of rcache_op_duration_seconds since start (relative error <= 3.125%).
# TYPE rcache_op_duration_seconds_quantile gauge
rcache_op_duration_seconds_quantile{op="get",quantile="0.5"} 8.16e-07
rcache_op_duration_seconds_quantile{op="get",quantile="0.9"} 0.005
rcache_op_duration_seconds_quantile{op="get",quantile="0.99"} 0.005
rcache_op_duration_seconds_quantile{op="get",quantile="0.999"} 0.005
rcache_op_duration_seconds_quantile{op="set",quantile="0.5"} NaN
rcache_op_duration_seconds_quantile{op="set",quantile="0.9"} NaN
rcache_op_duration_seconds_quantile{op="set",quantile="0.99"} NaN
rcache_op_duration_seconds_quantile{op="set",quantile="0.999"} NaN
)";
  EXPECT_EQ(reg.prometheus_text(), expected);
}

TEST(PrometheusText, LeBoundsNeverCountValuesAboveThem) {
  registry reg;
  histogram_options opts;
  opts.divisor = 1.0;  // exported as recorded, e.g. bytes
  opts.buckets = {100, 103, 1024};
  opts.export_quantiles = false;
  metrics::histogram* h = reg.histogram("value_bytes", "Value sizes.", {}, opts).value();
  for (std::uint64_t v : {100, 1023, 1024, 1025}) h->record(v);
  const std::string text = reg.prometheus_text();
  // 100 is in the fine bucket [100, 103]: not under le=100, under le=103.
  EXPECT_NE(text.find("value_bytes_bucket{le=\"100\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("value_bytes_bucket{le=\"103\"} 1\n"), std::string::npos) << text;
  // 1024 starts a bucket [1024, 1087]; 1023 ends [992, 1023]: so le=1024
  // counts 100 and 1023 only.
  EXPECT_NE(text.find("value_bytes_bucket{le=\"1024\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("value_bytes_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("value_bytes_sum 3172\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("_quantile"), std::string::npos);
}

TEST(PrometheusText, LeBoundsSnapToWholeRawUnits) {
  // 98303 ns ends the fine bucket [94208, 98303]. 9.8303e-05 s * 1e9 is not
  // exactly 98303 in binary; the bound must still be 98303 ns, not 98302.
  static_assert(bucket_upper(bucket_index(98'303)) == 98'303);
  registry reg;
  histogram_options opts;
  opts.buckets = {9.8303e-05, 0.0001};
  metrics::histogram* h = reg.histogram("lat_seconds", "help", {}, opts).value();
  h->record(std::uint64_t{98'303});
  h->record(std::uint64_t{98'304});  // in [98304, 102399], which straddles 100 us
  const std::string text = reg.prometheus_text();
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"9.8303e-05\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.0001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 2\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace rcache::metrics
