// What the cache's integration tests share: options for a cache over a
// fixture server (short backoffs, a bounded command timeout) or cluster, and a metric
// read back from the cache's Prometheus text.
#pragma once

#include <rcache/cache.hpp>

#include <chrono>
#include <string>

#include "redis_cluster.hpp"
#include "redis_server.hpp"

namespace rcache::test {

inline cache_options options_for(const redis_server& server) {
  using namespace std::chrono_literals;
  cache_options o;
  o.redis.server.port = server.port();
  o.redis.command_timeout = 5s;
  o.redis.reconnect_backoff_initial = 10ms;
  o.redis.reconnect_backoff_max = 100ms;
  return o;
}

/// Options for a cache over every node of a fixture cluster.
inline cache_options options_for(const redis_cluster& cl) {
  using namespace std::chrono_literals;
  cache_options o;
  for (std::size_t i = 0; i < cl.size(); ++i) {
    o.redis.cluster_nodes.push_back(endpoint{.host = cl.host(), .port = cl.port(i)});
  }
  o.redis.command_timeout = 5s;
  return o;
}

/// The value of one metric series in the cache's Prometheus text, or -1
/// when absent.
inline double metric(const cache& c, const std::string& series) {
  const auto text = c.metrics_text();
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace rcache::test
