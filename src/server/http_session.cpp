// One HTTP/1.1 connection of `rcache serve`; see http_session.hpp.
#include "server/http_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/object.hpp>
#include <ctime>
#include <optional>
#include <variant>

#include "server/log.hpp"
#include "server/websocket_session.hpp"

namespace rcache::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using clock = connection::clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The Date header, formatted once per second per thread.
const std::string& http_date() {
  thread_local std::time_t last = 0;
  thread_local std::string text;
  const std::time_t now = std::time(nullptr);
  if (now != last) {
    char buf[64];
    std::tm tm{};
    gmtime_r(&now, &tm);
    text.assign(buf, std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm));
    last = now;
  }
  return text;
}

// Runs the gateway's execute() as an awaitable operation. An ordinary
// function, not a lambda in the co_await expression (GCC 12 destroys such
// temporaries twice).
template <class Token>
auto async_execute(gateway& gw, api_call call, Token&& token) {
  return asio::async_initiate<Token, void(api_response)>(
      [](auto handler, gateway* g, api_call c) {
        g->execute(std::move(c), gateway::done_handler(std::move(handler)));
      },
      token, &gw, std::move(call));
}

// A read that failed because the peer went away or was too slow: there is
// no one to answer.
bool peer_left(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
         ec == asio::error::connection_reset || ec == asio::error::eof ||
         ec == http::error::partial_message;
}

// A request counted in flight from its parse to its answer's write.
class in_flight_mark {
 public:
  explicit in_flight_mark(metrics::gauge& g) : gauge_(g) { gauge_.add(1); }
  ~in_flight_mark() { gauge_.add(-1); }
  in_flight_mark(const in_flight_mark&) = delete;
  in_flight_mark& operator=(const in_flight_mark&) = delete;

 private:
  metrics::gauge& gauge_;
};

// An answer and the route label it is counted under.
struct answered {
  api_response response;
  std::string_view route = unmatched_route;
};

class http_session {
 public:
  http_session(std::shared_ptr<shared_state> st, std::shared_ptr<connection> conn,
               std::size_t thread)
      : st_(std::move(st)),
        conn_(std::move(conn)),
        thread_(thread),
        buffer_(read_buffer_bytes(st_->read_limits)) {}

  // Whatever ends the session — its loop, or an exception the co_spawn
  // handler logs — the connection is closed and counted out, once. (The
  // constructor does nothing that can throw, so this always runs.)
  ~http_session() {
    conn_->shutdown_and_close();
    st_->remove(*conn_, thread_);
  }

  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  asio::awaitable<void> run() {
    for (;;) {
      if (!co_await wait_for_request()) break;
      const auto t0 = clock::now();
      request_parser parser(st_->read_limits);
      if (const auto ec = co_await read_request(parser)) {
        if (!peer_left(ec)) co_await refuse_unreadable(ec, parser, t0);
        break;
      }
      // No deadline while the gateway works: Redis has its own (the
      // command timeout), and the write sets the next one.
      conn_->no_deadline();
      std::optional<in_flight_mark> busy(std::in_place, st_->in_flight());
      answered a;
      if (auto call = answer_now(parser, a)) {
        a.response = co_await async_execute(st_->gw, std::move(*call), asio::use_awaitable);
      }
      const bool keep = parser.keep_alive() && !st_->draining();
      out_.clear();
      format_response(out_, a.response, parser.version(), keep,
                      parser.method() == http_method::head, http_date());
      const bool sent = co_await send(*conn_, out_, st_->cfg.write_timeout);
      busy.reset();
      const auto took = clock::now() - t0;
      st_->record(a.route, a.response.status, took);
      if (log::access_enabled()) log_access(parser, a, took);
      if (!sent || !keep) break;
    }
  }

 private:
  // Waits, under the idle deadline, until the first bytes of a request are
  // in the buffer; false when the connection closed, idled out or drained.
  asio::awaitable<bool> wait_for_request() {
    conn_->idle = true;
    if (st_->draining()) co_return false;
    if (buffer_.size() == 0) {
      conn_->expires_after(st_->cfg.idle_timeout);
      auto [ec, n] = co_await conn_->socket.async_read_some(buffer_.prepare(16 * 1024), use_tuple);
      if (ec) co_return false;
      buffer_.commit(n);
    }
    conn_->idle = false;
    co_return true;
  }

  // Reads the rest of the request under the read deadline.
  asio::awaitable<error_code> read_request(request_parser& parser) {
    conn_->expires_after(st_->cfg.read_timeout);
    auto [ec, n] = co_await http::async_read_header(conn_->socket, buffer_, parser, use_tuple);
    if (ec || parser.is_done()) co_return ec;
    // A Content-Length past the body limit has already failed the head
    // (body_limit, 413): a client that waits is refused before it sends the
    // body.
    if (parser.expects_continue()) {
      static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
      if (!co_await send(*conn_, cont, st_->cfg.write_timeout)) {
        co_return asio::error::operation_aborted;
      }
      conn_->expires_after(st_->cfg.read_timeout);
    }
    auto [bec, bn] = co_await http::async_read(conn_->socket, buffer_, parser, use_tuple);
    co_return bec;
  }

  // Answers a request that could not be read (400, 413, 431).
  asio::awaitable<void> refuse_unreadable(error_code ec, const request_parser& parser,
                                          clock::time_point t0) {
    const auto e = request_error_of(ec, parser, st_->read_limits);
    co_await send(*conn_, whole_response(error_response(e), false), st_->cfg.write_timeout);
    st_->record(unmatched_route, e.status, clock::now() - t0);
  }

  // Answers a request read whole into `a` when that needs no Redis (a bad
  // request, an upgrade, what the gateway answers at once); else returns
  // the call for the gateway, `a.route` set. A plain function, not a
  // coroutine: the commonest answers cost no coroutine frame.
  std::optional<api_call> answer_now(const request_parser& parser, answered& a) {
    if (parser.upgrade_to_websocket()) {
      a = {error_response(no_websocket_endpoint()), websocket_route};
      return std::nullopt;
    }
    auto parsed = parse_call(parser.view(), st_->limits);
    if (auto* e = std::get_if<api_error>(&parsed)) {
      a = {error_response(*e), e->route.empty() ? unmatched_route : e->route};
      return std::nullopt;
    }
    auto& call = std::get<api_call>(parsed);
    a.route = call.route;
    if (auto now = st_->gw.answer_now(call)) {
      a.response = std::move(*now);
      return std::nullopt;
    }
    return std::move(call);
  }

  void log_access(const request_parser& parser, const answered& a, clock::duration took) {
    if (!remote_) {  // the peer's address, once per connection and only when logging
      error_code ec;
      const auto ep = conn_->socket.remote_endpoint(ec);
      remote_ = ec ? std::string() : ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    const auto target = parser.target();
    log::access(
        {{"method", parser.method_name()},
         {"path", target.substr(0, target.find('?'))},
         {"route", a.route},
         {"status", a.response.status},
         {"bytes", a.response.body.size()},
         {"duration_us", std::chrono::duration_cast<std::chrono::microseconds>(took).count()},
         {"remote", *remote_}});
  }

  std::shared_ptr<shared_state> st_;
  std::shared_ptr<connection> conn_;
  std::size_t thread_;
  beast::flat_buffer buffer_;
  std::string out_;                    // the response being written, reused
  std::optional<std::string> remote_;  // "ip:port", found at the first access-log line
};

}  // namespace

asio::awaitable<void> run_http_session(std::shared_ptr<shared_state> state,
                                       std::shared_ptr<connection> conn, std::size_t thread) {
  http_session session(std::move(state), std::move(conn), thread);
  co_await session.run();
}

asio::awaitable<bool> send(connection& conn, std::string_view bytes,
                           std::chrono::milliseconds deadline) {
  conn.expires_after(deadline);
  auto [ec, n] =
      co_await asio::async_write(conn.socket, asio::buffer(bytes.data(), bytes.size()), use_tuple);
  co_return !ec;
}

std::string whole_response(const api_response& r, bool keep_alive) {
  std::string out;
  format_response(out, r, 11, keep_alive, false, http_date());
  return out;
}

}  // namespace rcache::server
