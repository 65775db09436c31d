// rcache::client — the asynchronous Redis client.
//
// One client is one multiplexed connection. Any number of callers may have
// requests outstanding at once: requests submitted while a write is in
// flight are coalesced into the next write (automatic pipelining), and
// replies are matched to requests in order. The client connects lazily on
// the first request (or on start()), performs HELLO 3 / AUTH / SELECT /
// CLIENT SETNAME, and reconnects by itself with exponential backoff and
// jitter after a failure; pub/sub subscriptions are restored after a
// reconnect.
//
// Redis Cluster: with client_config::cluster_nodes the same class is a
// cluster client — one such connection per master, each command routed by
// its key's slot, multi-key commands and pipelines split and merged back in
// order, MOVED / ASK / TRYAGAIN / CLUSTERDOWN followed or retried within the
// request's deadline (see src/client/cluster.cpp). Its state is `connected`
// while every master's connection is up. Its push handler also receives
// `["invalidate-slots", [start, end, start, end, ...]]` (inclusive slot
// ranges) when a node's connection drops or slots change owner: entries
// cached from there may have missed invalidations.
//
// Failure model: every request has a deadline. A request whose connection
// drops before its replies arrive fails with error::connection_lost, unless
// it is retryable (read-only by default), in which case it is re-sent after
// the reconnect within its deadline. A full send queue fails new requests at
// once with error::queue_full. Redis error replies are values in the
// response, never error_codes.
//
// Several connections: a client built with one executor per event-loop
// thread keeps one such connection per executor and sends each request on
// the calling thread's own (see the constructor).
//
// Threading: all methods are thread-safe. The client runs on a strand of the
// executor it was given; completion handlers run on their own associated
// executor (or inline on the client's strand if they have none); what a
// completion handler throws leaves through io_context::run(). Push and
// state handlers (like client_config::on_event) run on the client's strand
// and must not block; what one throws is caught and dropped, so that it
// cannot take the connection down.
//
// Lifetime: destroying the client stops it; outstanding requests complete
// with error::client_stopped. The executor's execution context must outlive
// the client's outstanding operations.
#pragma once

#include <rcache/command.hpp>
#include <rcache/config.hpp>
#include <rcache/detail/exec_handler.hpp>
#include <rcache/error.hpp>
#include <rcache/request.hpp>
#include <rcache/topology.hpp>
#include <rcache/value.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rcache {

enum class connection_state : std::uint8_t { idle, connecting, connected, disconnected, stopped };

/// Counters of one client, read without locks.
struct client_stats {
  std::uint64_t requests = 0;  // requests accepted
  std::uint64_t commands = 0;  // commands written
  std::uint64_t writes = 0;    // write calls (commands / writes = pipelining factor)
  std::uint64_t replies = 0;   // replies matched
  std::uint64_t pushes = 0;    // push messages received
  std::uint64_t timeouts = 0;  // requests that passed their deadline
  std::uint64_t retries = 0;   // re-sent after a connection loss (cluster: or a redirection)
  std::uint64_t rejected = 0;  // requests refused by backpressure
  std::uint64_t connects = 0;  // successful handshakes
  std::uint64_t connect_failures = 0;  // failed connection attempts
  std::uint64_t bytes_written = 0;
  std::uint64_t bytes_read = 0;
};

/// A Lua script run by EVALSHA; loaded on NOSCRIPT automatically.
class script {
 public:
  explicit script(std::string source);
  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  /// Lower-case hex SHA1 of the source, as Redis computes it.
  [[nodiscard]] const std::string& sha1() const noexcept { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

class client;

namespace detail {
/// Completes a command<T>'s handler with the reply read as T; the handler's
/// associated executor, allocator and cancellation slot are its own
/// (boost::asio::associator below).
template <class T, class Handler>
struct typed_completion {
  Handler handler;
  void operator()(boost::system::error_code ec, response r) && {
    if (ec) {
      std::move(handler)(reply<T>(boost::system::in_place_error, command_error{ec, ec.message()}));
      return;
    }
    std::move(handler)(detail::read_as<T>(std::move(r.front())));
  }
};
class client_base;
class push_router;
const std::shared_ptr<push_router>& router_of(client& c) noexcept;
using eval_handler = boost::asio::any_completion_handler<void(boost::system::error_code, value)>;
}  // namespace detail

class client {
 public:
  using executor_type = boost::asio::any_io_executor;

  /// `topo` decides where to connect; null means cfg.server. `ex` is an
  /// io_context's executor (std::invalid_argument otherwise, a strand too:
  /// the client runs on a strand of its own).
  client(executor_type ex, client_config cfg, std::shared_ptr<topology> topo = nullptr);

  /// One connection per executor, for a program that runs one event loop
  /// per thread: a request uses the connection whose executor (an
  /// io_context's) runs the calling thread, so it never changes threads;
  /// from any other thread, or while that connection is down, the next
  /// connection that is up; pub/sub commands always the first. The first
  /// request (or start()) connects them all. state() is `connected` while
  /// every connection is, and any one that drops reports `disconnected` for
  /// the whole. Push handlers may run concurrently, on different
  /// connections' strands. get_executor() is the first executor. With
  /// cfg.cluster_nodes: one cluster client on the first executor. Throws
  /// std::invalid_argument when `executors` is empty.
  client(std::vector<executor_type> executors, client_config cfg);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Starts connecting now rather than on the first request. Idempotent.
  void start();

  /// Stops: closes the connection, fails every outstanding request with
  /// error::client_stopped, and does not reconnect. Idempotent.
  void stop();

  /// Sends `req`; completes with void(error_code, response) once every
  /// command has its reply, or with the error that prevented it.
  template <class CompletionToken>
  auto async_exec(request req, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, response)>(
        // The implementation, not `this`: a deferred operation may outlive the client.
        [impl = impl_](auto handler, request r) { submit(impl, std::move(r), std::move(handler)); },
        token, std::move(req));
  }

  /// Sends one command and reads its reply as T (command.hpp, reply.hpp);
  /// completes with void(reply<T>): the value, or a command_error holding
  /// the transport error, the Redis error reply with its message, or a
  /// reply that is not a T.
  ///   auto v = co_await redis.async_command(cmd::get("k"), asio::use_awaitable);
  template <class T, class CompletionToken>
  auto async_command(command<T> c, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(reply<T>)>(
        [impl = impl_](auto handler, request r) {
          submit(impl, std::move(r),
                 detail::typed_completion<T, decltype(handler)>{std::move(handler)});
        },
        token, std::move(c).take_request());
  }

  /// Runs `s` with EVALSHA; on NOSCRIPT loads it (SCRIPT LOAD) and retries
  /// once. Completes with void(error_code, value): the script's reply (which
  /// may be an error reply value).
  template <class CompletionToken>
  auto async_eval(const script& s, std::vector<std::string> keys, std::vector<std::string> args,
                  CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, value)>(
        [impl = impl_](auto handler, const script& sc, std::vector<std::string> k,
                       std::vector<std::string> a) {
          submit_eval(impl, sc, std::move(k), std::move(a), std::move(handler));
        },
        token, s, std::move(keys), std::move(args));
  }

  /// Receives every push message that is not a subscription confirmation
  /// (pub/sub messages, client-tracking invalidations, ...) and that rcache
  /// itself did not consume: under a cache, the near cache's invalidations
  /// go to the cache first, whatever handler is set here. Set it before
  /// subscribing; it runs on the client's strand.
  void set_push_handler(std::function<void(const value&)> h);

  /// Called on every state change with the error that caused it (if any).
  void set_state_handler(std::function<void(connection_state, boost::system::error_code)> h);

  [[nodiscard]] connection_state state() const noexcept;
  [[nodiscard]] client_stats stats() const noexcept;
  /// The last connection error and the server's message for it (e.g.
  /// "WRONGPASS invalid username-password pair"), for diagnostics.
  [[nodiscard]] std::pair<boost::system::error_code, std::string> last_error() const;
  /// The server's HELLO reply from the current or last connection.
  [[nodiscard]] value server_hello() const;
  [[nodiscard]] executor_type get_executor() const noexcept;
  /// The masters in use, as "host:port" for request::options::node: one
  /// per cluster shard (from the current slot map); a single server or
  /// Sentinel gives one empty string (the server in use). A cluster client
  /// gives none until its first slot map has arrived.
  [[nodiscard]] std::vector<std::string> masters() const;

 private:
  static void submit(const std::shared_ptr<detail::client_base>& impl, request req,
                     detail::exec_handler h);
  static void submit_eval(const std::shared_ptr<detail::client_base>& impl, const script& s,
                          std::vector<std::string> keys, std::vector<std::string> args,
                          detail::eval_handler h);
  friend const std::shared_ptr<detail::push_router>& detail::router_of(client& c) noexcept;
  std::shared_ptr<detail::client_base> impl_;
  std::shared_ptr<detail::push_router> router_;  // where impl_'s pushes go
};

}  // namespace rcache

template <template <class, class> class Associator, class T, class Handler, class Default>
struct boost::asio::associator<Associator, rcache::detail::typed_completion<T, Handler>, Default>
    : Associator<Handler, Default> {
  static typename Associator<Handler, Default>::type get(
      const rcache::detail::typed_completion<T, Handler>& h) noexcept {
    return Associator<Handler, Default>::get(h.handler);
  }
  static auto get(const rcache::detail::typed_completion<T, Handler>& h, const Default& d) noexcept
      -> decltype(Associator<Handler, Default>::get(h.handler, d)) {
    return Associator<Handler, Default>::get(h.handler, d);
  }
};
