// What every connection of `rcache serve` shares: the gateway and its
// configuration, the connection count and its limit, the request metrics,
// and, per I/O thread, the list of live connections with the deadline each
// one's current operation must meet.
//
// Threading: one io_context per I/O thread; a connection lives on one
// thread, and that thread's list is touched only there (add(), remove(),
// the sweep, for_each_connection()'s callbacks), so it needs no lock. The
// counts and flags are atomics, read and written from any thread.
//
// Deadlines: a connection keeps one deadline (the read, idle or write
// deadline of what it is doing); one sweep timer per thread closes the
// sockets whose deadline passed, which ends their pending operation with
// operation_aborted. One timer per thread instead of one per connection
// and operation keeps a connection small and an operation free of timer
// bookkeeping.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <string_view>
#include <vector>

#include "server/config.hpp"
#include "server/gateway.hpp"
#include "server/http_api.hpp"
#include "server/http_request.hpp"

namespace rcache::server {

/// The socket type of connections: a concrete executor, not
/// any_io_executor, which would be copied and type-erased on every
/// operation.
using socket_t =
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

/// A coroutine of a connection (its session, a refusal), on the same
/// concrete executor: an operation whose handler's executor is of another
/// type than its I/O object's (any_io_executor) is re-wrapped and tracked
/// for work at each completion, which cost the gateway allocations on every
/// request.
template <class T = void>
using session_task = boost::asio::awaitable<T, boost::asio::io_context::executor_type>;
/// The completion token of session_task: use_awaitable on that executor.
inline constexpr boost::asio::use_awaitable_t<boost::asio::io_context::executor_type>
    use_session_task{};

/// One live connection: what drain(), close_all() and the sweep need to
/// reach it. Owned by its session; listed by shared_state while it lives.
struct connection {
  using clock = std::chrono::steady_clock;

  explicit connection(socket_t s) : socket(std::move(s)) {}

  socket_t socket;
  /// The current operation must end by then, or the sweep closes the socket.
  clock::time_point deadline = clock::time_point::max();
  /// Waiting for the next request (drain() closes idle connections).
  bool idle = true;
  /// This connection's place in its thread's list.
  std::list<std::shared_ptr<connection>>::iterator self{};

  void expires_after(std::chrono::milliseconds d) { deadline = clock::now() + d; }
  void no_deadline() { deadline = clock::time_point::max(); }
  /// Closes the socket; pending operations end with operation_aborted.
  void close() noexcept;
  /// Sends FIN after what was written, then closes.
  void shutdown_and_close() noexcept;
};

class shared_state : public std::enable_shared_from_this<shared_state> {
 public:
  /// `contexts` (one per I/O thread), `gw` and `cfg` must outlive the state.
  shared_state(std::vector<boost::asio::io_context*> contexts, gateway& gw,
               const gateway_config& cfg);

  std::vector<boost::asio::io_context*> const contexts;
  gateway& gw;
  const gateway_config& cfg;
  api_limits const limits;
  request_limits const read_limits;

  /// Counts a new connection in, unless server.max_connections are open
  /// (then it counts a rejection and returns false). Called by the one
  /// accept loop, so the check and the increment do not race each other.
  [[nodiscard]] bool admit() noexcept;
  /// On the connection's own thread: lists an admitted connection (closing
  /// it at once if the server is draining).
  void add(const std::shared_ptr<connection>& conn, std::size_t thread);
  /// On the connection's own thread: unlists it and counts it out.
  void remove(connection& conn, std::size_t thread) noexcept;
  /// Open connections right now.
  [[nodiscard]] std::size_t open() const noexcept { return open_.load(std::memory_order_acquire); }

  /// Set by drain(): sessions answer with "Connection: close" and end.
  [[nodiscard]] bool draining() const noexcept { return draining_.load(std::memory_order_acquire); }
  void start_draining() noexcept { draining_.store(true, std::memory_order_release); }

  /// Runs `f(connection&)` for every live connection, each on its own
  /// thread (posted; returns at once).
  template <class F>
  void for_each_connection(F f) {
    auto self = shared_from_this();
    for (std::size_t i = 0; i < contexts.size(); ++i) {
      boost::asio::post(*contexts[i], [self, i, f] {
        for (auto& c : self->live_[i]) f(*c);
      });
    }
  }

  /// Starts one deadline sweep per I/O thread.
  void start_sweeps();
  /// Stops the sweeps, so that the I/O threads can run out of work.
  void stop_sweeps();

  /// Counts one answered request by route label and status, and its
  /// latency. The label must be a string with static storage (a route
  /// pattern): the per-thread cache of metric children is keyed by its
  /// address, so recording takes the registry's lock only for the first
  /// request of a kind on each thread.
  void record(std::string_view route, unsigned status, std::chrono::steady_clock::duration took);

  /// Open feed (WebSocket) connections, against feed.max_connections.
  std::atomic<std::size_t> feed_open{0};

  /// Gauge of requests read and not yet answered.
  metrics::gauge& in_flight() noexcept { return *in_flight_; }

 private:
  boost::asio::awaitable<void> sweep(std::size_t thread);

  std::atomic<std::size_t> open_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  std::vector<std::unique_ptr<boost::asio::steady_timer>> sweep_timers_;
  // Per I/O thread: the connections of that thread, touched only on it.
  std::vector<std::list<std::shared_ptr<connection>>> live_;
  metrics::gauge* open_gauge_ = nullptr;
  metrics::gauge* in_flight_ = nullptr;
  metrics::counter* accepted_ = nullptr;
  metrics::counter* rejected_ = nullptr;
};

}  // namespace rcache::server
