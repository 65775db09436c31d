// One HTTP/1.1 connection of `rcache serve`; see http_session.hpp.
#include "server/http_session.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/json/object.hpp>
#include <ctime>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "server/log.hpp"
#include "server/websocket_session.hpp"

namespace rcache::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using clock = connection::clock;
constexpr auto use_tuple = asio::as_tuple(use_session_task);

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

// What resumes a session's coroutine waiting for the gateway's answer.
using resume_handler =
    asio::async_result<std::decay_t<decltype(use_session_task)>, void()>::handler_type;

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

// A request's working memory: the read buffer, the parser and the response
// being written. A connection holds one only while it reads, answers and
// writes a request; a keep-alive connection waiting for its next request
// holds none, and each thread keeps the workspaces its connections gave
// back for the next requests. So an idle connection costs little more than
// its socket, and a busy one allocates nothing of this per request.
struct workspace {
  beast::flat_buffer buffer;
  std::optional<request_parser> parser;
  std::string out;
};

// The workspaces a thread has spare: as many as its connections have given
// back, up to spare_limit (beyond it they are freed).
std::vector<std::unique_ptr<workspace>>& spare_workspaces() {
  thread_local std::vector<std::unique_ptr<workspace>> spare;
  return spare;
}
constexpr std::size_t spare_limit = 256;

// A workspace whose buffer holds at most `max_buffer` bytes.
std::unique_ptr<workspace> take_workspace(std::size_t max_buffer) {
  auto& spare = spare_workspaces();
  std::unique_ptr<workspace> w;
  if (spare.empty()) {
    w = std::make_unique<workspace>();
  } else {
    w = std::move(spare.back());
    spare.pop_back();
  }
  w->buffer.max_size(max_buffer);
  return w;
}

// Back to the thread's spares, emptied; a response buffer that grew past
// what ordinary answers need is freed rather than kept.
void give_back(std::unique_ptr<workspace> w) {
  constexpr std::size_t keep_out_bytes = 64 * 1024;
  w->parser.reset();
  w->buffer.consume(w->buffer.size());
  if (w->out.capacity() > keep_out_bytes) std::string().swap(w->out);
  auto& spare = spare_workspaces();
  if (spare.size() < spare_limit) spare.push_back(std::move(w));
}

// The session is the gateway's answer_slot for its requests: the answer is
// kept in the session and its coroutine resumed, with no type-erased
// handler in between.
class http_session final : public answer_slot {
 public:
  http_session(std::shared_ptr<shared_state> st, std::shared_ptr<connection> conn,
               std::size_t thread)
      : st_(std::move(st)), conn_(std::move(conn)), thread_(thread) {}

  // Whatever ends the session — its loop, or an exception the co_spawn
  // handler logs — the connection is closed and counted out, once. (The
  // constructor does nothing that can throw, so this always runs.)
  ~http_session() {
    conn_->shutdown_and_close();
    st_->remove(*conn_, thread_);
    if (ws_) give_back(std::move(ws_));
  }

  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  // One loop per request, with every read and write in it: a nested
  // coroutine would cost a frame per call.
  session_task<> run() {
    error_code nb;
    conn_->socket.non_blocking(true, nb);  // the first write of an answer never waits
    if (nb) co_return;
    for (;;) {
      // Wait, under the idle deadline, for the first bytes of a request,
      // into the session's own small buffer: a waiting connection holds no
      // workspace. (A workspace kept means the next request has begun.)
      conn_->idle = true;
      if (st_->draining()) break;
      if (!ws_) {
        conn_->expires_after(st_->cfg.idle_timeout);
        auto [ec, n] = co_await conn_->socket.async_read_some(asio::buffer(first_), use_tuple);
        if (ec) break;
        ws_ = take_workspace(read_buffer_bytes(st_->read_limits));
        auto& b = ws_->buffer;
        b.commit(asio::buffer_copy(b.prepare(n), asio::buffer(first_.data(), n)));
      }
      conn_->idle = false;

      // The rest of it, under the read deadline.
      const auto t0 = clock::now();
      auto& parser = ws_->parser.emplace(st_->read_limits);
      auto& buffer = ws_->buffer;
      conn_->expires_after(st_->cfg.read_timeout);
      bool continued = false;
      error_code ec;
      while ((ec = parse_buffered(parser)) == http::error::need_more) {
        // A Content-Length past the body limit has already failed the head
        // (body_limit, 413): a client that waits for 100 Continue is refused
        // before it sends the body.
        if (parser.is_header_done() && parser.expects_continue() && !continued) {
          continued = true;
          static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
          conn_->expires_after(st_->cfg.write_timeout);
          auto [wec, wn] = co_await asio::async_write(conn_->socket, asio::buffer(cont), use_tuple);
          if (wec) co_return;
          conn_->expires_after(st_->cfg.read_timeout);
        }
        const auto size = beast::read_size(buffer, 64 * 1024);
        if (size == 0) {
          ec = http::error::buffer_overflow;
          break;
        }
        auto [rec, n] = co_await conn_->socket.async_read_some(buffer.prepare(size), use_tuple);
        buffer.commit(n);
        if (rec) {
          ec = at_end_of_stream(rec, parser);
          break;
        }
      }
      if (ec) {
        if (!peer_left(ec)) co_await refuse_unreadable(ec, parser, t0);
        break;
      }

      // No deadline while the gateway works: Redis has its own (the
      // command timeout), and the write sets the next one.
      conn_->no_deadline();
      std::optional<in_flight_mark> busy(std::in_place, st_->in_flight());
      answered a;
      if (feed_upgrade(parser, a)) {
        // The connection is the feed's from here on, and ends with it.
        busy.reset();
        st_->record(websocket_route, 101, clock::now() - t0);
        co_await run_feed_session(st_, conn_, parser);
        co_return;
      }
      if (a.route == websocket_route) {
        // A refused upgrade: answered below.
      } else if (answer_now(parser, a)) {
        co_await wait_for_answer();
        a.response = std::move(answer_);
      }
      const bool keep = parser.keep_alive() && !st_->draining();
      auto& out = ws_->out;
      out.clear();
      format_response(out, a.response, parser.version(), keep, parser.method() == http_method::head,
                      http_date());
      // Written at once when the socket takes it all, as it nearly always
      // does; the rest, if any, under the write deadline.
      error_code wec;
      const std::size_t sent = conn_->socket.write_some(asio::buffer(out), wec);
      if (wec == asio::error::would_block || wec == asio::error::try_again) wec = {};
      if (!wec && sent < out.size()) {
        conn_->expires_after(st_->cfg.write_timeout);
        std::tie(wec, std::ignore) =
            co_await asio::async_write(conn_->socket, asio::buffer(out) + sent, use_tuple);
      }
      busy.reset();
      const auto took = clock::now() - t0;
      st_->record(a.route, a.response.status, took);
      if (log::access_enabled()) log_access(parser, a, took);
      if (wec || !keep) break;
      if (buffer.size() == 0) give_back(std::move(ws_));  // nothing of a next request yet
    }
  }

 private:
  // What the wait for a request reads into: a whole GET fits, a longer
  // request goes on in the workspace's buffer.
  static constexpr std::size_t first_read_bytes = 512;

  // answer_slot: from the thread that has the answer (the client's strand).
  void answer(api_response r) override {
    answer_ = std::move(r);
    auto resume = std::move(*resume_);
    resume_.reset();
    asio::dispatch(conn_->socket.get_executor(), std::move(resume));
  }

  // Starts call_ on the gateway; completes when answer() has the answer.
  // A named initiation, not a lambda in the co_await expression (GCC 12
  // destroys such temporaries twice).
  struct start_call {
    http_session* self;
    void operator()(resume_handler h) const {
      self->resume_.emplace(std::move(h));
      self->st_->gw.execute(self->call_, *self);
    }
  };
  session_task<> wait_for_answer() {
    return asio::async_initiate<decltype(use_session_task) const&, void()>(start_call{this},
                                                                           use_session_task);
  }

  // Feeds `parser` what the buffer holds, as Beast's read loop does:
  // need_more when the request is not whole yet, else the parse's outcome.
  error_code parse_buffered(request_parser& parser) {
    auto& buffer = ws_->buffer;
    error_code ec;
    while (buffer.size() > 0 && !parser.is_done()) {
      const auto used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec) return ec;
      if (used == 0) break;  // no element fits in what is there: read more
    }
    if (!parser.is_done()) ec = http::error::need_more;
    return ec;
  }

  // A read ended with `ec`: the end of the stream completes a request
  // whose length is the connection's (as Beast's read does), or ends a
  // connection between requests; anything else is the read's error.
  static error_code at_end_of_stream(error_code ec, request_parser& parser) {
    if (ec != asio::error::eof) return ec;
    if (!parser.got_some()) return http::error::end_of_stream;
    error_code eof_ec;
    parser.put_eof(eof_ec);
    return eof_ec;
  }

  // Answers a request that could not be read (400, 413, 431).
  session_task<> refuse_unreadable(error_code ec, const request_parser& parser,
                                   clock::time_point t0) {
    const auto e = request_error_of(ec, parser, st_->read_limits);
    co_await send(*conn_, whole_response(error_response(e), false), st_->cfg.write_timeout);
    st_->record(unmatched_route, e.status, clock::now() - t0);
  }

  // True when the request is an upgrade the feed takes; any other request
  // for the feed's path (a plain GET, a refused upgrade) leaves its answer
  // in `a`.
  bool feed_upgrade(const request_parser& parser, answered& a) {
    const auto target = parser.target();
    if (target.substr(0, target.find('?')) != feed_path) return false;
    if (!parser.upgrade_to_websocket()) {
      a = {error_response(api_error{426,
                                    "upgrade_required",
                                    "GET /v1/feed is a WebSocket endpoint (Upgrade: websocket)",
                                    {},
                                    websocket_route}),
           websocket_route};
      return false;
    }
    if (auto e = refuse_feed_upgrade(*st_, parser)) {
      a = {error_response(*e), websocket_route};
      return false;
    }
    return true;
  }

  // Answers a request read whole into `a` when that needs no Redis (a bad
  // request, an upgrade, what the gateway answers at once); else true, with
  // the call in call_ for the gateway and `a.route` set. A plain function,
  // not a coroutine: the commonest answers cost no coroutine frame.
  bool answer_now(const request_parser& parser, answered& a) {
    if (parser.upgrade_to_websocket()) {
      a = {error_response(no_websocket_endpoint()), websocket_route};
      return false;
    }
    auto view = parser.view();
    view.peer = peer_address();
    if (auto e = parse_call(view, st_->limits, call_)) {
      a = {error_response(*e), e->route.empty() ? unmatched_route : e->route};
      return false;
    }
    a.route = call_.route;
    if (auto now = st_->gw.answer_now(call_)) {
      a.response = std::move(*now);
      return false;
    }
    return true;
  }

  // The peer's IP address, found once per connection; empty when unknown.
  const std::string& peer_address() {
    if (!peer_) {
      error_code ec;
      const auto ep = conn_->socket.remote_endpoint(ec);
      peer_ = ec ? std::string() : ep.address().to_string();
      peer_port_ = ec ? 0 : ep.port();
    }
    return *peer_;
  }

  void log_access(const request_parser& parser, const answered& a, clock::duration took) {
    if (!remote_) remote_ = peer_address() + ":" + std::to_string(peer_port_);
    const auto target = parser.target();
    auto path = target.substr(0, target.find('?'));
    // A session id is a bearer credential: its paths are logged as their
    // route ("/v1/sessions/{id}"), never with the id.
    if (path.starts_with("/v1/sessions/")) path = a.route;
    log::access(
        {{"method", parser.method_name()},
         {"path", path},
         {"route", a.route},
         {"status", a.response.status},
         {"bytes", a.response.body_view().size()},
         {"duration_us", std::chrono::duration_cast<std::chrono::microseconds>(took).count()},
         {"remote", *remote_}});
  }

  std::shared_ptr<shared_state> st_;
  std::shared_ptr<connection> conn_;
  std::size_t thread_;
  std::unique_ptr<workspace> ws_;               // while a request is read, answered, written
  std::array<char, first_read_bytes> first_{};  // what the wait for a request reads into
  api_call call_;                               // the request's call, reused (its buffers too)
  std::optional<resume_handler> resume_;        // while the gateway works on call_
  api_response answer_;                         // what it answered
  std::optional<std::string> peer_;             // the peer's address, found at the first request
  std::uint16_t peer_port_ = 0;
  std::optional<std::string> remote_;  // "ip:port", found at the first access-log line
};

}  // namespace

session_task<> run_http_session(std::shared_ptr<shared_state> state,
                                std::shared_ptr<connection> conn, std::size_t thread) {
  http_session session(std::move(state), std::move(conn), thread);
  co_await session.run();
}

session_task<bool> send(connection& conn, std::string_view bytes,
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
