// The "nothing stale after a failover" checks of the fault tests: read a key
// through the cache until the new value comes back, and fail the test if
// the old one ever does (from the near cache or an old master); or read it
// straight from the server the client is connected to while the topology
// settles.
//
// Threading: runs on the calling coroutine's executor.
#pragma once

#include <rcache/cache.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <future>
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

/// Until `settled` is ready: reads `redis_key` with GET through the cache's
/// client (so the near cache cannot answer: this is what the connected
/// server holds), failing the test (EXPECT) if it is ever `stale`; errors on
/// the way (a reconnect) are allowed. Then rethrows what `settled` threw.
inline boost::asio::awaitable<void> never_stale_in_redis_until(cache& c, std::string redis_key,
                                                               std::string stale,
                                                               std::future<void> settled) {
  boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
  while (settled.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    request r;
    r.push("GET", redis_key);
    auto [ec, resp] = co_await c.redis().async_exec(std::move(r), nothrow);
    if (!ec && !resp.empty()) {
      EXPECT_NE(resp[0].str, stale) << "a stale value of " << redis_key << " from the server";
    }
    pause.expires_after(std::chrono::milliseconds(20));
    co_await pause.async_wait(nothrow);
  }
  settled.get();
}

}  // namespace rcache::test
