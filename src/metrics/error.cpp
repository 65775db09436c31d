// The "rcache.metrics" error category: messages for every metrics::errc value.
#include "metrics/error.hpp"

#include <string>

namespace rcache::metrics {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "rcache.metrics"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::invalid_metric_name:
        return "metrics: invalid metric name (want [a-zA-Z_:][a-zA-Z0-9_:]*)";
      case errc::invalid_label_name:
        return "metrics: invalid label name (want [a-zA-Z_][a-zA-Z0-9_]*)";
      case errc::reserved_label_name:
        return "metrics: reserved label name (__*, or le / quantile on a histogram)";
      case errc::duplicate_label_name:
        return "metrics: the same label name appears twice";
      case errc::invalid_utf8:
        return "metrics: label value or help text is not valid UTF-8";
      case errc::kind_mismatch:
        return "metrics: the name is already registered as another kind of metric";
      case errc::label_names_mismatch:
        return "metrics: the family was registered with other label names";
      case errc::histogram_options_mismatch:
        return "metrics: the histogram family was registered with other options";
      case errc::name_collision:
        return "metrics: the name collides with a series of another family";
      case errc::invalid_histogram_options:
        return "metrics: invalid histogram options (buckets or divisor)";
      case errc::too_many_series:
        return "metrics: the family has reached its series limit";
    }
    return "metrics: unknown error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace rcache::metrics
