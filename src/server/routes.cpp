// The route table and path matching; see routes.hpp.
#include "server/routes.hpp"

namespace rcache::server {
namespace {

using enum http_method;
using enum api_right;

constexpr std::uint8_t write_params = param_ttl | param_nx | param_xx;

constexpr route table[] = {
    {get, "/v1/ns/{ns}/keys/{key}", api_op::get, read},
    {head, "/v1/ns/{ns}/keys/{key}", api_op::get, read},
    {put, "/v1/ns/{ns}/keys/{key}", api_op::put, write, write_params | param_tags},
    {del, "/v1/ns/{ns}/keys/{key}", api_op::del, write},
    {get, "/v1/ns/{ns}/keys/{key}/ttl", api_op::ttl, read},
    {head, "/v1/ns/{ns}/keys/{key}/ttl", api_op::ttl, read},
    {get, "/v1/ns/{ns}/keys/{key}/exists", api_op::exists, read},
    {head, "/v1/ns/{ns}/keys/{key}/exists", api_op::exists, read},
    {post, "/v1/ns/{ns}/keys/{key}/touch", api_op::touch, write, param_ttl},
    {post, "/v1/ns/{ns}/batch/get", api_op::batch_get, read},
    {post, "/v1/ns/{ns}/batch/set", api_op::batch_set, write},
    {post, "/v1/ns/{ns}/invalidate", api_op::invalidate_pattern, write},
    {get, "/healthz", api_op::healthz, none},
    {head, "/healthz", api_op::healthz, none},
    {get, "/readyz", api_op::readyz, none},
    {head, "/readyz", api_op::readyz, none},
    {get, "/metrics", api_op::metrics, monitor},
    {head, "/metrics", api_op::metrics, monitor},
    {post, "/v1/sessions", api_op::session_create, sessions},
    {get, "/v1/sessions/{id}", api_op::session_get, sessions},
    {head, "/v1/sessions/{id}", api_op::session_get, sessions},
    {patch, "/v1/sessions/{id}", api_op::session_update, sessions},
    {del, "/v1/sessions/{id}", api_op::session_destroy, sessions},
    {post, "/v1/sessions/{id}/rotate", api_op::session_rotate, sessions},
    {get, "/v1/users/{user}/sessions", api_op::user_sessions, sessions},
    {head, "/v1/users/{user}/sessions", api_op::user_sessions, sessions},
    {del, "/v1/users/{user}/sessions", api_op::user_sessions_destroy, sessions, param_except},
    {get, "/v1/geo/{set}/points/{id}", api_op::geo_get, read},
    {put, "/v1/geo/{set}/points/{id}", api_op::geo_put, write},
    {del, "/v1/geo/{set}/points/{id}", api_op::geo_delete, write},
    {get, "/v1/geo/{set}/search", api_op::geo_search, read, param_geo},
};

// Whether `segments` fit `pattern`; the captures go to `m`.
bool fits(std::string_view pattern, std::span<const std::string_view> segments, route_match& m) {
  std::size_t i = 0;
  pattern.remove_prefix(1);  // the leading '/'
  for (;;) {
    const auto slash = pattern.find('/');
    const auto part = pattern.substr(0, slash);
    if (i == segments.size()) return false;
    const auto& seg = segments[i++];
    if (part == "{ns}") {
      m.ns = seg;
    } else if (part == "{key}") {
      m.key = seg;
    } else if (part == "{id}") {
      m.id = seg;
    } else if (part == "{user}") {
      m.user = seg;
    } else if (part == "{set}") {
      m.set = seg;
    } else if (part != seg) {
      return false;
    }
    if (slash == std::string_view::npos) break;
    pattern.remove_prefix(slash + 1);
  }
  return i == segments.size();
}

}  // namespace

std::span<const route> route_table() noexcept {
  return table;
}

http_method method_from(std::string_view name) noexcept {
  if (name == "GET") return get;
  if (name == "HEAD") return head;
  if (name == "PUT") return put;
  if (name == "POST") return post;
  if (name == "PATCH") return patch;
  if (name == "DELETE") return del;
  return other;
}

std::string_view method_name(http_method m) noexcept {
  switch (m) {
    case get:
      return "GET";
    case head:
      return "HEAD";
    case put:
      return "PUT";
    case post:
      return "POST";
    case patch:
      return "PATCH";
    case del:
      return "DELETE";
    case other:
      break;
  }
  return "OTHER";
}

route_match match_route(http_method method, std::span<const std::string_view> segments) {
  route_match m;
  if (segments.size() > max_route_segments) return m;
  for (const auto& r : table) {
    if (m.pattern.empty()) {
      if (!fits(r.pattern, segments, m)) {
        m.ns = m.key = m.id = m.user = m.set = {};  // a partial match captures nothing
        continue;
      }
      m.pattern = r.pattern;
    } else if (r.pattern != m.pattern) {
      break;  // the rows of a pattern are adjacent
    }
    if (r.method == method) return m.found = &r, m;
  }
  for (const auto& r : table) {
    if (!m.pattern.empty() && r.pattern == m.pattern) {
      m.allow += (m.allow.empty() ? "" : ", ") + std::string(method_name(r.method));
    }
  }
  return m;
}

}  // namespace rcache::server
