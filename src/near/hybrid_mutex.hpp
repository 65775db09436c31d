// A mutex for short critical sections: spins briefly, then sleeps.
//
// A near-cache shard holds its lock for a hash probe and a few cache misses
// (~100-300 ns). std::mutex (glibc, PTHREAD_MUTEX_NORMAL) goes to sleep on
// the first failed attempt, and a futex wait plus wake costs several
// microseconds, many times the critical section. This lock retries for a
// bounded number of pauses first, then sleeps on the futex behind
// std::atomic::wait, so a long holder (clear(), a rehash) costs waiters no
// CPU. The state word is Drepper's: 0 free, 1 held, 2 held with sleepers.
//
// Threading: a mutex (Lockable); not recursive; unlock() only by the holder.
#pragma once

#include <atomic>
#include <cstdint>

namespace rcache::near::detail {

class hybrid_mutex {
 public:
  void lock() noexcept {
    std::uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    lock_contended();
  }

  [[nodiscard]] bool try_lock() noexcept {
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // seq_cst, not release: notify_one() skips the wake when the waiter count it
  // reads says nobody sleeps, and that count and this store must be ordered
  // against a sleeper's increment-then-recheck (an xchg either way on x86).
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_seq_cst) == 2) state_.notify_one();
  }

 private:
  static constexpr int spin_limit = 100;

  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  void lock_contended() noexcept {
    for (int i = 0; i < spin_limit; ++i) {
      pause();
      if (state_.load(std::memory_order_relaxed) == 0 && try_lock()) return;
    }
    // Announce a sleeper (2) whenever taking the lock from here: this thread
    // cannot know whether others still sleep, and a spurious notify is cheap.
    while (state_.exchange(2, std::memory_order_acquire) != 0) {
      state_.wait(2, std::memory_order_seq_cst);
    }
  }

  std::atomic<std::uint32_t> state_{0};
};

}  // namespace rcache::near::detail
