// A monotonic counter: hits, misses, errors, bytes, evictions.
//
// Threading: inc() and value() are lock-free (one relaxed atomic) and may be
// called from any number of threads. Relaxed is enough: a counter orders
// nothing else, and a reader only needs some recent value.
#pragma once

#include <atomic>
#include <cstdint>

namespace rcache::metrics {

/// An unsigned 64-bit count that only goes up (it wraps after 2^64).
/// Not copyable or movable: the registry hands out stable pointers.
class counter {
 public:
  counter() noexcept = default;
  counter(const counter&) = delete;
  counter& operator=(const counter&) = delete;

  /// Adds `n` (default 1).
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }

  /// The current count.
  [[nodiscard]] std::uint64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t> value_{0};
};

}  // namespace rcache::metrics
