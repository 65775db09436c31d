// The HTTP/1.1 front of `rcache serve` on Boost.Beast: a listener
// (listener.hpp) and one session per connection (http_session.hpp) over
// their shared state (shared_state.hpp), feeding requests to the gateway;
// WebSocket upgrades meet websocket_session.hpp.
//
// Threading: one io_context per I/O thread. The listener accepts on the
// first context and hands each socket to the next context in turn; a
// session then lives on that one thread, so a connection's state needs no
// lock. start() binds and listens; drain() and close_all() may be called
// from any thread.
//
// Limits: header and body sizes (431 / 413), a read deadline for a whole
// request, an idle deadline between keep-alive requests, a write deadline
// (kept per connection and enforced by one sweep timer per thread),
// and a maximum of open connections (a connection past it is answered 429
// and closed). Malformed requests are answered 400 and the connection is
// closed; nothing a client sends can end the process.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <vector>

namespace rcache::server {

struct gateway_config;
class gateway;
class listener;
class shared_state;

class http_server {
 public:
  /// `contexts` (one per I/O thread) and `gw` must outlive the server.
  http_server(std::vector<boost::asio::io_context*> contexts, gateway& gw,
              const gateway_config& cfg);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds, listens and starts accepting; returns the bound port. Throws
  /// boost::system::system_error when the address cannot be bound.
  std::uint16_t start();

  /// Graceful shutdown, step one: stop accepting, close idle keep-alive
  /// connections, and let busy ones finish their request and close.
  void drain();

  /// Open connections right now.
  [[nodiscard]] std::size_t open_connections() const noexcept;

  /// Step two, at the deadline: close every connection still open.
  void close_all();

  /// The end: closes every connection and stops the deadline sweeps, so
  /// that the I/O threads run out of work.
  void stop();

 private:
  std::shared_ptr<shared_state> state_;
  std::shared_ptr<listener> listener_;
};

}  // namespace rcache::server
