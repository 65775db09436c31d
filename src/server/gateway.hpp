// The gateway: executes validated API calls (http_api.hpp) against the
// cache and turns results and errors into HTTP answers. It knows nothing of
// sockets; the HTTP server (http_server.cpp) feeds it and writes what it
// answers.
//
// answer_now() answers what needs no Redis round trip — health, metrics,
// near-cache hits, namespace-limit errors — on the caller's thread, so a near-cache
// hit never leaves the connection's thread. execute() does the rest and
// completes on the handler's associated executor.
//
// Error mapping: invalid key / namespace / argument -> 400, value too large
// or too many session fields -> 413, a session cap refusal -> 409, a
// version mismatch -> 412, Redis unreachable (or no replica in time) (not connected, timeout, queue
// full, connection lost) -> 503 with Retry-After, a Redis error reply or an unreadable stored value
// -> 500.
//
// Threading: thread-safe; one gateway serves every I/O thread.
#pragma once

#include <rcache/cache.hpp>
#include <rcache/geo.hpp>
#include <rcache/session.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_set>

#include "metrics/registry.hpp"
#include "server/http_api.hpp"

namespace rcache::cache_detail {
struct state;
}  // namespace rcache::cache_detail
namespace rcache::feed {
class hub;
}  // namespace rcache::feed

namespace rcache::server {

/// What a failed cache operation means for an API caller: status, code and
/// message (503 redis_unavailable for anything that kept Redis from
/// answering).
[[nodiscard]] api_error api_error_of(boost::system::error_code ec);

/// The answer for a failed cache operation (and, in http_api.hpp, the JSON
/// error answer for an api_error); 503 with Retry-After.
[[nodiscard]] api_response error_response(boost::system::error_code ec);

struct gateway_options {
  std::size_t max_namespaces = 1000;
  bool monitoring = true;
  /// The largest batch answer (its JSON), in bytes: past it, 413.
  std::size_t max_response_bytes = 64u * 1024 * 1024;
  /// /readyz: how long the PING to Redis may take.
  std::chrono::milliseconds ready_timeout{1000};
  /// The change feed's hub (GET /v1/feed); null: no feed.
  feed::hub* feed = nullptr;
};

/// Where the answer to one call goes. Its owner (the HTTP session) keeps
/// it, and the call it was given with, alive until answer() has run.
class answer_slot {
 public:
  /// The answer, exactly once, from any thread, never inside the execute()
  /// that was given this slot.
  virtual void answer(api_response r) = 0;
  /// The call being answered (set by execute()).
  const api_call* call = nullptr;

 protected:
  answer_slot() = default;
  answer_slot(const answer_slot&) = default;
  answer_slot& operator=(const answer_slot&) = default;
  ~answer_slot() = default;
};

class gateway {
 public:
  /// `c` and `sessions` must outlive the gateway; `fallback` runs
  /// completions of handlers without an executor of their own. Without a
  /// session store the session routes answer 404.
  gateway(cache& c, session_store* sessions, boost::asio::any_io_executor fallback,
          gateway_options o);

  /// The answer when it needs no Redis round trip; nullopt: call execute().
  [[nodiscard]] std::optional<api_response> answer_now(const api_call& call);

  /// Runs `call` against the cache; the answer goes to `slot`. What the
  /// call holds may be moved out of it (it must live until the answer).
  void execute(api_call& call, answer_slot& slot);

  /// The change feed's hub; null when the feed is off.
  [[nodiscard]] feed::hub* feed() const noexcept { return options_.feed; }

  /// The HTTP server's own metrics (requests, latencies, connections).
  [[nodiscard]] metrics::registry& http_metrics() noexcept { return registry_; }

 private:
  // Admits a namespace: the first max_namespaces distinct names are served.
  bool admit(const std::string& ns);
  bool admit_shared(const std::string& ns);

  cache& cache_;
  session_store* sessions_;
  std::shared_ptr<cache_detail::state> cache_state_;  // cache_'s, for the direct read
  geo_index geo_;
  boost::asio::any_io_executor fallback_;
  gateway_options options_;
  metrics::registry registry_;
  std::shared_mutex ns_mutex_;
  std::unordered_set<std::string> namespaces_;
};

}  // namespace rcache::server
