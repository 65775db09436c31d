// The session routes of the gateway: executes a validated session call
// (session_api.hpp) against the session store and renders the answers.
//
//   POST   /v1/sessions                 201 {session}
//   GET    /v1/sessions/{id}            200 {session} (validated and touched); 404
//   PATCH  /v1/sessions/{id}            200 {"version": n}; 404, 412, 413
//   POST   /v1/sessions/{id}/rotate     200 {session} under its new id; 404
//   DELETE /v1/sessions/{id}            200 {"destroyed": true}; 404
//   GET    /v1/users/{user}/sessions    200 {"user": .., "sessions": [..]}
//   DELETE /v1/users/{user}/sessions    200 {"destroyed": n}
// A session renders as {"id", "user", "device": {"id", "user_agent", "ip"},
// "created_ms", "last_seen_ms", "expires_ms", "absolute_expiry_ms" (ms since
// the epoch), "version", "data": {...}}; data values that are not UTF-8
// (written through the library) go to "data_base64".
//
// Threading: thread-safe; answers arrive on the client's strand and go to
// the slot.
#pragma once

#include <rcache/session.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <string>

#include "server/http_api.hpp"

namespace rcache::server {

class answer_slot;

/// Runs `call` (a session route's) against `store`; the answer goes to
/// `slot`. `fallback` completes answers known before any round trip.
void execute_session_call(session_store& store, api_call& call, answer_slot& slot,
                          const boost::asio::any_io_executor& fallback);

/// A session as JSON (see above); `with_data` false leaves "data" out.
[[nodiscard]] std::string session_json(const session& s, bool with_data);

}  // namespace rcache::server
