// A gauge: a value that goes up and down (near-cache entries and bytes, compression
// ratio, connections in use).
//
// A double holds every integer up to 2^53 exactly, which covers counts and
// byte sizes, so one gauge type serves both integer and real values.
//
// Threading: set() / add() / value() are lock-free (a relaxed atomic double;
// add() is a compare-exchange loop) and may be called from any thread.
#pragma once

#include <atomic>

namespace rcache::metrics {

/// A double that can be set or adjusted. Not copyable or movable: the
/// registry hands out stable pointers.
class gauge {
 public:
  gauge() noexcept = default;
  gauge(const gauge&) = delete;
  gauge& operator=(const gauge&) = delete;

  /// Replaces the value.
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }

  /// Adds `delta` (negative to decrease); concurrent adds are never lost.
  void add(double delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }

  /// The current value.
  [[nodiscard]] double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace rcache::metrics
