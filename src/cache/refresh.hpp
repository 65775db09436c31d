// When get_or_load reloads a value it just read from Redis, while handing
// the read value to its caller: the decision, without clocks or random
// numbers of its own, so that it is unit-tested exactly.
//
//   - stale: the key is past its logical TTL and inside its
//     stale-while-revalidate grace (Redis keeps it `grace` longer than
//     the namespace's TTL): reload now.
//   - early: probabilistic early refresh (XFetch, Vattani et al., "Optimal
//     Probabilistic Cache Stampede Prevention", VLDB 2015): reload when
//     -load_ms * beta * ln(u) >= what is left of the logical TTL, u uniform
//     in (0, 1). The nearer the expiry and the slower a load, the likelier.
//   - none otherwise, and for a key without a TTL (or one not known).
//
// Threading: pure functions.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>

namespace rcache::cache_detail {

enum class refresh : std::uint8_t { none, stale, early };

/// `ttl`: the key's remaining TTL in Redis (nullopt: none, or not known);
/// `grace`: the namespace's stale_grace; `beta`: its early_refresh_beta
/// (0: off); `load_ms`: how long a load of it takes (a running average);
/// `u`: a uniform draw in (0, 1).
[[nodiscard]] inline refresh decide_refresh(std::optional<std::chrono::milliseconds> ttl,
                                            std::chrono::milliseconds grace, double beta,
                                            double load_ms, double u) noexcept {
  if (!ttl) return refresh::none;
  if (grace.count() > 0 && *ttl <= grace) return refresh::stale;
  if (beta <= 0 || ttl->count() <= 0) return refresh::none;
  const double remaining = static_cast<double>((*ttl - grace).count());
  return -load_ms * beta * std::log(u) >= remaining ? refresh::early : refresh::none;
}

}  // namespace rcache::cache_detail
