// How the hub hands a message to the connections (sinks) whose
// subscriptions match it: each sink once, however many of its
// subscriptions match (with the message's value if any of them asked for
// values, under the strictest of their policies), and in one post per
// executor — a thread of the gateway — carrying every sink of that thread,
// not one post per sink: at 10,000 subscribers of one prefix, a change is
// 10,000 deliveries.
//
// A sink has a seat (its lane: the sinks of its executor) from its first
// subscription to its last. A message is begin(), reach() for each
// matching subscription, then hand_over(); a sink is marked with the
// message it was last reached by, so finding it again costs nothing.
//
// Threading: not thread-safe; the hub's strand. Sinks' take() runs on
// their executors.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "feed/change.hpp"
#include "feed/outbox.hpp"

namespace rcache::feed {

/// A connection, as the hub sees it. Called on the hub's strand, except
/// take(), which is called on executor().
class sink {
 public:
  virtual ~sink() = default;
  /// Where its live messages are handed to it (its connection's thread):
  /// sinks with equal executors get each message in one batch. Must not
  /// change while it is seated.
  [[nodiscard]] virtual const boost::asio::any_io_executor& executor() const = 0;
  /// The subscription holds; `positions` are where it starts (`resumed`:
  /// what it missed follows, from the log).
  virtual void subscribed(const std::string& id, std::vector<position> positions, bool resumed) = 0;
  virtual void refused(const std::string& id, std::string code, std::string reason) = 0;
  virtual void unsubscribed(const std::string& id) = 0;
  /// The position could not be resumed: the subscription goes on from now.
  virtual void reset(const std::string& id, std::string reason) = 0;
  /// Redis became unreachable, or reachable again.
  virtual void notice(bool available, std::string detail) = 0;
  /// A live message (a change or a channel message) under `policy`, on
  /// executor(), possibly after the sink dropped out (it then does
  /// nothing); `coalesce_key` is empty for messages that cannot be
  /// coalesced.
  virtual void take(const frame& f, std::string_view coalesce_key, slow_policy policy) = 0;
  /// A page of a resume: queued once there is room for all of it, then
  /// `queued` is called (from any thread). Never called once the sink is
  /// dropped.
  virtual void replay(std::vector<frame> page, std::function<void()> queued) = 0;
};

class fanout {
 public:
  /// A seated sink's lane and its mark.
  struct seat {
    std::size_t lane = 0;
    std::uint64_t reached = 0;  // the message that reached it last
    std::size_t slot = 0;       // its place in its lane's batch for that message
  };

  /// A seat for `s`, in the lane of its executor (a new lane, or a free
  /// one, for an executor not seen yet).
  [[nodiscard]] seat sit(const sink& s);
  /// The sink of `st` is gone (its lane may be reused).
  void leave(const seat& st);

  /// Starts a message.
  void begin() { ++serial_; }
  /// Adds the sink of `st` to the message (merging when it is there
  /// already); false when it is gone.
  bool reach(seat& st, const std::weak_ptr<sink>& s, bool values, slow_policy policy);
  /// Posts the message to every sink reached: `render(values)` gives the
  /// frame for sinks that asked for values, or did not (called at most
  /// once for each per lane).
  void hand_over(const std::function<frame(bool values)>& render, const std::string& coalesce_key);

  /// Lanes in use.
  [[nodiscard]] std::size_t lanes() const noexcept;
  void clear() { lanes_.clear(); }

 private:
  struct delivery {
    std::shared_ptr<sink> to;
    bool values;
    slow_policy policy;
  };
  struct lane {
    boost::asio::any_io_executor ex;
    std::size_t sinks = 0;  // 0: free
    std::vector<delivery> batch;
  };
  std::vector<lane> lanes_;
  std::uint64_t serial_ = 0;
};

}  // namespace rcache::feed
