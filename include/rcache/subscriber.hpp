// rcache::subscriber — pub/sub on a client, beside everything else it does.
//
// A subscriber holds channels (SUBSCRIBE), patterns (PSUBSCRIBE) and shard
// channels (SSUBSCRIBE) and receives their messages, either through a
// callback or by async_receive from a bounded buffer. Any number of
// subscribers share one client and its connection with ordinary commands
// and with a cache's near-cache invalidations, which no subscriber can
// detach. Subscriptions are counted: Redis is subscribed to a name while at
// least one subscriber holds it, so one subscriber leaving never cuts
// another off. After a reconnect the client subscribes again by itself.
//
//   rcache::subscriber sub(client);
//   std::vector<std::string> channels{"orders"};  // not braced inside co_await (GCC 12)
//   co_await sub.async_subscribe(channels, asio::use_awaitable);
//   for (;;) {
//     rcache::message m = co_await sub.async_receive(asio::use_awaitable);
//     if (m.dropped_before > 0) { /* the buffer overflowed: resynchronise */ }
//     handle(m.channel, m.payload);
//   }
//
// Buffering: messages wait for async_receive in a buffer of at most
// subscriber_options::max_buffered; when it is full, the overflow policy
// drops the oldest buffered message (default) or the newest, and the next
// message received says how many were dropped before it (dropped_before),
// so a consumer that falls behind always knows it did.
//
// Cluster: channels and patterns are subscribed on one master (Redis
// Cluster broadcasts PUBLISH to every node); each shard channel on the
// master of its slot.
//
// Threading: all methods are thread-safe. A callback runs on the client's
// strand and must not block; what it throws is caught and dropped.
// Completion handlers run on their associated executor (the client's
// executor when they have none). A subscriber must not outlive its client's
// io_context run; destroying the client closes every subscriber on it.
#pragma once

#include <rcache/client.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rcache {

/// What a subscription names: a channel, a glob-style pattern, or a shard
/// channel (Redis 7 sharded pub/sub).
enum class subscription_kind : std::uint8_t { channel, pattern, shard_channel };

/// One pub/sub message.
struct message {
  /// How it matched: channel (from SUBSCRIBE), pattern (PSUBSCRIBE) or
  /// shard_channel (SSUBSCRIBE).
  subscription_kind kind = subscription_kind::channel;
  std::string channel;  // the channel it was published to
  std::string pattern;  // the pattern that matched (kind == pattern), else empty
  std::string payload;
  /// Messages this subscriber dropped (buffer overflow) between the one it
  /// received before this one and this one. Always 0 with a callback.
  std::uint64_t dropped_before = 0;
};

/// What happens when a message arrives and the buffer is full.
enum class overflow_policy : std::uint8_t {
  drop_oldest,  // the oldest buffered message makes room (a live view stays current)
  drop_newest,  // the arriving message is dropped (what was buffered stays in order)
};

struct subscriber_options {
  /// Messages kept for async_receive; 0 keeps none (only a waiting receive
  /// gets a message).
  std::size_t max_buffered = 10'000;
  overflow_policy overflow = overflow_policy::drop_oldest;
};

namespace detail {
class subscriber_state;
using subscribe_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;
using receive_handler =
    boost::asio::any_completion_handler<void(boost::system::error_code, message)>;
}  // namespace detail

class subscriber {
 public:
  /// Messages wait in a buffer for async_receive.
  explicit subscriber(client& c, subscriber_options opts = {});
  /// Each message is handed to `on_message` as it arrives (on the client's
  /// strand); nothing is buffered and async_receive is not used.
  subscriber(client& c, std::function<void(const message&)> on_message);
  /// close().
  ~subscriber();
  subscriber(subscriber&&) noexcept;
  subscriber& operator=(subscriber&&) noexcept;
  subscriber(const subscriber&) = delete;
  subscriber& operator=(const subscriber&) = delete;

  /// Holds `names` (channels / patterns / shard channels); completes with
  /// void(error_code) once Redis confirmed them (at once when another
  /// subscriber already holds them). On an error (the client stopped, a
  /// connection lost, an ACL refusal: error::redis_error) the names this
  /// call added are not held.
  template <class CompletionToken>
  auto async_subscribe(std::vector<std::string> names, CompletionToken&& token) {
    return change(subscription_kind::channel, true, std::move(names),
                  std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  auto async_psubscribe(std::vector<std::string> patterns, CompletionToken&& token) {
    return change(subscription_kind::pattern, true, std::move(patterns),
                  std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  auto async_ssubscribe(std::vector<std::string> shard_channels, CompletionToken&& token) {
    return change(subscription_kind::shard_channel, true, std::move(shard_channels),
                  std::forward<CompletionToken>(token));
  }

  /// Stops holding `names` (all of that kind when empty); completes once
  /// Redis is in line. Messages of names no longer held are not delivered.
  template <class CompletionToken>
  auto async_unsubscribe(std::vector<std::string> names, CompletionToken&& token) {
    return change(subscription_kind::channel, false, std::move(names),
                  std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  auto async_punsubscribe(std::vector<std::string> patterns, CompletionToken&& token) {
    return change(subscription_kind::pattern, false, std::move(patterns),
                  std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  auto async_sunsubscribe(std::vector<std::string> shard_channels, CompletionToken&& token) {
    return change(subscription_kind::shard_channel, false, std::move(shard_channels),
                  std::forward<CompletionToken>(token));
  }

  /// The next message: void(error_code, message). At most one receive
  /// waits at a time (another fails with error::receive_in_progress); after
  /// close(), error::subscriber_closed.
  template <class CompletionToken>
  auto async_receive(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, message)>(
        [st = st_](auto handler) { receive(st, std::move(handler)); }, token);
  }

  /// Stops holding everything (Redis is told, unless another subscriber
  /// holds the same names), drops what is buffered, and fails a waiting
  /// receive and pending subscribe calls with error::subscriber_closed.
  /// Idempotent.
  void close();

  /// What this subscriber holds of `kind`.
  [[nodiscard]] std::vector<std::string> subscriptions(subscription_kind kind) const;
  /// Messages dropped by the overflow policy so far.
  [[nodiscard]] std::uint64_t dropped() const noexcept;
  /// Messages waiting for async_receive.
  [[nodiscard]] std::size_t buffered() const;

 private:
  template <class CompletionToken>
  auto change(subscription_kind kind, bool subscribe, std::vector<std::string> names,
              CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
        [st = st_](auto handler, subscription_kind k, bool s, std::vector<std::string> n) {
          submit_change(st, k, s, std::move(n), std::move(handler));
        },
        token, kind, subscribe, std::move(names));
  }
  static void submit_change(const std::shared_ptr<detail::subscriber_state>& st,
                            subscription_kind kind, bool subscribe, std::vector<std::string> names,
                            detail::subscribe_handler h);
  static void receive(const std::shared_ptr<detail::subscriber_state>& st,
                      detail::receive_handler h);
  std::shared_ptr<detail::subscriber_state> st_;
};

}  // namespace rcache
