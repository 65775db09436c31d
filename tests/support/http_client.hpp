// A small blocking HTTP/1.1 client over plain sockets for the end-to-end
// tests: it sends exactly the bytes a test gives it (so tests can send
// malformed, slow or pipelined requests) and parses responses with
// Content-Length bodies, which is all `rcache serve` writes.
//
// Every read has a deadline (SO_RCVTIMEO), so a server that never answers
// fails the test instead of hanging it.
//
// Threading: one connection per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rcache::test {

struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class http_connection {
 public:
  /// Connects to 127.0.0.1:port; throws std::system_error on failure.
  /// `receive_buffer` > 0 sets SO_RCVBUF before connecting (a client that
  /// reads slowly, or not at all, holds little).
  explicit http_connection(std::uint16_t port,
                           std::chrono::milliseconds read_timeout = std::chrono::seconds(15),
                           int receive_buffer = 0);
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  /// Sends raw bytes; false when the peer has closed the connection.
  bool send(std::string_view bytes);

  /// Reads one response; nullopt when the connection closed (or the read
  /// deadline passed) before a whole response arrived. `head`: the answer
  /// to a HEAD request (no body whatever Content-Length says).
  std::optional<http_response> read_response(bool head = false);

  /// True once the peer has closed: a read returns end of stream (waits up
  /// to the read deadline for it).
  bool closed_by_peer();

  /// Sends one well-formed request and reads its response.
  std::optional<http_response> request(std::string_view method, std::string_view target,
                                       std::string_view body = {},
                                       std::string_view extra_headers = {});

 private:
  bool fill();  // reads more bytes into buffer_; false on EOF / error / timeout
  int fd_ = -1;
  std::string buffer_;
};

/// Formats a request: method, target, Host, Content-Length (when a body is
/// given or the method is PUT/POST), then `extra_headers` (each ending in
/// "\r\n").
std::string format_request(std::string_view method, std::string_view target,
                           std::string_view body = {}, std::string_view extra_headers = {});

/// One request on a fresh connection.
std::optional<http_response> http_request(std::uint16_t port, std::string_view method,
                                          std::string_view target, std::string_view body = {},
                                          std::string_view extra_headers = {});

}  // namespace rcache::test
