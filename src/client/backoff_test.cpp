// Unit tests for the reconnect backoff.
#include "client/backoff.hpp"

#include <gtest/gtest.h>
#include <random>
#include <set>

namespace rcache::detail {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, StaysWithinHalfToFullOfTheExponentialBase) {
  std::mt19937_64 rng(42);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::int64_t base = std::min<std::int64_t>(2000, 50LL << attempt);
    for (int i = 0; i < 1000; ++i) {
      const auto d = reconnect_delay(attempt, milliseconds(50), milliseconds(2000), rng()).count();
      EXPECT_GE(d, base / 2) << "attempt " << attempt;
      EXPECT_LE(d, base) << "attempt " << attempt;
    }
  }
}

TEST(Backoff, JitterSpreadsClients) {
  std::mt19937_64 rng(7);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 200; ++i) {
    seen.insert(reconnect_delay(5, milliseconds(50), milliseconds(2000), rng()).count());
  }
  EXPECT_GT(seen.size(), 50u) << "clients would reconnect in lock-step";
}

TEST(Backoff, CappedAndNeverOverflows) {
  for (int attempt : {20, 31, 62, 63, 1000, 1 << 30}) {
    const auto d = reconnect_delay(attempt, milliseconds(50), milliseconds(2000), ~0ULL).count();
    EXPECT_GE(d, 1000);
    EXPECT_LE(d, 2000);
  }
  EXPECT_EQ(reconnect_delay(3, milliseconds(0), milliseconds(2000), 12345).count(), 0);
  EXPECT_EQ(reconnect_delay(-5, milliseconds(100), milliseconds(2000), 0).count(), 50);
  EXPECT_LE(reconnect_delay(2, milliseconds(5000), milliseconds(1000), ~0ULL).count(), 1000)
      << "an initial delay above the maximum is capped";
}

}  // namespace
}  // namespace rcache::detail
