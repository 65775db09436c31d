// The metrics registry: families, children, validation and collection.
//
// Families live in a std::map keyed by name, children in a std::map keyed by
// label values (in the family's label order), each child behind a
// unique_ptr: map nodes and the objects they own never move, so the
// pointers handed out stay valid until the registry dies. Both maps are
// ordered, which makes the exposition deterministic (families by name,
// series by label values) whatever order threads registered in.
//
// Threading: one mutex guards both maps and the claimed-name index; the
// children themselves are atomics and are read without it.
#include "metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "metrics/error.hpp"
#include "metrics/prometheus_text.hpp"

namespace rcache::metrics {
namespace {

using child = std::variant<std::unique_ptr<metrics::counter>, std::unique_ptr<metrics::gauge>,
                           std::unique_ptr<metrics::histogram>>;

struct family {
  std::string name;
  std::string help;
  metric_kind kind = metric_kind::counter;
  std::vector<std::string> label_names;  // in first-registration order
  histogram_options options;
  std::map<std::vector<std::string>, child> children;  // key: values in label_names order
};

// Every series name a family of `kind` called `name` puts in the exposition;
// two families may not share one.
std::vector<std::string> series_names(std::string_view name, metric_kind kind,
                                      const histogram_options& options) {
  std::vector<std::string> out{std::string(name)};
  if (kind != metric_kind::histogram) return out;
  for (const char* suffix : {"_bucket", "_sum", "_count"})
    out.push_back(std::string(name) + suffix);
  if (options.export_quantiles) out.push_back(std::string(name) + "_quantile");
  return out;
}

boost::system::error_code validate_labels(metric_kind kind, const label_set& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::string& n = labels[i].name;
    if (!is_valid_label_name(n)) return errc::invalid_label_name;
    if (n.starts_with("__")) return errc::reserved_label_name;
    if (kind == metric_kind::histogram && (n == "le" || n == "quantile")) {
      return errc::reserved_label_name;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (labels[j].name == n) return errc::duplicate_label_name;
    }
    if (!is_valid_utf8(labels[i].value)) return errc::invalid_utf8;
  }
  return {};
}

bool valid_histogram_options(const histogram_options& options) {
  if (!std::isfinite(options.divisor) || !(options.divisor > 0.0)) return false;
  if (options.buckets.size() > max_exported_buckets) return false;
  double previous = 0.0;
  for (double b : options.buckets) {
    if (!std::isfinite(b) || !(b > previous)) return false;
    previous = b;
  }
  return true;
}

}  // namespace

std::vector<double> default_latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

struct registry::state {
  registry_options options;
  mutable std::mutex mutex;
  std::map<std::string, family, std::less<>> families;
  std::map<std::string, std::string, std::less<>> claimed;  // series name -> family name

  // The child `name{labels}`, created (with its family) when new. Validates
  // everything before changing anything, so a refused registration leaves
  // no trace.
  result<child*> find_or_create(metric_kind kind, std::string_view name, std::string_view help,
                                const label_set& labels, const histogram_options& hist) {
    if (!is_valid_metric_name(name)) return make_error_code(errc::invalid_metric_name);
    if (auto ec = validate_labels(kind, labels)) return ec;
    if (!is_valid_utf8(help)) return make_error_code(errc::invalid_utf8);

    std::lock_guard lock(mutex);
    auto it = families.find(name);
    if (it != families.end()) {
      const family& f = it->second;
      if (f.kind != kind) return make_error_code(errc::kind_mismatch);
      const bool same_names = f.label_names.size() == labels.size() &&
                              std::all_of(labels.begin(), labels.end(), [&](const label& l) {
                                return std::find(f.label_names.begin(), f.label_names.end(),
                                                 l.name) != f.label_names.end();
                              });
      if (!same_names) return make_error_code(errc::label_names_mismatch);
      if (kind == metric_kind::histogram && !(f.options == hist)) {
        return make_error_code(errc::histogram_options_mismatch);
      }
    } else {
      if (kind == metric_kind::histogram && !valid_histogram_options(hist)) {
        return make_error_code(errc::invalid_histogram_options);
      }
      const auto names = series_names(name, kind, hist);
      for (const std::string& n : names) {
        if (claimed.contains(n)) return make_error_code(errc::name_collision);
      }
      if (options.max_series_per_family == 0) return make_error_code(errc::too_many_series);
      family f;
      f.name = std::string(name);
      f.help = std::string(help);
      f.kind = kind;
      for (const label& l : labels) f.label_names.push_back(l.name);
      if (kind == metric_kind::histogram) f.options = hist;
      for (const std::string& n : names) claimed.emplace(n, f.name);
      it = families.emplace(f.name, std::move(f)).first;
    }

    family& f = it->second;
    std::vector<std::string> key;
    key.reserve(f.label_names.size());
    for (const std::string& n : f.label_names) {
      key.push_back(std::find_if(labels.begin(), labels.end(), [&](const label& l) {
                      return l.name == n;
                    })->value);
    }
    auto c = f.children.find(key);
    if (c != f.children.end()) return &c->second;
    if (f.children.size() >= options.max_series_per_family) {
      return make_error_code(errc::too_many_series);
    }
    child made;
    switch (kind) {
      case metric_kind::counter:
        made = std::make_unique<metrics::counter>();
        break;
      case metric_kind::gauge:
        made = std::make_unique<metrics::gauge>();
        break;
      case metric_kind::histogram:
        made = std::make_unique<metrics::histogram>();
        break;
    }
    return &f.children.emplace(std::move(key), std::move(made)).first->second;
  }
};

registry::registry(registry_options options) : state_(std::make_unique<state>()) {
  state_->options = options;
}

registry::~registry() = default;

result<metrics::counter*> registry::counter(std::string_view name, std::string_view help,
                                            const label_set& labels) {
  auto c = state_->find_or_create(metric_kind::counter, name, help, labels, {});
  if (!c) return c.error();
  return std::get<std::unique_ptr<metrics::counter>>(**c).get();
}

result<metrics::gauge*> registry::gauge(std::string_view name, std::string_view help,
                                        const label_set& labels) {
  auto c = state_->find_or_create(metric_kind::gauge, name, help, labels, {});
  if (!c) return c.error();
  return std::get<std::unique_ptr<metrics::gauge>>(**c).get();
}

result<metrics::histogram*> registry::histogram(std::string_view name, std::string_view help,
                                                const label_set& labels,
                                                const histogram_options& options) {
  auto c = state_->find_or_create(metric_kind::histogram, name, help, labels, options);
  if (!c) return c.error();
  return std::get<std::unique_ptr<metrics::histogram>>(**c).get();
}

std::vector<family_sample> registry::collect() const {
  std::lock_guard lock(state_->mutex);
  std::vector<family_sample> out;
  out.reserve(state_->families.size());
  for (const auto& [name, f] : state_->families) {
    family_sample fs;
    fs.name = f.name;
    fs.help = f.help;
    fs.kind = f.kind;
    fs.options = f.options;
    fs.series.reserve(f.children.size());
    for (const auto& [values, c] : f.children) {
      series_sample s;
      for (std::size_t i = 0; i < values.size(); ++i) {
        s.labels.push_back(label{f.label_names[i], values[i]});
      }
      std::visit(
          [&](const auto& ptr) {
            using type = std::decay_t<decltype(*ptr)>;
            if constexpr (std::is_same_v<type, metrics::histogram>) {
              s.value = ptr->snapshot();
            } else {
              s.value = ptr->value();
            }
          },
          c);
      fs.series.push_back(std::move(s));
    }
    out.push_back(std::move(fs));
  }
  return out;
}

std::string registry::prometheus_text() const {
  const std::vector<family_sample> families = collect();
  std::string out;
  append_prometheus_text(families, out);
  return out;
}

}  // namespace rcache::metrics
