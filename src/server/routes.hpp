// The route table of the gateway's HTTP API: one row per method and path
// pattern, naming the operation, the metric label (the pattern itself), the
// right a caller needs and the query parameters the route takes. Dispatch
// (parse_call in http_api.cpp) works from it, the 405 Allow header is read
// from it, and a unit test holds docs/api.md and docs/openapi.yaml to it.
//
// A pattern is literal segments and captures: "{ns}" (the namespace),
// "{key}" (the key, one segment), "{id}" (a session id) and "{user}" (a
// user id). A path matches the pattern with the same
// number of segments whose literals are equal.
//
// Threading: constant data and pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::server {

enum class http_method : std::uint8_t { get, head, put, post, patch, del, other };

/// The method of a request line ("GET", ...); other for the rest.
[[nodiscard]] http_method method_from(std::string_view name) noexcept;
/// "GET", ... ("OTHER" for other).
[[nodiscard]] std::string_view method_name(http_method m) noexcept;

enum class api_op : std::uint8_t {
  get,
  put,
  del,
  exists,
  ttl,
  touch,
  batch_get,
  batch_set,
  invalidate_keys,
  invalidate_pattern,
  invalidate_tags,
  healthz,
  readyz,
  metrics,
  session_create,
  session_get,  // validate and touch (HEAD: without the body)
  session_update,
  session_rotate,
  session_destroy,
  user_sessions,
  user_sessions_destroy,
  geo_put,
  geo_get,
  geo_delete,
  geo_search,
};

/// What a caller must be allowed to do to use a route. The gateway has no
/// authentication yet: every right is granted. It is in the table so that
/// authorisation plugs in at dispatch without touching the handlers.
enum class api_right : std::uint8_t {
  none,      // probes: /healthz, /readyz
  monitor,   // /metrics
  read,      // reads of a namespace
  write,     // writes, deletes and invalidations of a namespace
  sessions,  // the session routes
};

/// Query parameters a route takes (a bit set).
enum query_param : std::uint8_t {
  param_ttl = 1,
  param_nx = 2,
  param_xx = 4,
  param_except = 8,
  param_tags = 16,
  param_geo = 32,  // lon, lat, radius, width, height, unit, count, any, order
};

struct route {
  http_method method;
  std::string_view pattern;  // "/v1/ns/{ns}/keys/{key}": also the metric label
  api_op op;                 // invalidate: _pattern, _keys or _tags, decided by the body
  api_right right;
  std::uint8_t query = 0;  // query_param bits
};

/// Every route, grouped by pattern, methods in the order Allow lists them.
[[nodiscard]] std::span<const route> route_table() noexcept;

/// No pattern has more segments: a longer path is 404 without more work.
inline constexpr std::size_t max_route_segments = 6;

/// The outcome of matching a path (already split into decoded segments).
struct route_match {
  /// The row, when path and method match; null otherwise.
  const route* found = nullptr;
  /// The pattern the path matched, whatever the method; empty: none (404).
  std::string_view pattern{};
  /// When the path matched and the method did not: the methods it takes
  /// ("GET, HEAD, PUT, DELETE"), for 405 and its Allow header.
  std::string allow{};
  std::string_view ns{};  // the {ns} segment, a view into the segments
  std::string_view key{};
  std::string_view id{};
  std::string_view user{};
  std::string_view set{};  // a geo set
};

/// The row for `method` on `segments`. Pure; the captures point into
/// `segments`, which must outlive the result.
[[nodiscard]] route_match match_route(http_method method,
                                      std::span<const std::string_view> segments);

}  // namespace rcache::server
