// The Prometheus text exposition format, version 0.0.4: the rules for names,
// the escaping of help text and label values, the spelling of numbers, and
// the rendering of collected families.
//
// Rendering, per family (families in the order given, series in theirs):
//   # HELP <name> <escaped help>
//   # TYPE <name> counter|gauge|histogram
//   <name>{<labels>} <value>
// A histogram child becomes `<name>_bucket{...,le="b"}` for every exported
// boundary and "+Inf" (cumulative), then `<name>_sum` (divided by the
// family's divisor) and `<name>_count`. With export_quantiles the histogram
// is followed by a gauge family `<name>_quantile` with one series per child
// and quantile ("0.5", "0.9", "0.99", "0.999"); NaN when the child is empty.
//
// Threading: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "metrics/registry.hpp"

namespace rcache::metrics {

/// [a-zA-Z_:][a-zA-Z0-9_:]*
[[nodiscard]] bool is_valid_metric_name(std::string_view name) noexcept;

/// [a-zA-Z_][a-zA-Z0-9_]* (names starting with "__" are valid but reserved;
/// the registry refuses them).
[[nodiscard]] bool is_valid_label_name(std::string_view name) noexcept;

/// Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
/// Prometheus rejects a whole scrape over one bad byte.
[[nodiscard]] bool is_valid_utf8(std::string_view text) noexcept;

/// A label value for use between double quotes: \ -> \\, " -> \", newline -> \n.
[[nodiscard]] std::string escape_label_value(std::string_view value);

/// Help text: \ -> \\, newline -> \n (quotes stay as they are).
[[nodiscard]] std::string escape_help(std::string_view help);

/// A sample value as Go's client prints it (strconv 'g', shortest): the
/// fewest digits that read back as the same double, plain for exponents
/// -4..5 ("0.0001", "1536.5"), scientific otherwise ("1e-06", "5.24288e+07");
/// "NaN", "+Inf", "-Inf" for the special values.
[[nodiscard]] std::string format_value(double value);

/// Appends the exposition of `families` to `out`.
void append_prometheus_text(std::span<const family_sample> families, std::string& out);

}  // namespace rcache::metrics
