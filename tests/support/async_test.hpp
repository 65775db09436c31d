// Helpers for tests that drive asynchronous code: run a test coroutine on a
// fresh io_context, and wait for a condition without sleeping for it.
//
// Threading: everything runs on the calling thread's io_context.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <gtest/gtest.h>

namespace rcache::test {

inline constexpr auto nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

/// Runs a test coroutine to completion on a fresh io_context. The time limit
/// is a safety net that turns a hang into a failure, not a speed check.
inline void run_async(
    std::function<boost::asio::awaitable<void>(boost::asio::any_io_executor)> body) {
  boost::asio::io_context ioc;
  bool done = false;
  std::exception_ptr failure;
  boost::asio::co_spawn(ioc, body(ioc.get_executor()), [&](std::exception_ptr e) {
    done = true;
    failure = e;
  });
  ioc.run_for(std::chrono::seconds(120));
  ASSERT_TRUE(done) << "the test coroutine never finished: something hangs";
  if (failure) std::rethrow_exception(failure);
}

/// Polls `cond` until it holds or `limit` passes: a wait for a condition,
/// not a sleep standing in for one.
inline boost::asio::awaitable<bool> eventually(
    std::function<bool()> cond, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor);
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) co_return false;
    t.expires_after(std::chrono::milliseconds(5));
    co_await t.async_wait(nothrow);
  }
  co_return true;
}

/// Runs `work` (a fault and the wait for what follows it) on another
/// thread while the event loop goes on, as it would in an application, and
/// returns its result; an exception it throws is rethrown here.
template <class F>
auto off_the_loop(F work, std::chrono::milliseconds limit = std::chrono::seconds(60))
    -> boost::asio::awaitable<decltype(work())> {
  auto done = std::async(std::launch::async, std::move(work));
  EXPECT_TRUE(co_await eventually(
      [&] { return done.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }, limit));
  co_return done.get();
}

}  // namespace rcache::test
