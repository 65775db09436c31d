// Where a client's push messages go, and the subscribers that receive
// them. Every connection of a client (one, a pool's, a cluster's masters')
// hands each push that is not a subscription confirmation to the client's
// one router, which passes it on in order:
//   1. the listener rcache itself installs (the cache's near-cache
//      invalidations), which may consume it;
//   2. the subscribers that hold its channel, pattern or shard channel;
//   3. the application's push handler (client::set_push_handler).
// The listener has a slot of its own, so no public call can replace or
// detach the cache's invalidation handling.
//
// The router also keeps Redis in line with what its subscribers hold
// (subscriptions.hpp): one SUBSCRIBE / UNSUBSCRIBE request at a time, sent
// through the client like any other, so the connection's own bookkeeping
// restores it after a reconnect. A failed request fails the subscribe
// calls waiting on it and undoes what they added; Redis is brought in line
// again on the next call.
//
// Threading: thread-safe. dispatch() runs on the strand of the connection
// that received the push (several at once for a pool or a cluster); the
// other methods on any thread. Callbacks and completions never run under
// the router's mutex.
#pragma once

#include <rcache/subscriber.hpp>
#include <rcache/value.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "client/subscriptions.hpp"

namespace rcache::detail {

class client_base;
class subscriber_state;

class push_router : public std::enable_shared_from_this<push_router> {
 public:
  /// rcache's own listener: sees every push first; returns true when it
  /// consumed the push (it goes no further). Null removes it.
  using listener = std::function<bool(const value&)>;
  using handler = std::function<void(const value&)>;

  /// `impl` sends the subscription commands (weak: the router outlives
  /// nothing).
  explicit push_router(std::weak_ptr<client_base> impl) : impl_(std::move(impl)) {}

  void set_listener(listener l);
  void set_application(handler h);

  /// Passes `v` on, as above. What a callback throws is caught and dropped
  /// (client_base.hpp's report()).
  void dispatch(const value& v) const;

  // ---- subscribers ----
  /// Registers `s` (sets its id).
  void attach(const std::shared_ptr<subscriber_state>& s);
  /// `s` holds (subscribe) or stops holding `names` of `kind`; `h` completes
  /// once Redis is in line for them.
  void change(const std::shared_ptr<subscriber_state>& s, subscription_kind kind, bool subscribe,
              std::vector<std::string> names, subscribe_handler h);
  /// `s` holds nothing any more and is forgotten; its pending calls fail
  /// with error::subscriber_closed.
  void detach(const subscriber_state& s);
  [[nodiscard]] std::vector<std::string> held_by(const subscriber_state& s,
                                                 subscription_kind kind) const;
  /// The client is going away: every subscriber is shut and forgotten.
  void shutdown();

 private:
  struct waiter {
    subscription_table::owner owner = 0;
    subscription_kind kind = subscription_kind::channel;
    std::vector<std::string> names;  // all the call named
    std::vector<std::string> added;  // what it added (undone on failure)
    subscribe_handler handler;
    boost::asio::any_io_executor executor;
  };
  struct finished {
    subscribe_handler handler;
    boost::asio::any_io_executor executor;
    boost::system::error_code ec;
  };
  /// Under mutex_: the next change to send, if none is in flight.
  std::optional<subscription_table::change> start_change();
  void send(subscription_table::change c);
  void on_sent(const subscription_table::change& c, boost::system::error_code ec);
  /// Under mutex_: moves the waiters `done` selects to `out`, with `ec`.
  template <class Pred>
  void finish_waiters(Pred done, boost::system::error_code ec, std::vector<finished>& out);
  static void complete(std::vector<finished> done);

  const std::weak_ptr<client_base> impl_;
  mutable std::mutex mutex_;
  std::shared_ptr<const listener> listener_;
  std::shared_ptr<const handler> application_;
  subscription_table table_;
  std::map<subscription_table::owner, std::shared_ptr<subscriber_state>> subscribers_;
  std::vector<waiter> waiters_;
  subscription_table::owner next_owner_ = 1;
  bool in_flight_ = false;
  bool stalled_ = false;  // a change failed: wait for the next call before retrying
};

/// The router of `c`, for rcache's own code (the cache, subscribers).
[[nodiscard]] const std::shared_ptr<push_router>& router_of(client& c) noexcept;

}  // namespace rcache::detail
