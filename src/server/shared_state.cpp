// What the connections of `rcache serve` share; see shared_state.hpp.
#include "server/shared_state.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unordered_map>
#include <utility>

namespace rcache::server {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

}  // namespace

void connection::close() noexcept {
  error_code ignored;
  socket.close(ignored);
}

void connection::shutdown_and_close() noexcept {
  error_code ignored;
  socket.shutdown(socket_t::shutdown_send, ignored);
  close();
}

shared_state::shared_state(std::vector<asio::io_context*> ctxs, gateway& g, const gateway_config& c)
    : contexts(std::move(ctxs)),
      gw(g),
      cfg(c),
      limits{.max_key_bytes = c.cache.max_key_size,
             .max_batch_keys = c.max_batch_keys,
             .sessions = {.max_user_length = c.sessions.max_user_length,
                          .max_fields = c.sessions.max_fields,
                          .max_field_name = c.sessions.max_field_name,
                          .max_field_value = c.sessions.max_field_value,
                          .max_device_field = c.sessions.max_device_field},
             .trusted = &c.trusted},
      read_limits{.max_head_bytes = c.max_header_bytes, .max_body_bytes = c.max_body_bytes},
      live_(contexts.size()) {
  auto& reg = gw.http_metrics();
  open_gauge_ = reg.gauge("rcache_http_connections", "Open HTTP connections").value();
  in_flight_ =
      reg.gauge("rcache_http_requests_in_flight", "Requests read and not yet answered").value();
  accepted_ = reg.counter("rcache_http_connections_total", "HTTP connections by outcome",
                          {{"result", "accepted"}})
                  .value();
  rejected_ = reg.counter("rcache_http_connections_total", "HTTP connections by outcome",
                          {{"result", "rejected"}})
                  .value();
}

// ---- connections -------------------------------------------------------------------

bool shared_state::admit() noexcept {
  if (open_.load(std::memory_order_acquire) >= cfg.max_connections) {
    rejected_->inc();
    return false;
  }
  open_.fetch_add(1, std::memory_order_acq_rel);
  open_gauge_->add(1);
  accepted_->inc();
  return true;
}

void shared_state::add(const std::shared_ptr<connection>& conn, std::size_t thread) {
  auto& list = live_[thread];
  conn->self = list.insert(list.end(), conn);
  if (draining()) conn->close();
}

void shared_state::remove(connection& conn, std::size_t thread) noexcept {
  live_[thread].erase(conn.self);
  open_gauge_->add(-1);
  open_.fetch_sub(1, std::memory_order_acq_rel);
}

// ---- deadlines ---------------------------------------------------------------------

void shared_state::start_sweeps() {
  for (std::size_t i = 0; i < contexts.size(); ++i) {
    sweep_timers_.push_back(std::make_unique<asio::steady_timer>(*contexts[i]));
    asio::co_spawn(*contexts[i], sweep(i), asio::detached);
  }
}

void shared_state::stop_sweeps() {
  stopped_.store(true, std::memory_order_release);
  auto self = shared_from_this();
  for (auto& t : sweep_timers_) {
    asio::post(t->get_executor(), [self, timer = t.get()] { timer->cancel(); });
  }
}

asio::awaitable<void> shared_state::sweep(std::size_t thread) {
  auto self = shared_from_this();
  auto& timer = *sweep_timers_[thread];
  // A deadline is met within a quarter of the shortest one (5 to 250 ms).
  const auto shortest = std::min({cfg.read_timeout, cfg.idle_timeout, cfg.write_timeout});
  const auto tick = std::clamp<std::chrono::milliseconds>(
      shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
  while (!stopped_.load(std::memory_order_acquire)) {
    timer.expires_after(tick);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    const auto now = connection::clock::now();
    for (auto& c : live_[thread]) {
      if (c->deadline <= now) {
        c->no_deadline();
        c->close();
      }
    }
  }
}

// ---- request metrics ---------------------------------------------------------------

void shared_state::record(std::string_view route, unsigned status,
                          std::chrono::steady_clock::duration took) {
  struct key_hash {
    std::size_t operator()(const std::pair<const char*, unsigned>& k) const noexcept {
      return std::hash<const void*>()(k.first) ^ (k.second * 0x9E3779B97F4A7C15ull);
    }
  };
  thread_local std::unordered_map<std::pair<const char*, unsigned>, metrics::counter*, key_hash>
      counters;
  thread_local std::unordered_map<const char*, metrics::histogram*> latencies;
  thread_local const shared_state* owner = nullptr;
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

}  // namespace rcache::server
