// Mutual exclusion of hybrid_mutex, on both its spinning and its sleeping
// path (a holder that yields inside the critical section outlasts the spin
// budget of the waiters).
#include "near/hybrid_mutex.hpp"

#include <gtest/gtest.h>
#include <mutex>
#include <thread>
#include <vector>

namespace rcache::near::detail {
namespace {

TEST(HybridMutex, ExcludesUnderContention) {
  hybrid_mutex m;
  long counter = 0;  // deliberately not atomic: the lock is the only guard
  constexpr int threads = 4;
  constexpr int rounds = 20'000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        std::lock_guard lock(m);
        const long seen = counter;
        if ((i + t) % 64 == 0) std::this_thread::yield();  // send waiters to sleep
        counter = seen + 1;
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(counter, long{threads} * rounds);
}

TEST(HybridMutex, TryLockFailsWhileHeld) {
  hybrid_mutex m;
  ASSERT_TRUE(m.try_lock());
  bool acquired_elsewhere = true;
  std::thread([&] { acquired_elsewhere = m.try_lock(); }).join();
  EXPECT_FALSE(acquired_elsewhere);
  m.unlock();
  std::lock_guard lock(m);
}

}  // namespace
}  // namespace rcache::near::detail
