// The listener and HTTP sessions of `rcache serve`; see http_server.hpp.
//
// A session is one coroutine per connection: wait for the first byte of a
// request under the idle deadline, read its head under the read deadline
// (answering `Expect: 100-continue`), read the body, let the gateway
// answer, write the response under the write deadline, repeat while the
// connection is kept alive. Pipelined requests simply wait in the read
// buffer and are answered in order.
//
// Shutdown: drain() closes the acceptor, marks the server draining and, on
// each I/O thread, closes the sessions waiting for a request; busy sessions
// see the mark after their response (sent with "Connection: close") and end.
// Each I/O thread keeps its own list of live sessions, touched only there.
#include "server/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/object.hpp>
#include <ctime>
#include <list>
#include <optional>
#include <unordered_map>

#include "server/http_request.hpp"
#include "server/log.hpp"

namespace rcache::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using clock = std::chrono::steady_clock;
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

// The socket type of sessions: a concrete executor, not any_io_executor,
// which would be copied and type-erased on every operation.
using socket_t = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;

// One live connection: what drain(), close_all() and the deadline sweep
// need to reach it.
struct connection {
  explicit connection(socket_t s) : socket(std::move(s)) {}
  socket_t socket;
  // The current operation must end by then, or the sweep closes the socket
  // (which ends the operation with operation_aborted).
  clock::time_point deadline = clock::time_point::max();
  bool idle = true;  // waiting for the next request
  std::list<std::shared_ptr<connection>>::iterator self{};

  void expires_after(std::chrono::milliseconds d) { deadline = clock::now() + d; }
  void close() {
    error_code ignored;
    socket.close(ignored);
  }
};

}  // namespace

struct http_server::state : std::enable_shared_from_this<state> {
  state(std::vector<asio::io_context*> ctxs, gateway& g, const gateway_config& c)
      : contexts(std::move(ctxs)),
        gw(g),
        cfg(c),
        acceptor(*contexts.front()),
        live(contexts.size()) {
    read_limits.max_head_bytes = c.max_header_bytes;
    read_limits.max_body_bytes = c.max_body_bytes;
    limits.max_key_bytes = c.cache.max_key_size;
    limits.max_batch_keys = c.max_batch_keys;
    auto& reg = gw.http_metrics();
    open_gauge = reg.gauge("rcache_http_connections", "Open HTTP connections").value();
    in_flight =
        reg.gauge("rcache_http_requests_in_flight", "Requests read and not yet answered").value();
    accepted = reg.counter("rcache_http_connections_total", "HTTP connections by outcome",
                           {{"result", "accepted"}})
                   .value();
    rejected = reg.counter("rcache_http_connections_total", "HTTP connections by outcome",
                           {{"result", "rejected"}})
                   .value();
  }

  std::vector<asio::io_context*> contexts;
  gateway& gw;
  const gateway_config& cfg;
  api_limits limits;
  request_limits read_limits;
  tcp::acceptor acceptor;
  std::size_t next_context = 0;
  std::atomic<std::size_t> open{0};
  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};
  std::vector<std::unique_ptr<asio::steady_timer>> sweep_timers;
  // Per I/O thread: the sessions of that thread, touched only on it.
  std::vector<std::list<std::shared_ptr<connection>>> live;
  metrics::gauge* open_gauge = nullptr;
  metrics::gauge* in_flight = nullptr;
  metrics::counter* accepted = nullptr;
  metrics::counter* rejected = nullptr;

  // ---- metrics of requests: children cached per thread, so recording
  // never takes the registry's lock after the first request of a kind ----

  void record(std::string_view route, unsigned status, clock::duration took) {
    struct key_hash {
      std::size_t operator()(const std::pair<const char*, unsigned>& k) const noexcept {
        return std::hash<const void*>()(k.first) ^ (k.second * 0x9E3779B97F4A7C15ull);
      }
    };
    thread_local std::unordered_map<std::pair<const char*, unsigned>, metrics::counter*, key_hash>
        counters;
    thread_local std::unordered_map<const char*, metrics::histogram*> latencies;
    thread_local const state* owner = nullptr;
    if (owner != this) {  // a new server in this thread (tests): forget old children
      counters.clear();
      latencies.clear();
      owner = this;
    }
    auto& reg = gw.http_metrics();
    auto& c = counters[{route.data(), status}];
    if (!c) {
      auto r = reg.counter("rcache_http_requests_total", "HTTP requests by route and status",
                           {{"route", std::string(route)}, {"status", std::to_string(status)}});
      if (r) c = *r;
    }
    if (c) c->inc();
    auto& h = latencies[route.data()];
    if (!h) {
      auto r = reg.histogram("rcache_http_request_duration_seconds",
                             "HTTP request latency, first byte read to response written",
                             {{"route", std::string(route)}});
      if (r) h = *r;
    }
    if (h) h->record(took);
  }

  // ---- responses ----

  // Writes `bytes` (a whole response) under the write deadline.
  static asio::awaitable<bool> send(connection& conn, const std::string& bytes,
                                    std::chrono::milliseconds deadline) {
    conn.expires_after(deadline);
    auto [ec, n] = co_await asio::async_write(conn.socket, asio::buffer(bytes), use_tuple);
    co_return !ec;
  }

  static std::string whole_response(const api_response& r, bool keep_alive) {
    std::string out;
    format_response(out, r, 11, keep_alive, false, http_date());
    return out;
  }

  // ---- the session ----

  // Whatever ends a session — its loop, or an exception the co_spawn
  // handler logs — the connection is closed and counted out, once.
  struct session_end {
    state& st;
    std::shared_ptr<connection> conn;
    std::size_t index;
    ~session_end() {
      error_code ignored;
      conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
      conn->close();
      st.live[index].erase(conn->self);
      st.open_gauge->add(-1);
      st.open.fetch_sub(1, std::memory_order_acq_rel);
    }
  };

  // A request counted in flight from its parse to its answer's write.
  struct in_flight_mark {
    explicit in_flight_mark(metrics::gauge* g) : gauge(g) { gauge->add(1); }
    ~in_flight_mark() { gauge->add(-1); }
    in_flight_mark(const in_flight_mark&) = delete;
    in_flight_mark& operator=(const in_flight_mark&) = delete;
    metrics::gauge* gauge;
  };

  asio::awaitable<void> session(std::shared_ptr<connection> conn, std::size_t ctx_index) {
    auto self = shared_from_this();
    const session_end end{*this, conn, ctx_index};
    std::string remote;
    {
      error_code ec;
      const auto ep = conn->socket.remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    beast::flat_buffer buffer(read_buffer_bytes(read_limits));
    std::string out;  // the response being written, reused
    for (;;) {
      // ---- wait for a request, under the idle deadline ----
      conn->idle = true;
      if (draining.load(std::memory_order_acquire)) break;
      if (buffer.size() == 0) {
        conn->expires_after(cfg.idle_timeout);
        auto [ec, n] = co_await conn->socket.async_read_some(buffer.prepare(16 * 1024), use_tuple);
        if (ec) break;  // closed, reset, idle too long, or drained
        buffer.commit(n);
      }
      conn->idle = false;
      const auto t0 = clock::now();

      // ---- read it, under the read deadline ----
      request_parser parser(read_limits);
      conn->expires_after(cfg.read_timeout);
      auto [hec, hn] = co_await http::async_read_header(conn->socket, buffer, parser, use_tuple);
      error_code ec = hec;
      if (!ec && !parser.is_done()) {
        // A Content-Length past the body limit has already failed the
        // head (body_limit, 413): a client that waits is refused before it
        // sends the body.
        if (parser.expects_continue()) {
          static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
          if (!co_await send(*conn, cont, cfg.write_timeout)) break;
          conn->expires_after(cfg.read_timeout);
        }
        auto [bec, bn] = co_await http::async_read(conn->socket, buffer, parser, use_tuple);
        ec = bec;
      }
      if (ec) {
        if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
            ec == asio::error::connection_reset || ec == asio::error::eof ||
            ec == http::error::partial_message) {
          break;  // the peer went away or was too slow: nothing to answer
        }
        const auto e = request_error_of(ec, parser, read_limits);
        co_await send(*conn, whole_response(error_response(e), false), cfg.write_timeout);
        record(unmatched_route, e.status, clock::now() - t0);
        break;  // the rest of the stream cannot be trusted
      }

      // ---- answer ----
      // No deadline while the gateway works: Redis has its own (the command
      // timeout), and the write below sets the next one.
      conn->deadline = clock::time_point::max();
      std::optional<in_flight_mark> busy(std::in_place, in_flight);
      auto parsed = parse_call(parser.view(), limits);
      api_response answer;
      std::string_view route = unmatched_route;
      if (auto* e = std::get_if<api_error>(&parsed)) {
        answer = error_response(*e);
        if (!e->route.empty()) route = e->route;
      } else {
        auto& call = std::get<api_call>(parsed);
        route = call.route;
        if (auto now = gw.answer_now(call)) {
          answer = std::move(*now);
        } else {
          answer = co_await async_execute(gw, std::move(call), asio::use_awaitable);
        }
      }
      const bool keep = parser.keep_alive() && !draining.load(std::memory_order_acquire);
      const unsigned status = answer.status;
      out.clear();
      format_response(out, answer, parser.version(), keep, parser.method() == http_method::head,
                      http_date());
      const auto bytes = answer.body.size();
      const bool sent = co_await send(*conn, out, cfg.write_timeout);
      busy.reset();
      const auto took = clock::now() - t0;
      record(route, status, took);
      if (log::access_enabled()) {
        const auto target = parser.target();
        log::access(
            {{"method", parser.method_name()},
             {"path", target.substr(0, target.find('?'))},
             {"route", route},
             {"status", status},
             {"bytes", bytes},
             {"duration_us", std::chrono::duration_cast<std::chrono::microseconds>(took).count()},
             {"remote", remote}});
      }
      if (!sent || !keep) break;
    }
  }

  // Past max_connections: one 429 answer, then the connection is closed.
  // No deadline: the answer fits the fresh socket's send buffer, so the
  // write completes without waiting for the peer.
  static asio::awaitable<void> refuse(std::shared_ptr<connection> conn,
                                      std::chrono::milliseconds deadline) {
    const auto res =
        whole_response(error_response(api_error{429, "too_many_connections",
                                                "the server is at server.max_connections"}),
                       false);
    co_await send(*conn, res, deadline);
    error_code ignored;
    conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
    conn->close();
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      const auto index = next_context++ % contexts.size();
      auto [ec, socket] = co_await acceptor.async_accept(*contexts[index], use_tuple);
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) {
        // Out of descriptors or memory: back off instead of spinning.
        log::warn("accept failed", {{"error", ec.message()}});
        asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(50));
        co_await t.async_wait(use_tuple);
        continue;
      }
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      const auto protocol = socket.local_endpoint(ignored).protocol();
      auto conn = std::make_shared<connection>(
          socket_t(contexts[index]->get_executor(), protocol, socket.release(ignored)));
      if (open.load(std::memory_order_acquire) >= cfg.max_connections) {
        rejected->inc();
        asio::co_spawn(*contexts[index], refuse(std::move(conn), cfg.write_timeout),
                       asio::detached);
        continue;
      }
      open.fetch_add(1, std::memory_order_acq_rel);
      open_gauge->add(1);
      accepted->inc();
      // Registered on the session's own thread, where the list lives.
      asio::post(*contexts[index], [self, conn, index]() mutable {
        auto& list = self->live[index];
        conn->self = list.insert(list.end(), conn);
        if (self->draining.load(std::memory_order_acquire)) conn->close();
        asio::co_spawn(*self->contexts[index], self->session(conn, index),
                       [](std::exception_ptr e) {
                         if (!e) return;
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           log::error("session ended by an exception", {{"what", ex.what()}});
                         }
                       });
      });
    }
  }

  // Per I/O thread: closes the sockets whose deadline passed. One timer per
  // thread instead of one per connection and operation.
  asio::awaitable<void> sweep(std::size_t index) {
    auto self = shared_from_this();
    auto& timer = *sweep_timers[index];
    const auto shortest = std::min({cfg.read_timeout, cfg.idle_timeout, cfg.write_timeout});
    const auto tick = std::clamp<std::chrono::milliseconds>(
        shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
    while (!stopped.load(std::memory_order_acquire)) {
      timer.expires_after(tick);
      co_await timer.async_wait(use_tuple);
      const auto now = clock::now();
      for (auto& c : live[index]) {
        if (c->deadline <= now) {
          c->deadline = clock::time_point::max();
          c->close();
        }
      }
    }
  }

  // Runs `f(connection&)` for every live session, each on its own thread.
  template <class F>
  void for_each_connection(F f) {
    auto self = shared_from_this();
    for (std::size_t i = 0; i < contexts.size(); ++i) {
      asio::post(*contexts[i], [self, i, f] {
        for (auto& c : self->live[i]) f(*c);
      });
    }
  }
};

http_server::http_server(std::vector<asio::io_context*> contexts, gateway& gw,
                         const gateway_config& cfg)
    : state_(std::make_shared<state>(std::move(contexts), gw, cfg)) {}

http_server::~http_server() = default;

std::uint16_t http_server::start() {
  auto& st = *state_;
  const tcp::endpoint ep(asio::ip::make_address(st.cfg.listen_host), st.cfg.listen_port);
  st.acceptor.open(ep.protocol());
  st.acceptor.set_option(tcp::acceptor::reuse_address(true));
  st.acceptor.bind(ep);
  st.acceptor.listen(asio::socket_base::max_listen_connections);
  const auto port = st.acceptor.local_endpoint().port();
  asio::co_spawn(st.acceptor.get_executor(), st.accept_loop(), asio::detached);
  for (std::size_t i = 0; i < st.contexts.size(); ++i) {
    st.sweep_timers.push_back(std::make_unique<asio::steady_timer>(*st.contexts[i]));
    asio::co_spawn(*st.contexts[i], st.sweep(i), asio::detached);
  }
  return port;
}

void http_server::drain() {
  auto st = state_;
  st->draining.store(true, std::memory_order_release);
  asio::post(st->acceptor.get_executor(), [st] {
    error_code ignored;
    st->acceptor.close(ignored);
  });
  st->for_each_connection([](connection& c) {
    if (c.idle) c.close();
  });
}

std::size_t http_server::open_connections() const noexcept {
  return state_->open.load(std::memory_order_acquire);
}

void http_server::close_all() {
  state_->for_each_connection([](connection& c) { c.close(); });
}

void http_server::stop() {
  auto st = state_;
  st->stopped.store(true, std::memory_order_release);
  close_all();
  for (auto& t : st->sweep_timers) {
    asio::post(t->get_executor(), [st, timer = t.get()] { timer->cancel(); });
  }
}

}  // namespace rcache::server
