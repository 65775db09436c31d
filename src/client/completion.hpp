// Completing an asynchronous operation: the one way the client and the cache
// hand results to their callers.
//
// complete_now runs the handler on its associated executor (or `fallback`
// when it has none) — inline when that executor is the current one, which
// is what lets a caller resumed by the reader submit into the current batch.
// complete_later always goes through a post first: for results known while
// the operation is still being started, which must never run the caller's
// continuation inside its own initiating call (Asio's rule; a caller looping
// over such results would recurse without bound).
//
// Threading: free functions; the executors decide where handlers run.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <utility>

namespace rcache::detail {

template <class Executor, class Handler, class... Args>
void complete_now(const Executor& fallback, Handler h, Args&&... args) {
  auto ex = boost::asio::get_associated_executor(h, fallback);
  boost::asio::dispatch(ex, [h = std::move(h), ... a = std::forward<Args>(args)]() mutable {
    std::move(h)(std::move(a)...);
  });
}

template <class Executor, class Handler, class... Args>
void complete_later(const Executor& fallback, Handler h, Args&&... args) {
  // Posted to `fallback`: a type-erased handler's own executor may not
  // support post (any_completion_executor has no blocking.never).
  boost::asio::post(fallback,
                    [fallback, h = std::move(h), ... a = std::forward<Args>(args)]() mutable {
                      complete_now(fallback, std::move(h), std::move(a)...);
                    });
}

}  // namespace rcache::detail
