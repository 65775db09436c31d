// The byte stream under one Redis connection: TCP, TLS over TCP or a unix
// socket, chosen when connecting (emplace_*), none before the first. Every
// operation dispatches on the transport once, through std::visit; callers
// never ask which one is open, except to set up TLS (tls()).
//
// Threading: like an Asio socket; the client uses it on its strand only.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace rcache::detail {

class redis_stream {
 public:
  /// The io_context's own executor type, not any_io_executor: every
  /// operation on a type-erased executor re-wraps it for work tracking.
  using executor_type = boost::asio::io_context::executor_type;
  using tcp_socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor_type>;
  using tls_socket = boost::asio::ssl::stream<tcp_socket>;
  using unix_socket =
      boost::asio::basic_stream_socket<boost::asio::local::stream_protocol, executor_type>;

  /// Transports are created on `ex`, and operations on no transport
  /// complete there.
  explicit redis_stream(executor_type ex) : ex_(std::move(ex)) {}

  /// Replaces whatever was open (closing it) with a new, unconnected
  /// transport, and returns it to connect.
  tcp_socket& emplace_tcp() { return s_.emplace<tcp_socket>(ex_); }
  tls_socket& emplace_tls(boost::asio::ssl::context& ctx) {
    return s_.emplace<tls_socket>(ex_, ctx);
  }
  unix_socket& emplace_unix() { return s_.emplace<unix_socket>(ex_); }

  /// The TLS stream, when that is the transport.
  [[nodiscard]] tls_socket* tls() noexcept { return std::get_if<tls_socket>(&s_); }

  /// Closes the transport; its pending operations end with
  /// operation_aborted. A no-op when none is open.
  void close() noexcept {
    std::visit(
        [](auto& s) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
            boost::system::error_code ignored;
            lowest(s).close(ignored);
          }
        },
        s_);
  }

  /// Writes what the kernel takes right now, without waiting (plain sockets
  /// are non-blocking once connected). nullopt on TLS and on no transport,
  /// where every write goes through async_write. would_block / try_again in
  /// `ec` are not failures: the rest goes through async_write.
  std::optional<std::size_t> write_now(boost::asio::const_buffer b, boost::system::error_code& ec) {
    return std::visit(
        [&](auto& s) -> std::optional<std::size_t> {
          using S = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<S, tcp_socket> || std::is_same_v<S, unix_socket>) {
            return s.write_some(b, ec);
          } else {
            return std::nullopt;
          }
        },
        s_);
  }

  /// asio::async_write on the transport: void(error_code, std::size_t);
  /// not_connected when there is none.
  template <class ConstBuffers, class Token>
  auto async_write(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          on_transport(std::move(handler),
                       [&b](auto& s, auto h) { boost::asio::async_write(s, b, std::move(h)); });
        },
        token, buffers);
  }

  /// async_read_some on the transport: void(error_code, std::size_t);
  /// not_connected when there is none.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          on_transport(std::move(handler),
                       [&b](auto& s, auto h) { s.async_read_some(b, std::move(h)); });
        },
        token, buffers);
  }

 private:
  static tcp_socket& lowest(tcp_socket& s) { return s; }
  static tcp_socket& lowest(tls_socket& s) { return s.next_layer(); }
  static unix_socket& lowest(unix_socket& s) { return s; }

  // Starts `start(transport, handler)` on the open transport, or completes
  // `handler` with not_connected (posted, never inline) when there is none.
  template <class Handler, class Start>
  void on_transport(Handler handler, Start start) {
    std::visit(
        [&](auto& s) {
          if constexpr (std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
            boost::asio::post(ex_, [h = std::move(handler)]() mutable {
              std::move(h)(make_error_code(boost::asio::error::not_connected), std::size_t{0});
            });
          } else {
            start(s, std::move(handler));
          }
        },
        s_);
  }

  executor_type ex_;
  std::variant<std::monostate, tcp_socket, tls_socket, unix_socket> s_;
};

}  // namespace rcache::detail
