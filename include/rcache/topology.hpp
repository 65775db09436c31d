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
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

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
  /// Called once, when the client starts: the topology may watch for
  /// changes on `ex` and call `changed` (on `ex`) when the server in use is
  /// no longer the right one; the client then drops its connection (or
  /// its connection attempt, or the pause before the next one) and
  /// resolves again. stop_watching() is called when the client stops.
  virtual void watch(boost::asio::any_io_executor /*ex*/, std::function<void()> /*changed*/) {}
  virtual void stop_watching() {}
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

/// Redis Sentinel (the Sentinel client guide): resolve() asks the sentinels
/// in turn — starting with the one that answered last — for the master's
/// address (SENTINEL GET-MASTER-ADDR-BY-NAME), each within `timeout`; the
/// handshake sends ROLE and refuses a server that is not a master, so a
/// stale address is never used. Every reconnect resolves again. watch()
/// subscribes to `+switch-master` on one sentinel at a time and treats a
/// switch of this master as a hint: the client reconnects at once, even
/// when the old master still accepts the connection (a switch to the
/// master it already uses, learnt before the failover ended, is ignored). Errors of
/// resolve(): error::sentinel_unreachable when no sentinel answered,
/// error::sentinel_unknown_master when those that answered do not know the
/// name. The client builds one itself from client_config::sentinels.
struct sentinel_options {
  std::vector<endpoint> sentinels{};
  std::string master_name{};
  std::string username{};  // for the sentinels
  std::string password{};
  std::chrono::milliseconds timeout{1000};
  /// Transport of the master connection (tls), as in client_config::server.
  bool tls = false;
  /// Connect to a replica instead, for reads: one the sentinels list as up
  /// and linked to the master (SENTINEL REPLICAS), taken in turn on each
  /// reconnect, and accepted only when ROLE says "slave", "connected". With
  /// no such replica, the master (ROLE "master"). Replication is
  /// asynchronous: a read may not see a write made just before on the master.
  bool prefer_replica = false;
};
[[nodiscard]] std::shared_ptr<topology> make_sentinel_topology(sentinel_options options);

}  // namespace rcache
