// The WebSocket side of `rcache serve`: where an HTTP session hands over a
// request that asks to become a WebSocket (request_parser::
// upgrade_to_websocket(), RFC 6455 §4.2.1).
//
// GET /v1/feed is the change feed (docs/feed.md): the session accepts the
// upgrade (Beast), reads the client's subscribe / unsubscribe messages
// (feed_protocol.hpp) and hands them to the feed's hub, which calls the
// session back (feed::sink) with acknowledgements and changes; those wait
// in the connection's outbox (bounded; the subscription's policy applies
// past its bounds) until the socket takes them. An upgrade to any other
// path is answered 404, and the connection goes on as HTTP/1.1.
//
// Limits: feed.max_connections (429), the Origin allow-list (403), the
// largest client message (close 1009), the outbox's bounds, a write
// deadline (server.write_timeout_ms: a connection whose socket takes
// nothing for that long is closed), and Beast's keep-alive: a connection
// silent for half of feed.idle_timeout_ms is pinged, and closed when the
// rest of it passes in silence too. Close codes: 1000 (the client's own
// close), 1009 (message too big), 4008 (a slow consumer whose
// subscription's policy is `close`, or whose outbox cannot take an
// acknowledgement). When the server shuts down, feed connections count as
// idle: their sockets are closed at once, without a close frame, and their
// clients reconnect (elsewhere) and resume.
//
// Threading: a session runs on its connection's I/O thread; the hub's
// calls are posted there.
#pragma once

#include <memory>
#include <string_view>

#include "server/http_api.hpp"
#include "server/http_request.hpp"
#include "server/shared_state.hpp"

namespace rcache::server {

/// The metric and access-log label of upgrade requests.
inline constexpr std::string_view websocket_route = "websocket";
/// The feed endpoint's path.
inline constexpr std::string_view feed_path = "/v1/feed";

/// The answer to an upgrade request that no endpoint takes.
[[nodiscard]] inline api_error no_websocket_endpoint() {
  return {404, "not_found", "no WebSocket endpoint at this path", {}, websocket_route};
}

/// Why an upgrade to the feed cannot be accepted (no feed, a refused
/// Origin, too many feed connections), or nullopt.
[[nodiscard]] std::optional<api_error> refuse_feed_upgrade(const shared_state& st,
                                                           const request_parser& parser);

/// Serves a feed connection whose upgrade request `parser` holds (read
/// whole; refuse_feed_upgrade() said nothing against it) until it closes.
session_task<> run_feed_session(std::shared_ptr<shared_state> st, std::shared_ptr<connection> conn,
                                const request_parser& parser);

}  // namespace rcache::server
