// The metrics registry: every counter, gauge and histogram of a process in
// one place, grouped into labelled families and exposed as Prometheus text.
//
// A family is a metric name with a kind, help text and a fixed set of label
// names; its children (series) are the distinct label values. Registering
// returns a pointer to the child, creating it the first time; asking again
// with the same name and labels returns the same child. Hot paths register
// once and keep the pointer: recording never looks anything up.
//
//   auto hits = reg.counter("rcache_cache_hits_total", "Cache hits.",
//                           {{"namespace", "users"}, {"tier", "near"}}).value();
//   hits->inc();
//
// Registration fails (a metrics::errc) for invalid names, label values that
// are not UTF-8, a name reused with another kind / other label names / other
// histogram options, and past a per-family series limit, so label values
// that come from outside (routes, namespaces) cannot grow memory without
// bound.
//
// Threading: registration, collect() and prometheus_text() take one mutex;
// the returned counters, gauges and histograms are recorded into lock-free
// and stay valid until the registry is destroyed.
#pragma once

#include <rcache/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "metrics/counter.hpp"
#include "metrics/gauge.hpp"
#include "metrics/histogram.hpp"

namespace rcache::metrics {

/// One label: a name (validated at registration) and a value (any UTF-8;
/// escaped on exposition).
struct label {
  std::string name;
  std::string value;
  friend bool operator==(const label&, const label&) = default;
};
using label_set = std::vector<label>;

/// The quantiles exported for every histogram with export_quantiles set.
inline constexpr std::array<double, 4> exported_quantiles = {0.5, 0.9, 0.99, 0.999};

/// At most this many exported `le` boundaries per histogram family.
inline constexpr std::size_t max_exported_buckets = 64;

/// The exported `le` boundaries for latencies, in seconds: 100 us .. 10 s.
[[nodiscard]] std::vector<double> default_latency_buckets();

/// How a histogram family is exposed. Recording is the same for all.
struct histogram_options {
  /// Recorded values per exported unit: 1e9 records nanoseconds and exports
  /// seconds (the default); 1 exports values as recorded. Finite, > 0.
  double divisor = 1e9;
  /// Exported `le` boundaries in exported units: finite, > 0, strictly
  /// increasing, at most max_exported_buckets; "+Inf" is always added. A
  /// boundary counts the values whose fine bucket ends at or below it, so an
  /// exported bucket never counts a value above its `le`.
  std::vector<double> buckets = default_latency_buckets();
  /// Also export the companion gauge family `<name>_quantile` with
  /// quantile="0.5" / "0.9" / "0.99" / "0.999".
  bool export_quantiles = true;

  friend bool operator==(const histogram_options&, const histogram_options&) = default;
};

/// Limits that keep the registry's memory bounded.
struct registry_options {
  /// Children per family; registering one more fails with too_many_series.
  std::size_t max_series_per_family = 10'000;
};

enum class metric_kind { counter, gauge, histogram };

/// One child of a family as seen by collect(): its labels (in the family's
/// label order) and its value: a counter's count, a gauge's value or a
/// histogram's snapshot.
struct series_sample {
  label_set labels;
  std::variant<std::uint64_t, double, histogram_snapshot> value;
};

/// One family as seen by collect(); series ordered by label values.
struct family_sample {
  std::string name;
  std::string help;
  metric_kind kind = metric_kind::counter;
  histogram_options options;  // meaningful for histograms only
  std::vector<series_sample> series;
};

/// Families of counters, gauges and histograms by name; see the file
/// comment. Not copyable or movable: children point into it.
class registry {
 public:
  explicit registry(registry_options options = {});
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// The counter child `name{labels}`, created on first use. Labels may come
  /// in any order; the first registration of `name` fixes the label names
  /// and the help text (later help text is ignored). Never null on success.
  [[nodiscard]] result<metrics::counter*> counter(std::string_view name, std::string_view help,
                                                  const label_set& labels = {});

  /// The gauge child `name{labels}`; as counter().
  [[nodiscard]] result<metrics::gauge*> gauge(std::string_view name, std::string_view help,
                                              const label_set& labels = {});

  /// The histogram child `name{labels}`; as counter(). `options` must equal
  /// those of the family's first registration (histogram_options_mismatch).
  /// Reserves `<name>_bucket`, `_sum`, `_count` and, with export_quantiles,
  /// `_quantile`; the label names `le` and `quantile` are refused.
  [[nodiscard]] result<metrics::histogram*> histogram(std::string_view name, std::string_view help,
                                                      const label_set& labels = {},
                                                      const histogram_options& options = {});

  /// Every family and child with its current value, families ordered by
  /// name. For dashboards and JSON; values are read without stopping writers.
  [[nodiscard]] std::vector<family_sample> collect() const;

  /// The Prometheus text exposition (format 0.0.4) of collect().
  [[nodiscard]] std::string prometheus_text() const;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace rcache::metrics
