// The topology seam: how the client finds the server to talk to.
//
// The connection asks its topology where to connect before every attempt,
// and lets it add commands to the handshake and judge their replies. A
// single server is the trivial topology; Sentinel (resolve the master via
// any sentinel, verify it with ROLE) and Cluster (one connection per node)
// plug in here without touching the connection.
//
// Threading: a topology is called only from the client's strand.
#pragma once

#include <rcache/config.hpp>
#include <rcache/request.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace rcache {

class topology {
 public:
  virtual ~topology() = default;

  /// Where to connect for the next attempt.
  virtual boost::asio::awaitable<result<endpoint>> resolve(boost::asio::any_io_executor ex) = 0;

  /// Commands appended to the handshake (after HELLO, AUTH and SELECT).
  virtual void append_handshake(request& /*req*/) {}

  /// Judges the replies to the appended commands; an error refuses the
  /// connection (e.g. ROLE says "slave" where a master was wanted).
  virtual boost::system::error_code check_handshake(const response& /*extra_replies*/) {
    return {};
  }
};

/// The topology of one fixed server.
class single_server final : public topology {
 public:
  explicit single_server(endpoint ep) : ep_(std::move(ep)) {}
  boost::asio::awaitable<result<endpoint>> resolve(boost::asio::any_io_executor) override {
    co_return ep_;
  }

 private:
  endpoint ep_;
};

}  // namespace rcache
