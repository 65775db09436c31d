// The listener of `rcache serve`; see listener.hpp.
#include "server/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <exception>

#include "server/http_session.hpp"
#include "server/log.hpp"

namespace rcache::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Past max_connections: one 429 answer, then the connection is closed.
session_task<> refuse(std::shared_ptr<connection> conn, std::chrono::milliseconds deadline) {
  const auto res =
      whole_response(error_response(api_error{429, "too_many_connections",
                                              "the server is at server.max_connections"}),
                     false);
  co_await send(*conn, res, deadline);
  conn->shutdown_and_close();
}

// The completion of a session: an exception ends only that session (its
// destructor has closed and unlisted the connection); it is logged here.
void log_session_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error("session ended by an exception", {{"what", ex.what()}});
  } catch (...) {
    log::error("session ended by an exception", {{"what", "not a std::exception"}});
  }
}

}  // namespace

listener::listener(std::shared_ptr<shared_state> state)
    : state_(std::move(state)), acceptor_(*state_->contexts.front()) {}

std::uint16_t listener::start() {
  const auto& cfg = state_->cfg;
  const tcp::endpoint ep(asio::ip::make_address(cfg.listen_host), cfg.listen_port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  const auto port = acceptor_.local_endpoint().port();
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
  return port;
}

void listener::close() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    error_code ignored;
    self->acceptor_.close(ignored);
  });
}

asio::awaitable<void> listener::accept_loop() {
  auto self = shared_from_this();
  const auto& contexts = state_->contexts;
  for (;;) {
    const auto thread = next_thread_++ % contexts.size();
    auto [ec, socket] = co_await acceptor_.async_accept(*contexts[thread], use_tuple);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // Out of descriptors or memory: back off instead of spinning.
      log::warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer t(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(use_tuple);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const auto protocol = socket.local_endpoint(ignored).protocol();
    auto conn = std::make_shared<connection>(
        socket_t(contexts[thread]->get_executor(), protocol, socket.release(ignored)));
    if (!state_->admit()) {
      // No deadline sweep reaches an unlisted connection, but the answer
      // fits a fresh socket's send buffer: the write does not wait.
      asio::co_spawn(*contexts[thread], refuse(std::move(conn), state_->cfg.write_timeout),
                     asio::detached);
      continue;
    }
    // Listed on the session's own thread, where the list lives.
    asio::post(*contexts[thread], [self, conn = std::move(conn), thread]() mutable {
      self->serve(std::move(conn), thread);
    });
  }
}

void listener::serve(std::shared_ptr<connection> conn, std::size_t thread) {
  state_->add(conn, thread);
  asio::co_spawn(*state_->contexts[thread], run_http_session(state_, std::move(conn), thread),
                 log_session_exception);
}

}  // namespace rcache::server
