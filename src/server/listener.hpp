// The listener of `rcache serve`: accepts TCP connections on the first I/O
// thread and hands each one to the next thread in turn, where its HTTP
// session runs. Past server.max_connections a connection is answered 429
// and closed instead.
//
// Threading: the accept loop runs on the first context; close() may be
// called from any thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>

#include "server/shared_state.hpp"

namespace rcache::server {

class listener : public std::enable_shared_from_this<listener> {
 public:
  explicit listener(std::shared_ptr<shared_state> state);

  /// Binds server.host:server.port, listens and starts accepting; returns
  /// the bound port. Throws boost::system::system_error when the address
  /// cannot be bound.
  std::uint16_t start();

  /// Stops accepting (posted to the accept loop's thread).
  void close();

 private:
  boost::asio::awaitable<void> accept_loop();
  // On the connection's thread: lists it and runs its session.
  void serve(std::shared_ptr<connection> conn, std::size_t thread);

  std::shared_ptr<shared_state> state_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::size_t next_thread_ = 0;
};

}  // namespace rcache::server
