// The feed's hub in one gateway process: it holds every WebSocket
// connection's subscriptions, reads the change log's streams that they
// need, and hands each change to the connections whose subscriptions match
// it; pub/sub channels come through a subscriber on the command client.
//
// Reading: one reader per group of shards, on a client of its own (XREAD
// BLOCK holds its connection): a single group with a single server or
// Sentinel (one XREAD names every stream needed), one group per shard with
// a Cluster (a command's keys must share a slot). A shard is read only
// while a subscription needs it: an exact key needs its key's shard, a
// prefix or namespace every shard.
//
// Positions: each shard has an epoch (its epoch key, created SET NX) and a
// cursor, the last ID handed out. A subscription made with `since`
// positions is fed what it missed from the streams (XRANGE pages, each one
// waiting until the connection has room for it), then goes live at the
// cursor, on the hub's strand, so that nothing is missed or sent twice. A
// position of another epoch, or older than the stream's oldest entry, gets
// a reset instead. When Redis comes back after an outage each shard's
// epoch is checked again: a new epoch (the stream was lost) resets that
// shard's subscriptions and its new stream is read from the start.
//
// Threading: every public method may be called from any thread; the work
// runs on the hub's strand. Sinks are called on the strand and must only
// hand over (post) to their own thread; live messages are handed over by
// the hub, batched per thread (sink::take).
#pragma once

#include <rcache/client.hpp>
#include <rcache/subscriber.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "feed/change.hpp"
#include "feed/fanout.hpp"
#include "feed/matcher.hpp"
#include "feed/outbox.hpp"
#include "feed/shards.hpp"
#include "feed/subscription.hpp"

namespace rcache::feed {

/// Renders what the hub sends (the gateway's JSON).
struct renderer {
  std::function<std::string(const change&, std::string_view epoch, bool with_value)> change;
  std::function<std::string(std::string_view channel, std::string_view payload)> channel_message;
};

struct hub_options {
  /// Subscriptions one connection may hold.
  std::size_t max_subscriptions_per_connection = 256;
  /// XREAD BLOCK time: how soon a newly needed shard is read.
  std::chrono::milliseconds block{200};
  /// Entries per XREAD / XRANGE page.
  std::size_t page = 256;
  /// The Redis key of a namespace's key, and back (the gateway's:
  /// "<ns>:<key>"; nullopt: not a namespace's key).
  std::function<std::string(std::string_view ns, std::string_view key)> redis_key =
      [](std::string_view ns, std::string_view key) {
        std::string k(ns);
        k += ':';
        k += key;
        return k;
      };
  std::function<std::optional<std::pair<std::string, std::string>>(std::string_view)> split_key =
      [](std::string_view k) -> std::optional<std::pair<std::string, std::string>> {
    const auto colon = k.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    return std::pair(std::string(k.substr(0, colon)), std::string(k.substr(colon + 1)));
  };
  /// Direct writes (keyspace notifications of this database) reach
  /// subscribers; a notification is held this long for the logged change
  /// of the same write, which stands for it (a write through rcache is
  /// delivered once, with its position).
  bool direct_writes = true;
  int db = 0;
  std::chrono::milliseconds direct_write_window{250};
  /// Notifications held at most (past it they are delivered at once).
  std::size_t max_held_notifications = 100'000;
};

class hub : public std::enable_shared_from_this<hub> {
 public:
  /// `commands` (XRANGE, XINFO, epochs, pub/sub) must outlive the hub;
  /// readers are clients of `reader_config` on `ex`, started when a
  /// subscription first needs a shard.
  hub(boost::asio::any_io_executor ex, client& commands, client_config reader_config,
      shard_layout layout, renderer render, hub_options o);
  ~hub();
  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;

  /// Stops reading and drops every subscription; idempotent. Called on
  /// the thread of `ex`, which must be a single-threaded io_context's (so
  /// that nothing of the hub runs meanwhile), before `commands` goes.
  void stop();

  void subscribe(const std::shared_ptr<sink>& s, subscription_spec spec);
  void unsubscribe(const std::shared_ptr<sink>& s, std::string id);
  /// The connection is gone: its subscriptions end.
  void drop(const sink* s);

  /// Reads the server's notify-keyspace-events and calls `done` (on the
  /// hub's strand) with what it means for direct writes.
  void check_direct_writes(std::function<void(std::string message, bool seen)> done);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace rcache::feed
