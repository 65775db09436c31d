// A client of several connections to one server: one multiplexed
// connection (client_impl) per executor, for a program that runs one event
// loop per thread (the gateway). A request goes to the connection whose
// executor runs the calling thread, so submitting it, its reply and the
// caller's continuation all stay on that thread: no cross-thread hand-off
// and no wake-up of another thread per request. A call from any other
// thread, or from a thread whose connection is down, goes to the next
// connection that is up (so the whole serves whenever one connection can).
// Pub/sub commands always use the first connection, so a subscription and
// its unsubscription meet.
//
// State: `connected` while every connection is; any connection that is not
// makes the whole `disconnected` at once, so a near cache above it never
// misses one connection's quick reconnect (invalidations sent to it while
// it was away are lost). State changes are reported in order, under a
// mutex, from the thread of the connection that changed.
//
// Threading: every method is thread-safe. Push handlers run on the strand of
// the connection that received the push: with several connections they may
// run concurrently.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <mutex>
#include <optional>

#include "client/client_base.hpp"

namespace rcache::detail {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

class pool_impl final : public client_base, public std::enable_shared_from_this<pool_impl> {
 public:
  explicit pool_impl(std::vector<std::shared_ptr<client_base>> connections)
      : connections_(std::move(connections)), states_(connections_.size(), connection_state::idle) {
    for (const auto& c : connections_) {
      const auto ex = c->get_executor();
      const auto* io = ex.target<asio::io_context::executor_type>();
      threads_.push_back(io ? std::optional(*io) : std::nullopt);
    }
  }

  // After construction: the connections report to a weak pointer.
  void wire() {
    std::weak_ptr<pool_impl> weak = shared_from_this();
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      connections_[i]->set_state_handler([weak, i](connection_state s, error_code ec) {
        if (auto self = weak.lock()) self->on_state(i, s, ec);
      });
    }
  }

  void start() override {
    started_.store(true, std::memory_order_relaxed);
    for (auto& c : connections_) c->start();
  }

  void stop() override {
    for (auto& c : connections_) c->stop();
  }

  void submit(request req, exec_handler h) override {
    // The first request connects them all, not only the one it uses: the
    // others could otherwise wait forever for a request of their own.
    if (!started_.load(std::memory_order_relaxed)) start();
    connections_[pick(req)]->submit(std::move(req), std::move(h));
  }

  void set_push_handler(std::function<void(const value&)> h) override {
    std::weak_ptr<pool_impl> weak = shared_from_this();
    auto shared = std::make_shared<std::function<void(const value&)>>(std::move(h));
    for (auto& c : connections_) {
      c->set_push_handler([weak, shared](const value& v) {
        auto self = weak.lock();
        if (self && *shared && !self->handlers_off_.load(std::memory_order_acquire)) (*shared)(v);
      });
    }
  }

  void set_state_handler(std::function<void(connection_state, error_code)> h) override {
    std::lock_guard lock(mutex_);
    state_handler_ = std::move(h);
  }

  client_stats stats() const noexcept override {
    client_stats sum;
    for (const auto& c : connections_) accumulate(sum, c->stats());
    return sum;
  }

  std::pair<error_code, std::string> last_error() const override {
    for (const auto& c : connections_) {
      if (auto e = c->last_error(); e.first) return e;
    }
    return {};
  }

  value server_hello() const override {
    for (const auto& c : connections_) {
      if (c->state() == connection_state::connected) return c->server_hello();
    }
    return connections_.front()->server_hello();
  }

  asio::any_io_executor get_executor() const noexcept override {
    return connections_.front()->get_executor();
  }

 private:
  std::size_t pick(const request& req) {
    for (const auto& info : req.commands_info()) {
      if (info.kind != request::reply_kind::normal) return 0;
    }
    std::optional<std::size_t> own;
    for (std::size_t i = 0; i < threads_.size() && !own; ++i) {
      if (threads_[i] && threads_[i]->running_in_this_thread()) own = i;
    }
    if (own && connections_[*own]->state() == connection_state::connected) return *own;
    // A foreign thread, or this thread's connection is down (reconnecting
    // after a failover, say): the next connection that is up, so the pool
    // serves whenever any connection does; else the thread's own, which
    // waits or fails fast as the request asks.
    const auto n = connections_.size();
    const auto start = next_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t k = 0; k < n; ++k) {
      const auto i = (start + k) % n;
      if (connections_[i]->state() == connection_state::connected) return i;
    }
    return own.value_or(start % n);
  }

  void on_state(std::size_t i, connection_state s, error_code ec) {
    std::lock_guard lock(mutex_);
    states_[i] = s;
    // state_ changes only here, under the mutex.
    const auto now = state_.load(std::memory_order_relaxed);
    const auto next = combined_state(now, states_);
    if (next == now) return;
    state_.store(next, std::memory_order_release);
    if (!handlers_off_.load(std::memory_order_acquire)) report(state_handler_, next, ec);
  }

  const std::vector<std::shared_ptr<client_base>> connections_;
  // Per connection: its io_context's executor when it has one, to recognise
  // the calling thread.
  std::vector<std::optional<asio::io_context::executor_type>> threads_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> started_{false};
  std::mutex mutex_;  // guards what follows and every change of state_
  std::vector<connection_state> states_;
  std::function<void(connection_state, error_code)> state_handler_;
};

}  // namespace

std::shared_ptr<client_base> make_pool_client(
    std::vector<std::shared_ptr<client_base>> connections) {
  auto pool = std::make_shared<pool_impl>(std::move(connections));
  pool->wire();
  return pool;
}

}  // namespace rcache::detail
