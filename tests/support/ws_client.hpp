// A WebSocket client for the end-to-end tests of the change feed: Beast's
// websocket::stream, driven synchronously with a deadline on every wait.
//
//   auto ws = rcache::test::ws_client::connect(port);   // GET /v1/feed
//   ws->send_json({{"op", "subscribe"}, {"id", "a"}, {"ns", "users"}});
//   auto m = ws->receive(5s);                            // the next message, or nullopt
//
// Threading: one owner; one io_context of its own.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace rcache::test {

struct ws_options {
  std::string path = "/v1/feed";
  std::optional<std::string> origin{};
  std::chrono::milliseconds timeout{10000};  // connect and handshake
};

class ws_client {
 public:
  using options = ws_options;
  /// Connects and upgrades; nullopt when the upgrade is refused, with the
  /// HTTP status in `refused_status` (when given).
  static std::unique_ptr<ws_client> connect(std::uint16_t port, options o = {},
                                            unsigned* refused_status = nullptr);
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  /// Sends one text message; false when the connection is gone.
  bool send(const std::string& text);
  bool send_json(const boost::json::object& o);

  /// The next text message as a JSON object, or nullopt after `timeout`,
  /// when the connection closed (closed() says how), or on a message that
  /// is not a JSON object (recorded in bad_messages()).
  std::optional<boost::json::object> receive(std::chrono::milliseconds timeout);

  /// For a slow consumer: the socket's receive buffer is made small (64
  /// KiB) so that the server's writes back up soon after the test stops
  /// reading.
  void shrink_receive_buffer();

  /// The close frame's code once the server closed the connection (0:
  /// closed without one, or still open).
  [[nodiscard]] unsigned close_code() const noexcept;
  [[nodiscard]] bool closed() const noexcept;
  [[nodiscard]] std::size_t bad_messages() const noexcept;

  /// Sends a close frame and waits (bounded) for the server's.
  void close();

 private:
  struct impl;
  explicit ws_client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace rcache::test
