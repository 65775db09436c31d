// A clock for session tests (session_options::clock) that the test moves:
// it starts at the real time, so the keys' own expiries (PEXPIREAT) are in
// the future as Redis sees them, and only moves when told to.
//
// Threading: now() and advance() may be called from any thread.
#pragma once

#include <rcache/session.hpp>

#include <atomic>
#include <chrono>
#include <functional>

namespace rcache::test {

struct fake_session_clock {
  std::atomic<std::int64_t> ms{
      std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now())
          .time_since_epoch()
          .count()};
  void advance(std::chrono::milliseconds d) { ms += d.count(); }
  [[nodiscard]] session_time now() const { return session_time(std::chrono::milliseconds(ms)); }
  /// For session_options::clock; the clock must outlive the store.
  [[nodiscard]] std::function<session_time()> fn() {
    return [this] { return now(); };
  }
};

}  // namespace rcache::test
