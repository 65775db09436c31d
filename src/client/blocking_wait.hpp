// Waiting for an asynchronous operation from a thread without an event
// loop: the one way the blocking facades (blocking_client,
// blocking_cache, blocking_session_store) turn a completion into a result.
//
// Threading: the operation must complete on another thread (the facade's
// io thread); wait_for blocks the calling thread until it has.
#pragma once

#include <rcache/error.hpp>

#include <future>
#include <utility>

namespace rcache::detail {

/// Calls start(handler) with a handler of signature void(error_code, T)
/// and blocks until it has run; its arguments as a result<T>.
template <class T, class Start>
result<T> wait_for(Start&& start) {
  std::promise<result<T>> done;
  auto fut = done.get_future();
  std::forward<Start>(start)([&done](boost::system::error_code ec, T v) {
    if (ec) {
      done.set_value(result<T>(boost::system::in_place_error, ec));
    } else {
      done.set_value(result<T>(boost::system::in_place_value, std::move(v)));
    }
  });
  return fut.get();
}

}  // namespace rcache::detail
