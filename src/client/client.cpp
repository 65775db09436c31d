// The multiplexed Redis connection behind rcache::client.
//
// One client_impl owns one stream (client/stream.hpp: TCP, TLS over TCP,
// or a unix socket), a writer and four coroutines, all on one strand:
//   run       connect, handshake, then run reader + health until the
//             connection drops; back off with jitter and reconnect.
//   reader    takes the values read (client/reply_reader.hpp: the RESP3
//             parser without I/O) and gives each to the multiplexer
//             (client/multiplexer.hpp: the queues, reply matching, pub/sub
//             sets and deadlines, without I/O), which says which request it
//             answered or that it is a push for the push handler.
//   health    PINGs when nothing was read for an interval.
//   deadlines one timer armed at the multiplexer's earliest deadline;
//             expired requests fail with error::timeout.
// The writer (flush) is not a coroutine: it drains the send queue into one
// buffer per write, so everything submitted while the previous write was in
// flight, or during one turn of the event loop, goes out together
// (automatic pipelining). Callers resumed by the reader submit while it is
// still dispatching; the reader flushes when it has dispatched the buffer,
// so a reply-then-request round trip costs no extra event-loop hop. On plain
// sockets the flush first tries a non-blocking write, and only falls back to
// an asynchronous write for what the kernel did not take.
//
// A request is completed exactly once: by whoever retires it from the
// multiplexer first. Every member is touched only on strand_, except the
// atomics read by client::state() / stats().
#include <rcache/client.hpp>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>
#include <variant>

#include "client/backoff.hpp"
#include "client/client_base.hpp"
#include "client/completion.hpp"
#include "client/eval_request.hpp"
#include "client/multiplexer.hpp"
#include "client/push_router.hpp"
#include "client/read_value.hpp"
#include "client/stream.hpp"

namespace rcache {
namespace asio = boost::asio;
using boost::system::error_code;

namespace detail {
namespace {

using clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
// The client's strand and coroutines run on the io_context's own executor
// type: on any_io_executor every handler dispatch and every operation's
// work tracking goes through a type-erased conversion, which allocated
// several times per request.
using io_executor = asio::io_context::executor_type;
using strand_type = asio::strand<io_executor>;
template <class T>
using task = asio::awaitable<T, strand_type>;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable_t<strand_type>{});
using timer = asio::basic_waitable_timer<clock, asio::wait_traits<clock>, strand_type>;

// `ex` as the io_context's executor it must be (tracking work or not).
// Anything else, a strand included, is refused with std::invalid_argument:
// the client serializes on a strand of its own, and silently dropping a
// caller's strand would unserialize the handlers it runs (push, state).
io_executor io_executor_of(const asio::any_io_executor& ex) {
  using tracked = asio::io_context::basic_executor_type<std::allocator<void>, 4>;
  if (const auto* e = ex.target<io_executor>()) return e->context().get_executor();
  if (const auto* e = ex.target<tracked>()) return e->context().get_executor();
  throw std::invalid_argument(
      "rcache::client: the executor must be an io_context's (a strand or another executor "
      "is not: the client runs on a strand of its own)");
}

bool is_auth_error(std::string_view code) {
  return code == "WRONGPASS" || code == "NOAUTH" || code == "NOPERM";
}

}  // namespace

// The topology client_config asks for: Sentinel when sentinels are listed,
// else the one server.
std::shared_ptr<topology> default_topology(const client_config& cfg) {
  if (cfg.sentinels.empty()) return std::make_shared<single_server>(cfg.server);
  return make_sentinel_topology({.sentinels = cfg.sentinels,
                                 .master_name = cfg.sentinel_master,
                                 .username = cfg.sentinel_username,
                                 .password = cfg.sentinel_password,
                                 .timeout = cfg.connect_timeout,
                                 .tls = cfg.server.tls,
                                 .prefer_replica = cfg.sentinel_prefer_replica});
}

class client_impl final : public client_base, public std::enable_shared_from_this<client_impl> {
 public:
  client_impl(asio::any_io_executor ex, client_config cfg, std::shared_ptr<topology> topo)
      : strand_(asio::make_strand(io_executor_of(ex))),
        cfg_(std::move(cfg)),
        topology_(topo ? std::move(topo) : default_topology(cfg_)),
        stream_(strand_.get_inner_executor()),
        mux_({.max_queued_requests = cfg_.max_queued_requests,
              .max_queued_bytes = cfg_.max_queued_bytes}),
        replies_(resp::limits{.max_bulk_length = cfg_.max_reply_bulk_length}, 64 * 1024),
        health_timer_(strand_),
        deadline_timer_(strand_),
        backoff_timer_(strand_),
        connect_timer_(strand_),
        rng_(std::random_device{}()) {
    cfg_.flush_after_replies = std::max<std::size_t>(1, cfg_.flush_after_replies);
  }

  // ---- public entry points (any thread) ------------------------------------

  void start() override {
    asio::dispatch(strand_, [self = shared_from_this()] { self->ensure_started(); });
  }

  void stop() override {
    asio::post(strand_, [self = shared_from_this()] { self->do_stop(); });
  }

  void submit(request req, exec_handler h) override {
    auto p = make_pending(std::move(req));
    p->handler = std::move(h);
    asio::dispatch(strand_, [self = shared_from_this(), p = std::move(p)]() mutable {
      self->enqueue(std::move(p));
    });
  }

  // Posted, not dispatched: a handler may replace itself while it runs.
  void set_push_handler(std::function<void(const value&)> h) override {
    asio::post(strand_, [self = shared_from_this(), h = std::move(h)]() mutable {
      self->push_handler_ = std::move(h);
    });
  }

  void set_state_handler(std::function<void(connection_state, error_code)> h) override {
    asio::post(strand_, [self = shared_from_this(), h = std::move(h)]() mutable {
      self->state_handler_ = std::move(h);
    });
  }

  client_stats stats() const noexcept override {
    client_stats s;
    s.requests = stats_.requests.load(std::memory_order_relaxed);
    s.commands = stats_.commands.load(std::memory_order_relaxed);
    s.writes = stats_.writes.load(std::memory_order_relaxed);
    s.replies = stats_.replies.load(std::memory_order_relaxed);
    s.pushes = stats_.pushes.load(std::memory_order_relaxed);
    s.timeouts = stats_.timeouts.load(std::memory_order_relaxed);
    s.retries = stats_.retries.load(std::memory_order_relaxed);
    s.rejected = stats_.rejected.load(std::memory_order_relaxed);
    s.connects = stats_.connects.load(std::memory_order_relaxed);
    s.connect_failures = stats_.connect_failures.load(std::memory_order_relaxed);
    s.bytes_written = stats_.bytes_written.load(std::memory_order_relaxed);
    s.bytes_read = stats_.bytes_read.load(std::memory_order_relaxed);
    return s;
  }

  std::pair<error_code, std::string> last_error() const override {
    std::lock_guard lock(diag_mutex_);
    return {last_error_, last_error_message_};
  }

  value server_hello() const override {
    std::lock_guard lock(diag_mutex_);
    return hello_;
  }

  asio::any_io_executor get_executor() const noexcept override {
    return strand_.get_inner_executor();
  }

 private:
  struct atomic_stats {
    std::atomic<std::uint64_t> requests{0}, commands{0}, writes{0}, replies{0}, pushes{0},
        timeouts{0}, retries{0}, rejected{0}, connects{0}, connect_failures{0}, bytes_written{0},
        bytes_read{0};
  };
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }

  pending_ptr make_pending(request req) const {
    return detail::make_pending(
        std::move(req), {.command_timeout = cfg_.command_timeout, .max_retries = cfg_.max_retries});
  }

  // ---- queueing and completion (strand) -------------------------------------

  void ensure_started() {
    if (started_ || stopped_) return;
    started_ = true;
    auto self = shared_from_this();
    std::weak_ptr<client_impl> weak = self;
    topology_->watch(strand_, [weak] {
      if (auto me = weak.lock(); me && !me->stopped_) me->on_topology_changed();
    });
    asio::co_spawn(strand_, run(), [self](std::exception_ptr e) { self->on_coroutine_end(e); });
    asio::co_spawn(strand_, deadline_loop(),
                   [self](std::exception_ptr e) { self->on_coroutine_end(e); });
  }

  // The server we use (or are connecting to) is no longer the right one:
  // leave it now rather than after a health check, connect timeout or
  // backoff. A hint that comes while the topology resolves makes
  // connect_once() resolve again.
  void on_topology_changed() {
    ++topology_hints_;
    set_last_error(make_error_code(error::not_master), "the topology saw the server change");
    if (conn_alive_) return close_connection(make_error_code(error::connection_lost));
    if (connecting_) {
      connect_abandoned_ = true;
      return close_socket();
    }
    backoff_timer_.cancel();
  }

  // A coroutine that threw is a bug; fail loudly rather than hang callers.
  void on_coroutine_end(std::exception_ptr e) {
    if (!e) return;
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    set_last_error(make_error_code(error::client_stopped), "internal error: " + what);
    do_stop();
  }

  void enqueue(pending_ptr p, bool bypass_limits = false) {
    bump(stats_.requests);
    if (stopped_) return refuse(p, make_error_code(error::client_stopped));
    ensure_started();
    const bool down = state_ == connection_state::disconnected ||
                      (state_ == connection_state::connected && !conn_alive_);
    if (down) {
      if (permanent_error_) return refuse(p, permanent_ec_);
      if (!p->wait_for_connection) return refuse(p, make_error_code(error::not_connected));
    }
    if (!mux_.enqueue(p, bypass_limits)) {
      bump(stats_.rejected);
      return refuse(p, make_error_code(error::queue_full));
    }
    deadline_added(p->deadline);
    request_flush();
  }

  void fail(const pending_ptr& p, error_code ec) { complete(p, ec); }
  // A request refused while it is being submitted.
  void refuse(const pending_ptr& p, error_code ec) { complete(p, ec, /*immediate=*/true); }

  void fail_all(const std::vector<pending_ptr>& ps, error_code ec) {
    for (const auto& p : ps) fail(p, ec);
  }

  void complete(const pending_ptr& p, error_code ec, bool immediate = false) {
    if (!mux_.retire(*p) || !p->handler) return;
    if (immediate) {
      complete_later(strand_, std::move(p->handler), ec, std::move(p->replies));
      return;
    }
    // A handler that throws while it runs inline would unwind the client's
    // own coroutines; the exception leaves through io_context::run()
    // instead, as Asio's convention has it, and the connection carries on.
    try {
      std::move(p->handler)(ec, std::move(p->replies));
    } catch (...) {
      asio::post(strand_.get_inner_executor(),
                 [e = std::current_exception()] { std::rethrow_exception(e); });
    }
  }

  // ---- deadlines ------------------------------------------------------------

  // A request with this deadline was queued: re-arm the timer if it is the
  // earliest.
  void deadline_added(clock::time_point at) {
    if (at < armed_deadline_) deadline_timer_.cancel();
  }

  task<void> deadline_loop() {
    auto self = shared_from_this();
    while (!stopped_) {
      armed_deadline_ = mux_.next_deadline();
      deadline_timer_.expires_at(armed_deadline_);
      co_await deadline_timer_.async_wait(nothrow);
      for (auto& p : mux_.take_expired(clock::now())) {
        bump(stats_.timeouts);
        // A request that never left the queue while we were disconnected
        // did not time out on Redis' side: say what actually happened.
        const bool never_sent = !p->written && state_ != connection_state::connected;
        fail(p, make_error_code(never_sent ? error::not_connected : error::timeout));
      }
    }
  }

  // ---- connection life cycle -----------------------------------------------

  void set_state(connection_state s, error_code ec = {}) {
    state_.store(s, std::memory_order_relaxed);
    if (!handlers_off_.load(std::memory_order_acquire)) report(state_handler_, s, ec);
  }

  void set_last_error(error_code ec, std::string message) {
    std::lock_guard lock(diag_mutex_);
    last_error_ = ec;
    last_error_message_ = std::move(message);
  }

  // ---- connection events (client_config::on_event) ----

  void emit(connection_event::kind what, error_code ec, std::string message) {
    if (cfg_.on_event) notify(cfg_, {what, server_, ec, std::move(message)});
  }

  // A connection attempt succeeded: connected, reconnected, and whether the
  // server changed (a Sentinel failover) since the last connection.
  void report_connected() {
    if (!last_server_.empty() && last_server_ != server_) {
      emit(connection_event::kind::topology_changed, {},
           "the server is now " + server_ + " (was " + last_server_ + ")");
    }
    if (!troubled_) {
      emit(connection_event::kind::connected, {}, "connected to " + server_);
    } else {
      const auto down = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - trouble_since_);
      emit(connection_event::kind::reconnected, {},
           "connected to " + server_ + " again after " + std::to_string(down.count()) + " ms and " +
               std::to_string(failed_attempts_) + " failed attempt(s)");
    }
    last_server_ = server_;
    troubled_ = false;
    failed_attempts_ = 0;
    reported_failure_ = {};
  }

  void report_lost(error_code ec) {
    troubled_ = true;
    trouble_since_ = std::chrono::steady_clock::now();
    emit(connection_event::kind::lost, ec,
         "the connection to " + server_ + " was lost: " + last_error().second);
  }

  // A failed attempt is reported when a streak of failures starts and when
  // its reason changes, not at every attempt.
  void report_failed(error_code ec) {
    ++failed_attempts_;
    if (!troubled_) {
      troubled_ = true;
      trouble_since_ = std::chrono::steady_clock::now();
    }
    if (reported_failure_ == ec) return;
    reported_failure_ = ec;
    const bool auth =
        ec == error::auth_failed || ec == error::resp3_unsupported || handshake_permanent_;
    emit(auth ? connection_event::kind::auth_failed : connection_event::kind::connect_failed, ec,
         last_error().second.empty() ? ec.message() : last_error().second);
  }

  task<void> run() {
    auto self = shared_from_this();
    int attempt = 0;
    while (!stopped_) {
      set_state(connection_state::connecting);
      error_code ec = co_await connect_once();
      if (stopped_) break;
      if (!ec) {
        attempt = 0;
        permanent_error_ = false;
        bump(stats_.connects);
        conn_alive_ = true;
        ++generation_;
        write_in_flight_ = false;
        restore_subscriptions();
        set_state(connection_state::connected);
        report_connected();  // after: a handler that asks sees `connected`
        using namespace asio::experimental::awaitable_operators;
        flush();  // whatever queued up while disconnected
        co_await (reader() && health());
        ec = conn_error_;
        close_socket();
        on_disconnect();
        if (stopped_) break;
        set_last_error(ec, ec.message());
        report_lost(ec);
        set_state(connection_state::disconnected, ec);
      } else {
        bump(stats_.connect_failures);
        close_socket();
        state_.store(connection_state::disconnected, std::memory_order_relaxed);
        // Refused credentials, protocol or certificate will not fix
        // themselves between two attempts: waiting callers get the reason
        // now. Everything else (refused, reset, BUSY, LOADING, a topology
        // mid-failover) may, so they keep waiting within their deadlines.
        permanent_error_ = ec == error::auth_failed || ec == error::resp3_unsupported ||
                           ec == error::invalid_argument || handshake_permanent_ ||
                           (ec.category() == asio::error::get_ssl_category() &&
                            ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
                                SSL_R_CERTIFICATE_VERIFY_FAILED);
        permanent_ec_ = ec;
        report_failed(ec);
        fail_all(mux_.take_queued_if(
                     [&](const pending& p) { return permanent_error_ || !p.wait_for_connection; }),
                 permanent_error_ ? ec : make_error_code(error::not_connected));
        set_state(connection_state::disconnected, ec);
      }
      // An attempt the topology called off (it named another server) is
      // followed by the next one at once, as a hint during the pause would.
      if (connect_abandoned_) continue;
      backoff_timer_.expires_after(reconnect_delay(attempt++, cfg_.reconnect_backoff_initial,
                                                   cfg_.reconnect_backoff_max, rng_()));
      co_await backoff_timer_.async_wait(nothrow);
    }
    set_state(connection_state::stopped);
  }

  // Connect, TLS handshake and Redis handshake, under one watchdog that
  // closes the socket when connect_timeout passes.
  task<error_code> connect_once() {
    // Judged per attempt: a refusal by the last server says nothing about
    // an attempt that never reached one.
    handshake_permanent_ = false;
    connect_abandoned_ = false;
    // A hint while resolving may mean the answer is already old (a sentinel
    // that had not yet switched): ask again, a few times at most.
    auto hints = topology_hints_;
    auto resolved = co_await resolve();
    for (int again = 0; again < 3 && resolved && hints != topology_hints_ && !stopped_; ++again) {
      hints = topology_hints_;
      resolved = co_await resolve();
    }
    if (!resolved) {
      set_last_error(resolved.error(), "the topology found no server to connect to");
      co_return resolved.error();
    }
    const endpoint ep = *resolved;
    server_ = ep.to_string();

    const auto my_attempt = ++connect_attempt_;
    connect_timed_out_ = false;
    connect_timer_.expires_after(cfg_.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this(), my_attempt](error_code ec) {
      if (ec || self->connect_attempt_ != my_attempt || !self->connecting_) return;
      self->connect_timed_out_ = true;
      self->close_socket();
    });
    connecting_ = true;
    stage_ = "connect";
    error_code ec = co_await connect_transport(ep);
    if (!ec) ec = co_await handshake();
    connecting_ = false;
    connect_timer_.cancel();
    if (stopped_) co_return make_error_code(error::client_stopped);
    // The watchdog may have closed the socket after the last step succeeded.
    if (connect_timed_out_) {
      ec = make_error_code(error::connect_timeout);
      set_last_error(ec, "connecting to " + ep.to_string() + " took longer than " +
                             std::to_string(cfg_.connect_timeout.count()) + " ms");
    } else if (connect_abandoned_) {
      ec = make_error_code(error::not_master);
      set_last_error(ec, "left " + ep.to_string() + " while connecting: the topology changed");
    } else if (ec && ec.category() != error_category()) {
      set_last_error(ec, ep.to_string() + ": " + stage_ + " failed: " + ec.message());
    }
    co_return ec;
  }

  // The topology's resolve() (a coroutine on any_io_executor, the public
  // interface's), awaited from this strand's own.
  task<result<endpoint>> resolve() {
    auto [e, r] = co_await asio::co_spawn(asio::any_io_executor(strand_),
                                          topology_->resolve(strand_), nothrow);
    if (e) std::rethrow_exception(e);  // a topology that threw: on_coroutine_end
    co_return r;
  }

  task<error_code> connect_transport(const endpoint& ep) {
    replies_.reset();
    if (ep.kind == endpoint::transport::unix_socket) {
      auto& s = stream_.emplace_unix();
      auto [ec] = co_await s.async_connect(unix_stream::endpoint(ep.path), nothrow);
      if (!ec) s.non_blocking(true, ec);  // flush() writes directly when it can
      co_return ec;
    }
    asio::ip::basic_resolver<tcp, strand_type> resolver(strand_);
    auto [rec, results] =
        co_await resolver.async_resolve(ep.host, std::to_string(ep.port), nothrow);
    if (rec) co_return rec;
    // DNS can outlast the watchdog (it had no socket to close) or stop().
    if (stopped_ || connect_timed_out_ || connect_abandoned_) {
      co_return make_error_code(asio::error::operation_aborted);
    }
    redis_stream::tcp_socket* raw = nullptr;
    if (ep.tls) {
      if (auto ec = ensure_tls_context(); ec) co_return ec;
      raw = &stream_.emplace_tls(*tls_ctx_).next_layer();
    } else {
      raw = &stream_.emplace_tcp();
    }
    auto [cec, connected] = co_await asio::async_connect(*raw, results, nothrow);
    if (cec) co_return cec;
    if (stopped_ || connect_timed_out_ || connect_abandoned_) {
      co_return make_error_code(asio::error::operation_aborted);
    }
    error_code ignored;
    raw->set_option(tcp::no_delay(true), ignored);
    raw->set_option(asio::socket_base::keep_alive(true), ignored);
    if (!ep.tls) raw->non_blocking(true, ignored);  // flush() writes directly when it can
    if (ep.tls) {
      auto& s = *stream_.tls();
      const std::string name = cfg_.tls.server_name.empty() ? ep.host : cfg_.tls.server_name;
      error_code addr_ec;
      asio::ip::make_address(name, addr_ec);
      if (addr_ec) SSL_set_tlsext_host_name(s.native_handle(), name.c_str());  // SNI: names only
      if (cfg_.tls.verify_peer) {
        s.set_verify_mode(asio::ssl::verify_peer);
        s.set_verify_callback(asio::ssl::host_name_verification(name));
      } else {
        s.set_verify_mode(asio::ssl::verify_none);
      }
      stage_ = "TLS handshake";
      auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, nothrow);
      if (hec) co_return hec;
    }
    co_return error_code{};
  }

  error_code ensure_tls_context() {
    if (tls_ctx_) return {};
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    error_code ec;
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    auto check = [&](const char* what, const std::string& file) {
      if (!ec) return true;
      set_last_error(make_error_code(error::invalid_argument),
                     std::string("TLS ") + what + " '" + file + "': " + ec.message());
      return false;
    };
    if (cfg_.tls.ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
      if (!check("default trust store", "")) return make_error_code(error::invalid_argument);
    } else {
      ctx->load_verify_file(cfg_.tls.ca_file, ec);
      if (!check("CA file", cfg_.tls.ca_file)) return make_error_code(error::invalid_argument);
    }
    if (!cfg_.tls.cert_file.empty()) {
      ctx->use_certificate_chain_file(cfg_.tls.cert_file, ec);
      if (!check("certificate", cfg_.tls.cert_file))
        return make_error_code(error::invalid_argument);
      ctx->use_private_key_file(cfg_.tls.key_file, asio::ssl::context::pem, ec);
      if (!check("private key", cfg_.tls.key_file)) return make_error_code(error::invalid_argument);
    }
    tls_ctx_ = std::move(ctx);
    return {};
  }

  // HELLO 3 [AUTH] [SETNAME], SELECT, CLIENT TRACKING, and the topology's own commands, in
  // one write; the replies are read here before the reader starts.
  task<error_code> handshake() {
    stage_ = "Redis handshake";
    request hs;
    const bool auth = !cfg_.password.empty();
    const std::string user = cfg_.username.empty() ? "default" : cfg_.username;
    if (auth && !cfg_.client_name.empty()) {
      hs.push("HELLO", 3, "AUTH", user, cfg_.password, "SETNAME", cfg_.client_name);
    } else if (auth) {
      hs.push("HELLO", 3, "AUTH", user, cfg_.password);
    } else if (!cfg_.client_name.empty()) {
      hs.push("HELLO", 3, "SETNAME", cfg_.client_name);
    } else {
      hs.push("HELLO", 3);
    }
    std::vector<std::string> names{"HELLO"};  // for messages
    if (cfg_.db != 0) {
      hs.push("SELECT", cfg_.db);
      names.push_back("SELECT " + std::to_string(cfg_.db));
    }
    if (cfg_.client_tracking) {
      if (cfg_.tracking_noloop) {
        hs.push("CLIENT", "TRACKING", "ON", "NOLOOP");
      } else {
        hs.push("CLIENT", "TRACKING", "ON");
      }
      names.push_back("CLIENT TRACKING ON");
    }
    const std::size_t own = hs.size();
    topology_->append_handshake(hs);

    auto [wec, n] = co_await stream_.async_write(asio::buffer(hs.payload()), nothrow);
    if (wec) co_return wec;
    response replies;
    const auto count_read = [this](std::size_t bytes) { bump(stats_.bytes_read, bytes); };
    while (replies.size() < hs.size()) {
      auto v = co_await async_read_value<strand_type>(stream_, replies_, count_read);
      if (!v) co_return v.error();
      if (v->type == resp_type::push) continue;  // nothing is subscribed yet
      replies.push_back(std::move(*v));
    }
    const value& hello = replies[0];
    if (hello.is_error()) {
      const auto code = hello.error_code();
      const bool no_resp3 =
          code == "NOPROTO" || hello.str.find("unknown command") != std::string::npos;
      error_code ec = make_error_code(is_auth_error(code) ? error::auth_failed
                                      : no_resp3          ? error::resp3_unsupported
                                                          : error::handshake_failed);
      // Redis quotes the first arguments of a command it does not know, and
      // HELLO's are "3 AUTH <user> <password>": never keep them.
      std::string said = hello.str.substr(0, hello.str.find(", with args beginning with"));
      set_last_error(ec, no_resp3 ? "the server does not speak RESP3 (HELLO 3: " + said + ")"
                                  : std::move(said));
      co_return ec;
    }
    for (std::size_t i = 1; i < own; ++i) {
      if (replies[i].is_error()) {
        const auto code = replies[i].error_code();
        handshake_permanent_ = code != "BUSY" && code != "LOADING" && code != "MASTERDOWN" &&
                               code != "TRYAGAIN" && code != "CLUSTERDOWN";
        error_code ec = make_error_code(error::handshake_failed);
        set_last_error(ec, names[i] + ": " + replies[i].str);
        co_return ec;
      }
    }
    response extra(std::make_move_iterator(replies.begin() + static_cast<std::ptrdiff_t>(own)),
                   std::make_move_iterator(replies.end()));
    if (auto ec = topology_->check_handshake(extra); ec) {
      set_last_error(ec, "topology refused the server");
      co_return ec;
    }
    {
      std::lock_guard lock(diag_mutex_);
      hello_ = hello;
    }
    co_return error_code{};
  }

  void close_socket() { stream_.close(); }

  // Ends the current connection: the reader, writer and health loops see
  // conn_alive_ false (or their I/O fails) and return.
  void close_connection(error_code ec) {
    if (!conn_alive_) return;
    conn_alive_ = false;
    conn_error_ = ec;
    close_socket();
    health_timer_.cancel();
    // A health PING in flight would hold the reconnect until its deadline.
    if (health_ping_) {
      asio::post(strand_, [self = shared_from_this(), p = health_ping_] {
        self->fail(p, make_error_code(error::connection_lost));
      });
    }
  }

  // After a connection ended: written requests either go back to the front
  // of the queue (retryable, within their budget) or fail; queued requests
  // that chose not to wait fail. The multiplexer hands them over before any
  // completes: completions run user code (which may submit, or stop the
  // client) only once it is consistent again.
  void on_disconnect() {
    replies_.reset();
    auto lost = mux_.connection_lost(/*may_retry=*/!stopped_);
    bump(stats_.retries, lost.retried);
    fail_all(lost.written,
             make_error_code(stopped_ ? error::client_stopped : error::connection_lost));
    fail_all(lost.queued, make_error_code(error::not_connected));
  }

  void do_stop() {
    if (stopped_) return;
    stopped_ = true;
    topology_->stop_watching();
    close_connection(make_error_code(error::client_stopped));
    close_socket();
    backoff_timer_.cancel();
    deadline_timer_.cancel();
    connect_timer_.cancel();
    fail_all(mux_.take_all(), make_error_code(error::client_stopped));
    push_handler_ = nullptr;
    set_state(connection_state::stopped);
    state_handler_ = nullptr;
  }

  // ---- writer ---------------------------------------------------------------

  // Schedules one flush for the end of this event-loop turn, so that every
  // request submitted in the turn goes out in one write.
  void request_flush() {
    if (in_dispatch_ || flush_posted_ || write_in_flight_ || !conn_alive_) return;
    flush_posted_ = true;
    asio::post(strand_, [self = shared_from_this(), gen = generation_] {
      self->flush_posted_ = false;
      if (self->alive(gen)) self->flush();
    });
  }

  // Moves queued requests into one write (bounded by max_batch bytes).
  void flush() {
    if (write_in_flight_ || !conn_alive_) return;
    constexpr std::size_t max_batch = 512 * 1024;
    if (wbuf_.use_count() > 1) wbuf_ = std::make_shared<std::string>();  // an old write holds it
    auto& buf = *wbuf_;
    buf.clear();
    const auto batch = mux_.prepare_write(buf, max_batch);
    if (buf.empty()) return;
    bump(stats_.writes);
    bump(stats_.commands, batch.commands);

    // Plain sockets: try the kernel directly; most writes complete here.
    std::size_t done = 0;
    error_code wec;
    if (const auto now = stream_.write_now(asio::buffer(buf), wec)) {
      done = *now;
      if (wec && wec != asio::error::would_block && wec != asio::error::try_again) {
        // Nothing of this batch reached the server: it may be sent again
        // on the next connection, whatever its commands are.
        if (done == 0) mux_.mark_unsent(batch);
        close_connection(wec);
        return;
      }
      bump(stats_.bytes_written, done);
      if (done == buf.size()) {
        if (mux_.has_queued()) request_flush();  // more than max_batch was queued
        return;
      }
    }
    write_in_flight_ = true;
    auto on_written =
        asio::bind_executor(strand_, [self = shared_from_this(), gen = generation_, keep = wbuf_](
                                         error_code ec, std::size_t n) mutable {
          keep.reset();                          // flush() below may reuse the buffer
          if (gen != self->generation_) return;  // a connection that is gone
          self->write_in_flight_ = false;
          if (ec) return self->close_connection(ec);
          bump(self->stats_.bytes_written, n);
          self->flush();
        });
    stream_.async_write(asio::buffer(buf) + done, std::move(on_written));
  }

  static bool is_reply_limit(error_code ec) {
    return ec == error::resp_bulk_too_long || ec == error::resp_depth_exceeded ||
           ec == error::resp_aggregate_too_large || ec == error::resp_line_too_long;
  }

  bool alive(std::uint64_t gen) const { return conn_alive_ && gen == generation_ && !stopped_; }

  // ---- reader ---------------------------------------------------------------

  task<void> reader() {
    auto self = shared_from_this();
    const auto gen = generation_;
    while (alive(gen)) {
      in_dispatch_ = true;
      error_code ec;
      while (auto v = replies_.next(ec)) {
        ec = on_value(std::move(*v));
        if (ec) break;
        // Send what resumed callers submitted so far, so Redis works on it
        // while the rest of this buffer is dispatched (it overlaps the two
        // sides instead of alternating them).
        if (++dispatched_ % cfg_.flush_after_replies == 0 && mux_.has_queued()) flush();
        if (!alive(gen)) {
          in_dispatch_ = false;
          co_return;
        }
      }
      in_dispatch_ = false;
      if (ec) {
        // A reply past a parser limit answers the request at the front
        // (unless it was a push): that request fails with the reason and
        // is not re-sent, as the same reply would break the limit again.
        if (is_reply_limit(ec) && !replies_.in_push()) {
          if (auto front = mux_.oldest_waiting()) fail(front, ec);
        }
        close_connection(ec);
        co_return;
      }
      flush();  // what the callers resumed above have submitted
      auto [rec, n] = co_await stream_.async_read_some(replies_.space(), nothrow);
      if (rec) {
        close_connection(rec == asio::error::eof ? make_error_code(error::connection_lost) : rec);
        co_return;
      }
      replies_.commit(n);
      last_read_ = clock::now();
      bump(stats_.bytes_read, n);
    }
  }

  error_code on_value(value v) {
    auto taken = mux_.consume(v);
    switch (taken.what) {
      case multiplexer::consumed::kind::unexpected:
        bump(stats_.replies);
        return make_error_code(error::unexpected_reply);
      case multiplexer::consumed::kind::reply:
        bump(stats_.replies);
        break;
      case multiplexer::consumed::kind::confirmation:
        bump(stats_.pushes);
        break;
      case multiplexer::consumed::kind::push:
        bump(stats_.pushes);
        if (!handlers_off_.load(std::memory_order_acquire)) report(push_handler_, v);
        break;
    }
    if (taken.answered) complete(taken.answered, {});
    return {};
  }

  // Subscribes again, in front of anything queued, to everything the
  // application subscribed to (multiplexer::restore_subscriptions).
  void restore_subscriptions() {
    std::vector<pending_ptr> again;
    for (auto& [cmd, req] : mux_.restore_subscriptions()) {
      auto p = make_pending(std::move(req));
      p->handler = [self = shared_from_this(), cmd = cmd](error_code ec, response resp) {
        std::string why = ec ? ec.message() : std::string();
        for (const auto& v : resp) {
          if (v.is_error()) why = v.str;
        }
        if (!why.empty()) {
          self->set_last_error(make_error_code(error::handshake_failed),
                               "restoring " + std::string(cmd) + ": " + why);
        }
      };
      deadline_added(p->deadline);
      again.push_back(std::move(p));
    }
    mux_.enqueue_front(again);
  }

  // ---- health check ---------------------------------------------------------

  // An awaitable sending `p` for an internal coroutine. The initiation lives
  // in this ordinary function, not in the coroutine's co_await expression:
  // GCC 12 destroys lambda temporaries in such expressions twice, which
  // released a shared_ptr copy once too often (caught by ASan).
  // The completion is posted, never inline: the health coroutine closes the
  // connection, which must not happen inside the loop that completes it.
  auto send_internal(pending_ptr p) {
    return asio::async_initiate<decltype(nothrow), void(error_code, response)>(
        [this](auto handler, pending_ptr req) {
          req->handler = [h = std::move(handler), strand = strand_](error_code e,
                                                                    response res) mutable {
            asio::post(strand, [h = std::move(h), e, res = std::move(res)]() mutable {
              std::move(h)(e, std::move(res));
            });
          };
          enqueue(std::move(req), /*bypass_limits=*/true);  // a full queue is when it matters
        },
        nothrow, std::move(p));
  }

  task<void> health() {
    auto self = shared_from_this();
    const auto gen = generation_;
    const auto interval = cfg_.health_check_interval;
    last_read_ = clock::now();
    while (alive(gen)) {
      health_timer_.expires_after(interval.count() > 0 ? clock::duration(interval)
                                                       : clock::duration::max() / 2);
      co_await health_timer_.async_wait(nothrow);
      if (!alive(gen) || interval.count() == 0) continue;
      if (clock::now() - last_read_ < interval) continue;
      // Nothing was read for a whole interval: is the server still there?
      request ping(request::options{
          .timeout = interval, .wait_for_connection = false, .retry_on_connection_lost = false});
      ping.push("PING");
      health_ping_ = make_pending(std::move(ping));
      auto [ec, r] = co_await send_internal(health_ping_);
      health_ping_.reset();
      if (ec == error::timeout && alive(gen)) close_connection(ec);
    }
  }

  // ---- state ----------------------------------------------------------------

  strand_type strand_;
  client_config cfg_;
  std::shared_ptr<topology> topology_;
  std::unique_ptr<asio::ssl::context> tls_ctx_;
  redis_stream stream_;
  multiplexer mux_;
  reply_reader replies_;
  std::shared_ptr<std::string> wbuf_ = std::make_shared<std::string>();

  clock::time_point armed_deadline_ = clock::time_point::max();

  timer health_timer_;
  timer deadline_timer_;
  timer backoff_timer_;
  timer connect_timer_;
  bool write_in_flight_ = false;
  bool flush_posted_ = false;
  bool in_dispatch_ = false;    // the reader is dispatching replies (it flushes after)
  std::size_t dispatched_ = 0;  // replies dispatched, for flush_after_replies
  bool started_ = false;
  bool stopped_ = false;
  bool conn_alive_ = false;
  bool connecting_ = false;
  bool connect_timed_out_ = false;
  bool connect_abandoned_ = false;    // the topology changed while connecting
  std::uint64_t topology_hints_ = 0;  // how many times the topology said it changed
  bool permanent_error_ = false;
  bool handshake_permanent_ = false;  // SELECT / CLIENT TRACKING refused for good
  // Connection events (strand only): the server of the current attempt and
  // of the last connection; a streak of trouble and what was reported of it.
  std::string server_;
  std::string last_server_;
  bool troubled_ = false;
  std::chrono::steady_clock::time_point trouble_since_{};
  int failed_attempts_ = 0;
  error_code reported_failure_;
  const char* stage_ = "connect";  // what connect_once() is doing, for messages
  std::uint64_t generation_ = 0;
  std::uint64_t connect_attempt_ = 0;
  error_code conn_error_;
  pending_ptr health_ping_;  // the health check's PING while it waits
  error_code permanent_ec_;  // why connecting fails for good (auth, protocol)
  clock::time_point last_read_{};
  std::mt19937_64 rng_;

  std::function<void(const value&)> push_handler_;
  std::function<void(connection_state, error_code)> state_handler_;

  atomic_stats stats_;
  mutable std::mutex diag_mutex_;  // guards the three below (read from any thread)
  error_code last_error_;
  std::string last_error_message_;
  value hello_;
};

// EVALSHA; on NOSCRIPT, SCRIPT LOAD + EVALSHA in one request (so a cluster
// sends both to the node of the script's keys) and report that.
void submit_eval(const std::shared_ptr<client_base>& self, const script& s,
                 std::vector<std::string> keys, std::vector<std::string> args, eval_handler h) {
  request first;
  append_evalsha(first, s, keys, args);
  // Built now: `s` may not outlive this call.
  request reload = load_and_evalsha(s, keys, args);
  self->submit(std::move(first), [self, reload = std::move(reload), h = std::move(h)](
                                     error_code ec, response r) mutable {
    if (!ec && is_noscript(r.at(0))) {
      self->submit(std::move(reload),
                   [self, h = std::move(h)](error_code ec2, response r2) mutable {
                     // A script that does not compile fails in SCRIPT LOAD: report that.
                     value v = (ec2 || r2.size() != 2) ? value{}
                               : r2[0].is_error()      ? std::move(r2[0])
                                                       : std::move(r2[1]);
                     complete_now(self->get_executor(), std::move(h), ec2, std::move(v));
                   });
      return;
    }
    value v = ec ? value{} : std::move(r.at(0));
    complete_now(self->get_executor(), std::move(h), ec, std::move(v));
  });
}

}  // namespace detail

// ---- rcache::script -----------------------------------------------------------

script::script(std::string source) : source_(std::move(source)) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(source_.data(), source_.size(), digest, &len, EVP_sha1(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  sha1_.reserve(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    sha1_.push_back(hex[digest[i] >> 4]);
    sha1_.push_back(hex[digest[i] & 0xF]);
  }
}

// ---- rcache::client -----------------------------------------------------------

namespace {
std::shared_ptr<detail::client_base> make_impl(asio::any_io_executor ex, client_config cfg,
                                               std::shared_ptr<topology> topo) {
  if (!cfg.cluster_nodes.empty() && !topo) {
    return detail::make_cluster_client(std::move(ex), std::move(cfg));
  }
  return std::make_shared<detail::client_impl>(std::move(ex), std::move(cfg), std::move(topo));
}

// Every push of `impl` goes through one router (push_router.hpp), the
// impl's only push handler, set once.
std::shared_ptr<detail::push_router> route_pushes(
    const std::shared_ptr<detail::client_base>& impl) {
  auto router = std::make_shared<detail::push_router>(impl);
  impl->set_push_handler([router](const value& v) { router->dispatch(v); });
  return router;
}
}  // namespace

client::client(executor_type ex, client_config cfg, std::shared_ptr<topology> topo)
    : impl_(make_impl(std::move(ex), std::move(cfg), std::move(topo))),
      router_(route_pushes(impl_)) {}

client::client(std::vector<executor_type> executors, client_config cfg) {
  if (executors.empty()) throw std::invalid_argument("rcache::client: no executor");
  if (executors.size() == 1 || !cfg.cluster_nodes.empty()) {
    impl_ = make_impl(std::move(executors.front()), std::move(cfg), nullptr);
    router_ = route_pushes(impl_);
    return;
  }
  std::vector<std::shared_ptr<detail::client_base>> connections;
  for (std::size_t i = 0; i < executors.size(); ++i) {
    auto one = cfg;
    if (cfg.on_event) {
      // Each connection reports its own transitions, saying which it is.
      one.on_event = [i, on_event = cfg.on_event](const connection_event& e) {
        auto tagged = e;
        tagged.connection = i;
        on_event(tagged);
      };
    }
    connections.push_back(make_impl(std::move(executors[i]), std::move(one), nullptr));
  }
  impl_ = detail::make_pool_client(std::move(connections));
  router_ = route_pushes(impl_);
}

namespace detail {
const std::shared_ptr<push_router>& router_of(client& c) noexcept {
  return c.router_;
}
}  // namespace detail

client::~client() {
  router_->shutdown();
  impl_->detach();
}

void client::start() {
  impl_->start();
}
void client::stop() {
  impl_->stop();
}
void client::submit(const std::shared_ptr<detail::client_base>& impl, request req,
                    detail::exec_handler h) {
  if (req.empty()) {
    detail::complete_later(impl->get_executor(), std::move(h),
                           make_error_code(error::empty_request), response{});
    return;
  }
  impl->submit(std::move(req), std::move(h));
}
void client::submit_eval(const std::shared_ptr<detail::client_base>& impl, const script& s,
                         std::vector<std::string> keys, std::vector<std::string> args,
                         detail::eval_handler h) {
  detail::submit_eval(impl, s, std::move(keys), std::move(args), std::move(h));
}

void client::set_push_handler(std::function<void(const value&)> h) {
  router_->set_application(std::move(h));
}
void client::set_state_handler(std::function<void(connection_state, error_code)> h) {
  impl_->set_state_handler(std::move(h));
}
connection_state client::state() const noexcept {
  return impl_->state();
}
client_stats client::stats() const noexcept {
  return impl_->stats();
}
std::pair<error_code, std::string> client::last_error() const {
  return impl_->last_error();
}
value client::server_hello() const {
  return impl_->server_hello();
}
client::executor_type client::get_executor() const noexcept {
  return impl_->get_executor();
}
std::vector<std::string> client::masters() const {
  return impl_->masters();
}

}  // namespace rcache
