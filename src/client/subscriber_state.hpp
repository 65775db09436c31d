// What a subscriber (include/rcache/subscriber.hpp) shares with its
// client's push router: its buffer or callback, its waiting receive, and
// its place in the router. The public subscriber is a handle over this.
//
// Threading: thread-safe. deliver() runs on the strand of the connection
// that received the message; the rest on any thread.
#pragma once

#include <rcache/subscriber.hpp>

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>

namespace rcache::detail {

class push_router;

class subscriber_state {
 public:
  using owner = std::uint64_t;

  subscriber_state(std::shared_ptr<push_router> router, boost::asio::any_io_executor ex,
                   subscriber_options opts, std::function<void(const message&)> on_message);

  /// A message for this subscriber: to the callback, a waiting receive or
  /// the buffer (overflow policy).
  void deliver(message m);
  /// Fails a waiting receive with error::subscriber_closed and drops the
  /// buffer; later receives fail too. Idempotent.
  void shut();

  void receive(receive_handler h);

  [[nodiscard]] std::uint64_t dropped() const noexcept;
  [[nodiscard]] std::size_t buffered() const;

  const std::shared_ptr<push_router> router;
  const boost::asio::any_io_executor executor;  // for handlers without one
  owner id = 0;                                 // set by the router

 private:
  const subscriber_options opts_;
  const std::function<void(const message&)> on_message_;
  mutable std::mutex mutex_;
  bool shut_ = false;
  std::deque<message> buffer_;
  std::optional<receive_handler> waiting_;
  std::atomic<std::uint64_t> dropped_{0};
  std::uint64_t gap_ = 0;  // drops not yet reported by a message
};

}  // namespace rcache::detail
