// The "nothing stale after a failover" check of the fault tests: read a key
// through the cache until the new value comes back, and fail the test if
// the old one ever does (from the near cache or an old master).
//
// Threading: runs on the calling coroutine's executor.
#pragma once

#include <rcache/cache.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "async_test.hpp"

namespace rcache::test {

/// Reads ns/key until it is `fresh` (returns true) or `limit` passes
/// (false). Errors on the way (the client reconnecting) are retried after
/// 20 ms; a read that returns `stale` fails the test (EXPECT).
inline boost::asio::awaitable<bool> read_until_fresh(
    cache& c, std::string ns, std::string key, std::string fresh, std::string stale,
    std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto [ec, v] = co_await c.async_get(ns, key, nothrow);
    EXPECT_NE(v, std::optional<std::string>(stale)) << "a stale value of " << ns << ":" << key;
    if (!ec && v == std::optional<std::string>(fresh)) co_return true;
    pause.expires_after(std::chrono::milliseconds(20));
    co_await pause.async_wait(nothrow);
  }
  co_return false;
}

}  // namespace rcache::test
