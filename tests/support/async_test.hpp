// Helpers for tests that drive asynchronous code: run a test coroutine on a
// fresh io_context, and wait for a condition without sleeping for it.
//
// Threading: everything runs on the calling thread's io_context, except
// event_loops, whose loops run on threads of their own.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <gtest/gtest.h>
#include <memory>
#include <thread>
#include <vector>

/// ASSERT_TRUE for a test coroutine, whose body cannot `return` (gtest's
/// ASSERT_* do): records the failure and leaves the coroutine.
#define CO_ASSERT(cond)                             \
  if (!(cond)) {                                    \
    ADD_FAILURE() << "assertion failed: " << #cond; \
    co_return;                                      \
  } else                                            \
    (void)0

namespace rcache::test {

inline constexpr auto nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

/// Runs a test coroutine to completion on a fresh io_context. The time limit
/// is a safety net that turns a hang into a failure, not a speed check.
inline void run_async(
    std::function<boost::asio::awaitable<void>(boost::asio::any_io_executor)> body,
    std::chrono::seconds limit = std::chrono::seconds(120)) {
  boost::asio::io_context ioc;
  bool done = false;
  std::exception_ptr failure;
  boost::asio::co_spawn(ioc, body(ioc.get_executor()), [&](std::exception_ptr e) {
    done = true;
    failure = e;
  });
  ioc.run_for(limit);
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

/// `n` io_contexts, each run by a thread of its own until destruction, as a
/// server with one event loop per thread runs them.
class event_loops {
 public:
  explicit event_loops(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
      guards_.emplace_back(contexts_.back()->get_executor());
    }
    for (auto& c : contexts_) threads_.emplace_back([&ctx = *c] { ctx.run(); });
  }
  ~event_loops() {
    guards_.clear();
    for (auto& c : contexts_) c->stop();
    for (auto& t : threads_) t.join();
  }
  event_loops(const event_loops&) = delete;
  event_loops& operator=(const event_loops&) = delete;

  [[nodiscard]] std::vector<boost::asio::any_io_executor> executors() const {
    std::vector<boost::asio::any_io_executor> out;
    for (const auto& c : contexts_) out.push_back(c->get_executor());
    return out;
  }

  /// Runs `body` on loop `i` and waits (at most 60 s, else throws) for its
  /// result on the calling thread.
  template <class T>
  T run_on(std::size_t i, std::function<boost::asio::awaitable<T>()> body) {
    auto f = boost::asio::co_spawn(*contexts_.at(i), body(), boost::asio::use_future);
    if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      throw std::runtime_error("event_loops::run_on: the coroutine never finished");
    }
    return f.get();
  }

 private:
  using guard_t = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<guard_t> guards_;
  std::vector<std::thread> threads_;
};

}  // namespace rcache::test
