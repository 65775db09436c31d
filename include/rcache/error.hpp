// rcache error codes.
//
// Transport, protocol and client-side failures are reported as
// boost::system::error_code values of the rcache::error enum (category
// "rcache"). In client::async_exec a Redis error reply (WRONGTYPE,
// NOSCRIPT, ...) is never an error_code: it is a value of type simple_error /
// bulk_error in that command's reply, so one bad command never fails the
// rest of a pipeline. Typed commands (reply.hpp) and cache operations turn
// an error reply into wrong_type or redis_error, keeping Redis's text where
// they can (command_error::message, wrong_type's message).
//
// Thread safety: everything here is immutable after static initialisation.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <string_view>
#include <type_traits>

namespace rcache {

enum class error {
  // ---- RESP protocol (the parser) ----
  resp_invalid_type = 1,     // a type byte that is not part of RESP2/RESP3
  resp_invalid_integer,      // a length or integer that does not parse
  resp_invalid_double,       // a RESP3 double that does not parse
  resp_invalid_boolean,      // a RESP3 boolean other than #t / #f
  resp_invalid_framing,      // a missing CRLF, a bad verbatim header, ...
  resp_bulk_too_long,        // a bulk length above limits::max_bulk_length
  resp_depth_exceeded,       // aggregates nested deeper than limits::max_depth
  resp_aggregate_too_large,  // an aggregate with more than limits::max_aggregate_size elements
  resp_line_too_long,        // a simple line longer than limits::max_line_length

  // ---- connection and client ----
  not_connected,      // no connection and the request chose not to wait
  connection_lost,    // the connection dropped before the reply arrived
  connect_timeout,    // connecting (TCP, TLS, handshake) took longer than allowed
  timeout,            // the command's deadline passed before its reply
  queue_full,         // backpressure: the send queue is at its limit
  handshake_failed,   // HELLO / SELECT / CLIENT SETNAME was refused
  auth_failed,        // AUTH refused (WRONGPASS, NOAUTH, NOPERM)
  resp3_unsupported,  // the server does not speak RESP3 (Redis < 6)
  client_stopped,     // the client was stopped or destroyed
  unexpected_reply,   // a reply that does not fit any waiting command
  empty_request,      // a request with no commands
  invalid_url,        // a redis:// URL that does not parse
  invalid_argument,   // a configuration value that makes no sense

  // ---- cache values and keys ----
  value_corrupt,       // a stored value whose rcache header is truncated or malformed
  value_key_unknown,   // an encrypted value whose key id is not in the key ring
  value_tampered,      // AES-GCM authentication failed: modified, truncated or foreign
  value_too_large,     // a value above the configured size limit
  invalid_key,         // an empty key, or one above the configured key size limit
  compression_failed,  // zstd refused to compress or decompress
  redis_error,         // Redis answered with an error reply (OOM, NOPERM, READONLY, ...)

  // ---- topologies ----
  sentinel_unreachable,     // no sentinel of the list answered
  sentinel_unknown_master,  // the sentinels that answered do not know the master name
  not_master,               // ROLE says the server is not a master (a stale address)

  // ---- pub/sub, loaders, typed replies ----
  subscriber_closed,     // the subscriber was closed (or its client destroyed)
  receive_in_progress,   // a subscriber's async_receive while another one waits
  load_timeout,          // a get_or_load's loader did not finish within the load deadline
  loader_failed,         // a get_or_load's loader threw
  wrong_type,            // WRONGTYPE: the key holds another Redis type (a list, a hash, ...)
  reply_type_mismatch,   // a typed reply (reply<T>): the reply is not a T
  transaction_conflict,  // an optimistic transaction found its watched keys changed at every
                         // attempt

  // ---- sessions ----
  session_cap_reached,  // the user has max_per_user sessions and the store refuses new ones
  version_conflict,     // a session update's expected version is not the session's version
  not_replicated,       // no replica acknowledged a session write in time (durability = replica)
  too_many_fields,      // a session would hold more data fields than the store allows
};

/// The category of rcache::error; name() is "rcache".
[[nodiscard]] const boost::system::error_category& error_category() noexcept;

/// The enumerator's name ("timeout", "connection_lost", ...), for metric
/// labels and logs; "unknown" for a value outside the enum.
[[nodiscard]] std::string_view to_string(error e) noexcept;

/// Makes an error_code in rcache's category.
[[nodiscard]] inline boost::system::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// The result of an API call: a value or an error_code.
template <class T>
using result = boost::system::result<T, boost::system::error_code>;

}  // namespace rcache

template <>
struct boost::system::is_error_code_enum<rcache::error> : std::true_type {};
