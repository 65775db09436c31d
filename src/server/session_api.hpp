// The session routes of the HTTP API without I/O: the parts of a session
// call (api_call::session) and the checks of their JSON bodies, against the
// same limits the session store enforces (sessions.* settings), so that a
// bad request is answered 400 / 413 before it costs a round trip.
//
//   POST  /v1/sessions            {"user": "...", "device": {"id": "...",
//                                  "user_agent": "..."}, "data": {"k": "v"}}
//   PATCH /v1/sessions/{id}       {"set": {"k": "v"}, "remove": ["k"],
//                                  "if_version": 3}
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::server {

struct api_error;

/// What a session call carries, validated.
struct session_call {
  std::string id;      // {id}
  std::string user;    // {user}, or the create body's "user"
  std::string except;  // DELETE /v1/users/{user}/sessions?except={id}
  std::string device_id;
  std::string user_agent;
  std::string ip;                          // the client's address (client_address.hpp)
  std::map<std::string, std::string> set;  // create: the data; update: fields to set
  std::vector<std::string> remove;         // update
  std::optional<std::uint64_t> expected_version;

  void clear();
};

/// The session store's input limits (session_options), as the gateway checks them.
struct session_limits {
  std::size_t max_user_length = 256;
  std::size_t max_fields = 64;
  std::size_t max_field_name = 128;
  std::size_t max_field_value = 64 * 1024;
  std::size_t max_device_field = 512;
};

/// A user id: 1..max_user_length bytes without control characters.
[[nodiscard]] std::optional<api_error> check_user_id(std::string_view user,
                                                     const session_limits& limits);

/// POST /v1/sessions's body into `call`.
[[nodiscard]] std::optional<api_error> parse_session_create(std::string_view body,
                                                            const session_limits& limits,
                                                            session_call& call);

/// PATCH /v1/sessions/{id}'s body into `call`.
[[nodiscard]] std::optional<api_error> parse_session_update(std::string_view body,
                                                            const session_limits& limits,
                                                            session_call& call);

}  // namespace rcache::server
