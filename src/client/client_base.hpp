// What rcache::client forwards to: one multiplexed connection
// (client_impl, client.cpp) or a Redis Cluster of them (cluster.cpp),
// chosen by client_config. The public client is a thin handle over this.
//
// Threading: as rcache::client — every method is thread-safe.
#pragma once

#include <rcache/client.hpp>

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

namespace rcache::detail {

class client_base {
 public:
  virtual ~client_base() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  /// The handle is going away: push and state handlers are never called
  /// again (implementations check handlers_off_), and the client stops.
  void detach() {
    handlers_off_.store(true, std::memory_order_release);
    stop();
  }
  /// `req` is not empty (rcache::client answers empty requests itself).
  virtual void submit(request req, exec_handler h) = 0;
  virtual void set_push_handler(std::function<void(const value&)> h) = 0;
  virtual void set_state_handler(
      std::function<void(connection_state, boost::system::error_code)> h) = 0;
  /// The state every implementation keeps in state_ (a cluster or a pool:
  /// the aggregate of its connections).
  [[nodiscard]] connection_state state() const noexcept {
    return state_.load(std::memory_order_acquire);
  }
  [[nodiscard]] virtual client_stats stats() const noexcept = 0;
  [[nodiscard]] virtual std::pair<boost::system::error_code, std::string> last_error() const = 0;
  [[nodiscard]] virtual value server_hello() const = 0;
  [[nodiscard]] virtual boost::asio::any_io_executor get_executor() const noexcept = 0;
  /// The masters' addresses ("host:port"), for request::options::node; one
  /// empty string for a single server.
  [[nodiscard]] virtual std::vector<std::string> masters() const { return {std::string()}; }

 protected:
  std::atomic<bool> handlers_off_{false};  // set by detach() (any thread)
  std::atomic<connection_state> state_{connection_state::idle};
};

/// Adds every counter of `part` to `total` (a client made of connections).
inline void accumulate(client_stats& total, const client_stats& part) noexcept {
  total.requests += part.requests;
  total.commands += part.commands;
  total.writes += part.writes;
  total.replies += part.replies;
  total.pushes += part.pushes;
  total.timeouts += part.timeouts;
  total.retries += part.retries;
  total.rejected += part.rejected;
  total.connects += part.connects;
  total.connect_failures += part.connect_failures;
  total.bytes_written += part.bytes_written;
  total.bytes_read += part.bytes_read;
}

/// Calls an application callback that reports something (a state, push or
/// event handler), if it is set. The one policy for such callbacks: what
/// one throws is caught here and dropped, so that it can neither take a
/// connection down nor leave the client's own state half-updated (there is
/// no caller to hand it to). Completion handlers are not reports but the
/// caller's continuation: what they throw leaves through io_context::run(),
/// as Asio has it (client.cpp, complete()).
template <class Callback, class... Args>
void report(const Callback& callback, Args&&... args) noexcept {
  if (!callback) return;
  try {
    callback(std::forward<Args>(args)...);
  } catch (...) {
  }
}

/// Tells client_config::on_event of `e`, if it is set.
inline void notify(const client_config& cfg, const connection_event& e) noexcept {
  report(cfg.on_event, e);
}

/// The state of a client made of connections (a pool, a cluster's
/// masters), from the state it reported last and its parts' states: every
/// part connected is `connected` (and likewise for stopped and idle); short
/// of that, `disconnected` once it has been up or while any part is down,
/// else `connecting`. A part that is missing counts as connecting.
[[nodiscard]] inline connection_state combined_state(
    connection_state previous, const std::vector<connection_state>& parts) noexcept {
  const auto all = [&](connection_state x) {
    return std::all_of(parts.begin(), parts.end(), [x](auto y) { return y == x; });
  };
  if (!parts.empty()) {
    for (auto s :
         {connection_state::connected, connection_state::stopped, connection_state::idle}) {
      if (all(s)) return s;
    }
  }
  const bool any_down =
      std::find(parts.begin(), parts.end(), connection_state::disconnected) != parts.end();
  const bool was_up =
      previous == connection_state::connected || previous == connection_state::disconnected;
  return was_up || any_down ? connection_state::disconnected : connection_state::connecting;
}

/// One client over several connections to the same server (pool.cpp): each
/// request goes to the connection of the calling thread's executor.
/// `connections` is not empty.
[[nodiscard]] std::shared_ptr<client_base> make_pool_client(
    std::vector<std::shared_ptr<client_base>> connections);

/// A Redis Cluster client (cluster.cpp), for client_config::cluster_nodes.
[[nodiscard]] std::shared_ptr<client_base> make_cluster_client(boost::asio::any_io_executor ex,
                                                               client_config cfg);

}  // namespace rcache::detail
