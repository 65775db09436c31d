// An allocation probe for unit tests that must show a hostile input cannot
// make the code under test allocate much: while an allocation_probe is
// alive, the replaced global operator new records the largest single
// allocation and the total allocated.
//
// Replacing operator new is binary-wide: include this header in exactly one
// translation unit of a test executable. Outside a probe the replacement only
// forwards to malloc. It sees operator new alone: libraries that call malloc
// directly (zstd, OpenSSL) are not measured.
//
// Threading: the counters are atomics; one probe at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace rcache::test {
namespace probe_detail {
inline std::atomic<bool> armed{false};
inline std::atomic<std::size_t> largest{0};
inline std::atomic<std::size_t> total{0};
}  // namespace probe_detail

struct allocation_probe {
  allocation_probe() {
    probe_detail::largest = 0;
    probe_detail::total = 0;
    probe_detail::armed = true;
  }
  ~allocation_probe() { probe_detail::armed = false; }
  allocation_probe(const allocation_probe&) = delete;
  allocation_probe& operator=(const allocation_probe&) = delete;
  [[nodiscard]] std::size_t largest() const { return probe_detail::largest.load(); }
  [[nodiscard]] std::size_t total() const { return probe_detail::total.load(); }
};

}  // namespace rcache::test

// noinline: once inlined, GCC 12 flags the free() below as not matching new.
[[gnu::noinline]] void* operator new(std::size_t n) {
  namespace d = rcache::test::probe_detail;
  if (d::armed.load(std::memory_order_relaxed)) {
    d::total.fetch_add(n, std::memory_order_relaxed);
    std::size_t prev = d::largest.load(std::memory_order_relaxed);
    while (n > prev && !d::largest.compare_exchange_weak(prev, n)) {
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
