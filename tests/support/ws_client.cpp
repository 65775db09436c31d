// The feed tests' WebSocket client; see ws_client.hpp.
#include "ws_client.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace rcache::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::system::error_code;

struct ws_client::impl {
  asio::io_context io;
  websocket::stream<beast::tcp_stream> ws{io};
  beast::flat_buffer buffer;
  unsigned close_code = 0;
  bool closed = false;
  std::size_t bad = 0;
  // A read outlives a receive() that timed out: the next one waits for it
  // (cancelling a WebSocket read would end the stream).
  bool reading = false;
  bool read_done = false;
  error_code read_ec;

  // Runs the io_context until `done` or the deadline; with `cancel`, an
  // operation still running then is cancelled (and completes).
  template <class Done>
  bool run_until(Done done, std::chrono::milliseconds timeout, bool cancel = true) {
    io.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (io.run_one_until(deadline) == 0) {
        if (done()) break;
        if (std::chrono::steady_clock::now() >= deadline) {
          if (cancel) {
            beast::get_lowest_layer(ws).cancel();
            io.restart();
            io.run();  // the cancelled operation completes
          }
          return false;
        }
        io.restart();
      }
    }
    return true;
  }
};

ws_client::ws_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
ws_client::~ws_client() = default;

std::unique_ptr<ws_client> ws_client::connect(std::uint16_t port, options o,
                                              unsigned* refused_status) {
  auto p = std::make_unique<impl>();
  auto& tcp = beast::get_lowest_layer(p->ws);
  tcp.expires_after(o.timeout);
  error_code ec;
  tcp.socket().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return nullptr;
  tcp.expires_never();
  if (o.origin) {
    p->ws.set_option(websocket::stream_base::decorator(
        [origin = *o.origin](websocket::request_type& req) { req.set("Origin", origin); }));
  }
  websocket::response_type res;
  bool done = false;
  p->ws.async_handshake(res, "127.0.0.1:" + std::to_string(port), o.path, [&](error_code e) {
    ec = e;
    done = true;
  });
  if (!p->run_until([&] { return done; }, o.timeout) || ec) {
    if (refused_status) *refused_status = res.result_int();
    return nullptr;
  }
  p->ws.text(true);
  return std::unique_ptr<ws_client>(new ws_client(std::move(p)));
}

bool ws_client::send(const std::string& text) {
  if (impl_->closed) return false;
  error_code ec;
  bool done = false;
  impl_->ws.async_write(asio::buffer(text), [&](error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  return impl_->run_until([&] { return done; }, std::chrono::seconds(10)) && !ec;
}

bool ws_client::send_json(const boost::json::object& o) {
  return send(boost::json::serialize(o));
}

std::optional<boost::json::object> ws_client::receive(std::chrono::milliseconds timeout) {
  auto& p = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!p.closed) {
    if (!p.reading) {
      p.reading = true;
      p.read_done = false;
      p.ws.async_read(p.buffer, [&p](error_code e, std::size_t) {
        p.read_ec = e;
        p.read_done = true;
      });
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!p.run_until([&] { return p.read_done; }, std::max(left, std::chrono::milliseconds(0)),
                     false)) {
      return std::nullopt;  // the read stays pending for the next call
    }
    p.reading = false;
    if (p.read_ec) {
      p.closed = true;
      p.close_code = p.ws.reason().code;
      return std::nullopt;
    }
    const auto data = p.buffer.cdata();
    std::string text(static_cast<const char*>(data.data()), data.size());
    p.buffer.consume(p.buffer.size());
    error_code jec;
    auto v = boost::json::parse(text, jec);
    if (!jec && v.is_object()) return std::move(v.as_object());
    ++p.bad;
  }
  return std::nullopt;
}

void ws_client::shrink_receive_buffer() {
  error_code ec;
  beast::get_lowest_layer(impl_->ws).socket().set_option(
      asio::socket_base::receive_buffer_size(64 * 1024), ec);
}

unsigned ws_client::close_code() const noexcept {
  return impl_->close_code;
}

bool ws_client::closed() const noexcept {
  return impl_->closed;
}

std::size_t ws_client::bad_messages() const noexcept {
  return impl_->bad;
}

void ws_client::close() {
  auto& p = *impl_;
  if (p.closed) return;
  // A pending read must see the close frame: the close completes with it.
  bool done = false;
  p.ws.async_close(websocket::close_code::normal, [&](error_code) { done = true; });
  p.run_until([&] { return done; }, std::chrono::seconds(5));
  p.closed = true;
}

}  // namespace rcache::test
