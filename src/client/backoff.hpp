// Reconnect backoff: exponential growth with "equal jitter".
//
// Attempt n (0-based) waits between base/2 and base, where base is
// initial * 2^n capped at max: half the delay is guaranteed (so a crowd of
// clients does not hammer a recovering server), half is random (so they do
// not come back in lock-step).
//
// Threading: a pure function.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace rcache::detail {

/// The delay before reconnect attempt `attempt`; `random` is any uniformly
/// distributed 64-bit value (the caller owns the generator).
[[nodiscard]] inline std::chrono::milliseconds reconnect_delay(int attempt,
                                                               std::chrono::milliseconds initial,
                                                               std::chrono::milliseconds max,
                                                               std::uint64_t random) noexcept {
  const std::int64_t cap = std::max<std::int64_t>(0, max.count());
  const std::int64_t first = std::clamp<std::int64_t>(initial.count(), 0, cap);
  std::int64_t base = first;
  for (int i = 0; i < attempt && base > 0 && base < cap; ++i)
    base = base > cap / 2 ? cap : base * 2;
  const std::int64_t half = base / 2;
  const std::int64_t span = base - half;  // jitter in [0, span]
  return std::chrono::milliseconds(
      half + static_cast<std::int64_t>(random % static_cast<std::uint64_t>(span + 1)));
}

}  // namespace rcache::detail
