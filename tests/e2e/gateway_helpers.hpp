// Helpers shared by the end-to-end tests of `rcache serve`: bounded polling,
// gateway options over a fixture Redis, and reading JSON answers and
// metrics.
#pragma once

#include <boost/json/parse.hpp>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gateway_process.hpp"
#include "http_client.hpp"
#include "redis_server.hpp"

namespace rcache::test {

namespace json = boost::json;
using namespace std::chrono_literals;

// Polls `pred` every 10 ms for up to `limit`.
template <class Pred>
inline bool eventually(Pred pred, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

inline gateway_options external(const redis_server& server, std::vector<std::string> args = {}) {
  gateway_options o;
  o.args = {"--redis-url", server.url(), "--threads", "2"};
  o.args.insert(o.args.end(), args.begin(), args.end());
  return o;
}

inline http_response must(std::optional<http_response> r) {
  if (!r) throw std::runtime_error("no HTTP response");
  return std::move(*r);
}

inline json::value body_json(const http_response& r) {
  return json::parse(r.body);
}

inline std::string error_code_of(const http_response& r) {
  return std::string(body_json(r).at("error").at("code").as_string());
}

// The value of one series in the /metrics text, or -1 when absent.
inline double metric(std::uint16_t port, const std::string& series) {
  auto r = http_request(port, "GET", "/metrics");
  if (!r || r->status != 200) return -1;
  const auto at = r->body.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(r->body.substr(at + series.size() + 2));
}

}  // namespace rcache::test
