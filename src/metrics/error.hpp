// Errors of the metrics registry: why a registration was refused.
//
// Registration is the only fallible step: recording into a counter, gauge or
// histogram that was handed out never fails. The codes live in their own
// category ("rcache.metrics") because they describe programming or
// cardinality mistakes, not transport failures; they convert to
// boost::system::error_code like rcache::error does.
//
// Threading: everything here is immutable after static initialisation.
#pragma once

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace rcache::metrics {

enum class errc {
  invalid_metric_name = 1,     // not [a-zA-Z_:][a-zA-Z0-9_:]*
  invalid_label_name,          // not [a-zA-Z_][a-zA-Z0-9_]*
  reserved_label_name,         // "__..." always; "le" and "quantile" on histograms
  duplicate_label_name,        // the same label name twice in one label set
  invalid_utf8,                // a label value or help text that is not valid UTF-8
  kind_mismatch,               // the name is already a family of another kind
  label_names_mismatch,        // the family was registered with other label names
  histogram_options_mismatch,  // the family was registered with other histogram options
  name_collision,              // the name (or a _bucket/_sum/... series) is taken by another family
  invalid_histogram_options,   // bad exported buckets or divisor
  too_many_series,             // the family is at registry_options::max_series_per_family
};

/// The category of metrics::errc; name() is "rcache.metrics".
[[nodiscard]] const boost::system::error_category& error_category() noexcept;

/// Makes an error_code in the metrics category.
[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace rcache::metrics

template <>
struct boost::system::is_error_code_enum<rcache::metrics::errc> : std::true_type {};
