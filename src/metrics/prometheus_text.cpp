// The Prometheus text exposition format 0.0.4: validation, escaping,
// number formatting and rendering of collected families.
//
// Threading: pure functions.
#include "metrics/prometheus_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

namespace rcache::metrics {
namespace {

bool is_alpha_or_underscore(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

void append_uint(std::uint64_t v, std::string& out) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// The raw value a recorded number must not exceed to count under `le`:
// floor(le * divisor), except that a product within rounding noise of an
// integer (0.0001 * 1e9 = 99999.99999999999) is that integer.
std::uint64_t raw_bound(double le, double divisor) noexcept {
  const double x = le * divisor;
  if (!(x < 18446744073709551616.0)) return std::numeric_limits<std::uint64_t>::max();
  const double nearest = std::nearbyint(x);
  const double snapped =
      std::fabs(x - nearest) <= 1e-9 * std::fmax(1.0, x) ? nearest : std::floor(x);
  return static_cast<std::uint64_t>(snapped);
}

// `{a="x",b="y"}`, with an optional extra label (le / quantile) last; nothing
// at all for no labels.
void append_labels(const label_set& labels, std::optional<label> extra, std::string& out) {
  if (labels.empty() && !extra) return;
  out += '{';
  bool first = true;
  auto one = [&](const label& l) {
    if (!first) out += ',';
    first = false;
    out += l.name;
    out += "=\"";
    out += escape_label_value(l.value);
    out += '"';
  };
  for (const label& l : labels) one(l);
  if (extra) one(*extra);
  out += '}';
}

void append_header(std::string_view name, std::string_view help, std::string_view type,
                   std::string& out) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escape_help(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void append_histogram(const family_sample& family, std::string& out) {
  append_header(family.name, family.help, "histogram", out);
  const histogram_options& opt = family.options;
  for (const series_sample& s : family.series) {
    const auto* snap = std::get_if<histogram_snapshot>(&s.value);
    if (snap == nullptr) continue;
    for (double le : opt.buckets) {
      out += family.name;
      out += "_bucket";
      append_labels(s.labels, label{"le", format_value(le)}, out);
      out += ' ';
      append_uint(snap->count_at_or_below(raw_bound(le, opt.divisor)), out);
      out += '\n';
    }
    out += family.name;
    out += "_bucket";
    append_labels(s.labels, label{"le", "+Inf"}, out);
    out += ' ';
    append_uint(snap->count(), out);
    out += '\n';
    out += family.name;
    out += "_sum";
    append_labels(s.labels, std::nullopt, out);
    out += ' ';
    out += format_value(static_cast<double>(snap->sum()) / opt.divisor);
    out += '\n';
    out += family.name;
    out += "_count";
    append_labels(s.labels, std::nullopt, out);
    out += ' ';
    append_uint(snap->count(), out);
    out += '\n';
  }
  if (!opt.export_quantiles) return;
  const std::string quantile_name = family.name + "_quantile";
  append_header(quantile_name,
                "Quantiles of " + family.name + " since start (relative error <= 3.125%).", "gauge",
                out);
  for (const series_sample& s : family.series) {
    const auto* snap = std::get_if<histogram_snapshot>(&s.value);
    if (snap == nullptr) continue;
    for (double q : exported_quantiles) {
      out += quantile_name;
      append_labels(s.labels, label{"quantile", format_value(q)}, out);
      out += ' ';
      out += snap->count() == 0
                 ? std::string("NaN")
                 : format_value(static_cast<double>(snap->quantile(q)) / opt.divisor);
      out += '\n';
    }
  }
}

}  // namespace

bool is_valid_metric_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  if (!is_alpha_or_underscore(name[0]) && name[0] != ':') return false;
  for (char c : name.substr(1)) {
    if (!is_alpha_or_underscore(c) && !is_digit(c) && c != ':') return false;
  }
  return true;
}

bool is_valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_alpha_or_underscore(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!is_alpha_or_underscore(c) && !is_digit(c)) return false;
  }
  return true;
}

bool is_valid_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min_cp = 0;
    if ((b0 & 0xE0) == 0xC0) {
      len = 2;
      cp = b0 & 0x1F;
      min_cp = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3;
      cp = b0 & 0x0F;
      min_cp = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4;
      cp = b0 & 0x07;
      min_cp = 0x10000;
    } else {
      return false;  // a continuation byte or 0xF8..0xFF where a character must start
    }
    if (text.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Go's strconv.FormatFloat(v, 'g', -1, 64), as the reference client
  // prints: the shortest digits that read back exactly, in plain notation
  // for exponents -4..5 and in scientific notation outside ("1e-06",
  // "1e+06").
  char buf[32];
  const auto sci = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  const char* e = std::find(buf, sci.ptr, 'e');
  int exponent = 0;
  std::from_chars(e + (e[1] == '+' ? 2 : 1), sci.ptr, exponent);
  if (exponent < -4 || exponent >= 6) return std::string(buf, sci.ptr);
  const auto fixed = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

void append_prometheus_text(std::span<const family_sample> families, std::string& out) {
  for (const family_sample& family : families) {
    switch (family.kind) {
      case metric_kind::counter:
      case metric_kind::gauge:
        append_header(family.name, family.help,
                      family.kind == metric_kind::counter ? "counter" : "gauge", out);
        for (const series_sample& s : family.series) {
          out += family.name;
          append_labels(s.labels, std::nullopt, out);
          out += ' ';
          if (const auto* count = std::get_if<std::uint64_t>(&s.value)) {
            append_uint(*count, out);
          } else if (const auto* v = std::get_if<double>(&s.value)) {
            out += format_value(*v);
          }
          out += '\n';
        }
        break;
      case metric_kind::histogram:
        append_histogram(family, out);
        break;
    }
  }
}

}  // namespace rcache::metrics
