// The WebSocket seam of `rcache serve`: where an HTTP session hands over a
// request that asks to become a WebSocket (request_parser::
// upgrade_to_websocket(), RFC 6455 §4.2.1).
//
// No path of this build accepts an upgrade: such a request is answered
// 404 `not_found`, "no WebSocket endpoint at this path", counted under the
// route label "websocket", and the connection goes on as HTTP/1.1 (the
// request was read whole, so the stream is intact). A WebSocket endpoint
// joins here: it takes the connection and its read buffer instead of this
// answer, and the HTTP session ends.
//
// Threading: pure functions.
#pragma once

#include <string_view>

#include "server/http_api.hpp"

namespace rcache::server {

/// The metric and access-log label of upgrade requests.
inline constexpr std::string_view websocket_route = "websocket";

/// The answer to an upgrade request that no endpoint takes.
[[nodiscard]] inline api_error no_websocket_endpoint() {
  return {404, "not_found", "no WebSocket endpoint at this path", {}, websocket_route};
}

}  // namespace rcache::server
