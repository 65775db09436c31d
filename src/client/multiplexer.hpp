// The multiplexer of one Redis connection, without I/O: the send queue,
// the requests written and awaiting replies, the matching of each value
// read to its request (or to pub/sub as a push), the pub/sub sets restored
// on every connection, and the requests' deadlines. client.cpp drives it
// with a socket, timers and callers; the unit tests drive it with values
// parsed from byte streams split at every offset.
//
// It never calls a handler: every method that ends requests hands them back
// (`answered`, `lost`, ...) and the driver completes them after the call
// returns, when the multiplexer is consistent again (a completion runs user
// code, which may submit or stop the client).
//
// Invariants: send_ holds requests not yet written, in submission order;
// wait_ holds written requests in write order, which is reply order. A
// request that was retired (completed, e.g. by its deadline) while it is
// still in wait_ is a tombstone: its replies are read and dropped so the
// stream stays in step. queued_count_ / queued_bytes_ count the requests
// with pending::queued set: from enqueue (or re-queue after a connection
// loss) until written or retired.
//
// Threading: none; one driver (the connection's strand) owns it.
#pragma once

#include <rcache/detail/exec_handler.hpp>
#include <rcache/request.hpp>
#include <rcache/value.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::detail {

using mux_clock = std::chrono::steady_clock;

/// One request on its way through the connection.
struct pending {
  std::string payload;
  std::vector<request::command_info> info;  // empty: every command is normal
  std::size_t commands = 0;
  std::size_t next = 0;                  // index of the command awaiting its reply
  std::uint32_t confirmations_left = 0;  // for a subscribe-kind command in progress
  bool command_started = false;
  response replies;
  exec_handler handler;
  mux_clock::time_point deadline;
  bool retryable = false;
  int retries_left = 0;
  bool wait_for_connection = true;
  bool queued = false;  // counted in the multiplexer's queue accounting
  bool written = false;
  bool unsent = false;  // written, but its write failed before any byte left
  bool done = false;    // retired: completed or about to be
};
using pending_ptr = std::shared_ptr<pending>;

/// What a new pending request takes from the client's configuration.
struct pending_defaults {
  std::chrono::milliseconds command_timeout{1000};
  int max_retries = 0;
};

/// A pending request for `req` (consumed): its deadline from `now` and the
/// request's own timeout (else the default, capped at a year), whether a
/// lost connection may send it again (the request's option, else whether
/// it is read-only).
[[nodiscard]] pending_ptr make_pending(request req, const pending_defaults& defaults,
                                       mux_clock::time_point now = mux_clock::now());

class multiplexer {
 public:
  struct limits {
    std::size_t max_queued_requests = 1 << 20;
    std::size_t max_queued_bytes = std::size_t(1) << 30;
  };
  multiplexer() = default;
  explicit multiplexer(limits l) : limits_(l) {}

  // ---- the send queue --------------------------------------------------------

  /// Queues `p` behind everything queued and records its deadline. False
  /// (and `p` is left alone) when that would pass a queue limit, unless
  /// `bypass_limits` (the client's own requests: a full queue is when a
  /// health check matters).
  [[nodiscard]] bool enqueue(const pending_ptr& p, bool bypass_limits = false);
  /// Queues `ps`, in order, in front of everything queued (pub/sub
  /// restored on a new connection goes before what waited for it).
  void enqueue_front(const std::vector<pending_ptr>& ps);
  [[nodiscard]] bool has_queued() const noexcept { return !send_.empty(); }

  /// What one write carries: requests moved from the send queue to the
  /// wait queue (the last `requests` of it) and their commands.
  struct write_batch {
    std::size_t requests = 0;
    std::size_t commands = 0;
  };
  /// Appends queued requests to `buf` until it holds `max_bytes` or more,
  /// or the queue is empty (retired requests are skipped), and moves them to
  /// the wait queue as written.
  write_batch prepare_write(std::string& buf, std::size_t max_bytes);
  /// The write of `batch` failed before any byte of it left: its requests
  /// may be sent again on the next connection, whatever their commands.
  void mark_unsent(const write_batch& batch);

  // ---- reading ---------------------------------------------------------------

  struct consumed {
    enum class kind : std::uint8_t {
      reply,         // a reply to the oldest written request
      confirmation,  // a push confirming a pub/sub command of that request
      push,          // a push for the application (a message, an invalidation, ...)
      unexpected,    // a reply with no request waiting: the stream is out of step
    };
    kind what = kind::reply;
    pending_ptr answered;  // set when the value completed its request (now off the queue),
                           // unless that request was already retired
  };
  /// Takes one value read from the connection. A push is left in `v` for
  /// the driver to hand on when the result says `push`.
  [[nodiscard]] consumed consume(value& v);
  /// The oldest written request still waiting for replies, if any (a reply
  /// past a parser limit answers it).
  [[nodiscard]] pending_ptr oldest_waiting() const;

  // ---- ending requests ---------------------------------------------------------

  /// Takes `p` off the books (queue accounting, deadline heap, payload)
  /// and marks it done. False when it already was: a request completes
  /// exactly once, and only the caller that got true completes it.
  [[nodiscard]] bool retire(pending& p) noexcept;

  /// The connection ended. Written requests that were never sent, or may
  /// be retried within their budget (and `may_retry`), go back to the front
  /// of the send queue; the rest are returned, with the queued requests
  /// that chose not to wait for a connection, for the driver to retire.
  /// `retried` counts the former.
  struct lost_requests {
    std::vector<pending_ptr> written;  // were awaiting replies: connection_lost
    std::vector<pending_ptr> queued;   // would not wait: not_connected
    std::size_t retried = 0;
  };
  [[nodiscard]] lost_requests connection_lost(bool may_retry);

  /// Removes and returns the queued requests for which `pred` holds.
  [[nodiscard]] std::vector<pending_ptr> take_queued_if(
      const std::function<bool(const pending&)>& pred);
  /// Removes and returns every request, waiting ones first (stop()).
  [[nodiscard]] std::vector<pending_ptr> take_all();

  // ---- deadlines ---------------------------------------------------------------

  /// The earliest deadline of a request not yet retired; max() when none.
  [[nodiscard]] mux_clock::time_point next_deadline();
  /// Removes and returns the requests whose deadline is at or before `now`
  /// (not yet retired), earliest first.
  [[nodiscard]] std::vector<pending_ptr> take_expired(mux_clock::time_point now);

  // ---- pub/sub -----------------------------------------------------------------

  /// For a new connection: nothing is confirmed on it yet; the requests
  /// that subscribe again to everything the application subscribed to
  /// (channels, patterns, shard channels), in the order they should go.
  /// The application's sets are kept until it unsubscribes, so a restore
  /// that fails is tried again on the next connection.
  struct resubscription {
    std::string_view command;  // "SUBSCRIBE", "PSUBSCRIBE" or "SSUBSCRIBE"
    request req;
  };
  [[nodiscard]] std::vector<resubscription> restore_subscriptions();
  /// Subscribed channels, patterns or shard channels ("subscribe",
  /// "psubscribe", "ssubscribe"), as the application asked for them.
  [[nodiscard]] const std::set<std::string>& subscribed(std::string_view kind) const;

  // ---- accounting ----------------------------------------------------------------

  [[nodiscard]] std::size_t queued_count() const noexcept { return queued_count_; }
  [[nodiscard]] std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  [[nodiscard]] std::size_t waiting_count() const noexcept { return wait_.size(); }

 private:
  struct subscription_sets {
    std::set<std::string>* desired;
    std::set<std::string>* confirmed;
  };
  subscription_sets sets_for(std::string_view kind);
  void count_queued(pending& p) noexcept;
  void unqueue(pending& p) noexcept;
  void start_command(pending& p);
  pending_ptr command_answered();
  consumed consume_push(value& v);
  void add_deadline(const pending_ptr& p);
  pending_ptr pop_deadline();
  void prune_deadlines() noexcept;

  limits limits_;
  std::deque<pending_ptr> send_;
  std::deque<pending_ptr> wait_;
  std::size_t queued_count_ = 0;
  std::size_t queued_bytes_ = 0;

  struct deadline_entry {
    mux_clock::time_point at;
    pending_ptr p;
  };
  std::vector<deadline_entry> deadlines_;  // a min-heap on `at`

  // What the application subscribed to (restored on reconnect) and what
  // the current connection has confirmed (counts UNSUBSCRIBE-all).
  std::set<std::string> channels_, patterns_, shard_channels_;
  std::set<std::string> confirmed_channels_, confirmed_patterns_, confirmed_shard_channels_;
};

}  // namespace rcache::detail
