// The "rcache" error category: messages for every rcache::error value.
#include <rcache/error.hpp>

#include <string>

namespace rcache {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "rcache"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::resp_invalid_type:
        return "RESP: invalid type byte";
      case error::resp_invalid_integer:
        return "RESP: invalid integer or length";
      case error::resp_invalid_double:
        return "RESP: invalid double";
      case error::resp_invalid_boolean:
        return "RESP: invalid boolean";
      case error::resp_invalid_framing:
        return "RESP: invalid framing (missing CRLF or bad header)";
      case error::resp_bulk_too_long:
        return "RESP: bulk string longer than the configured limit";
      case error::resp_depth_exceeded:
        return "RESP: aggregates nested deeper than the configured limit";
      case error::resp_aggregate_too_large:
        return "RESP: aggregate larger than the configured limit";
      case error::resp_line_too_long:
        return "RESP: line longer than the configured limit";
      case error::not_connected:
        return "not connected to Redis";
      case error::connection_lost:
        return "connection to Redis lost before the reply arrived";
      case error::connect_timeout:
        return "timed out connecting to Redis";
      case error::timeout:
        return "command timed out";
      case error::queue_full:
        return "send queue full (backpressure)";
      case error::handshake_failed:
        return "Redis refused the connection handshake";
      case error::auth_failed:
        return "Redis authentication failed";
      case error::resp3_unsupported:
        return "Redis does not support RESP3 (HELLO 3); Redis >= 6 is required";
      case error::client_stopped:
        return "client stopped";
      case error::unexpected_reply:
        return "reply that matches no waiting command";
      case error::empty_request:
        return "request has no commands";
      case error::invalid_url:
        return "invalid Redis URL (describe_url_error says what is wrong)";
      case error::value_corrupt:
        return "stored value is corrupt (bad or truncated rcache header)";
      case error::value_key_unknown:
        return "stored value is encrypted with a key id that is not in the key ring";
      case error::value_tampered:
        return "stored value failed authentication (modified, truncated or foreign)";
      case error::value_too_large:
        return "value larger than the configured limit";
      case error::invalid_key:
        return "invalid key (empty or longer than the configured limit)";
      case error::compression_failed:
        return "zstd compression or decompression failed";
      case error::redis_error:
        return "Redis answered with an error reply (e.g. WRONGTYPE or OOM)";
      case error::sentinel_unreachable:
        return "no sentinel could be reached";
      case error::sentinel_unknown_master:
        return "the sentinels do not know this master name";
      case error::not_master:
        return "the server is not a master (ROLE)";
      case error::subscriber_closed:
        return "the subscriber is closed";
      case error::receive_in_progress:
        return "another receive is already waiting on this subscriber";
      case error::load_timeout:
        return "the loader did not finish within the load deadline";
      case error::loader_failed:
        return "the loader failed";
      case error::transaction_conflict:
        return "another client changed a watched key at every attempt of the transaction";
      case error::reply_type_mismatch:
        return "the reply is not of the type asked for";
      case error::wrong_type:
        return "WRONGTYPE Operation against a key holding the wrong kind of value (the key is "
               "not a string: a list, hash, set, ... written by something else)";
      case error::session_cap_reached:
        return "the user already has the maximum number of sessions (the store refuses new ones)";
      case error::version_conflict:
        return "the session changed since the version the update expected";
      case error::not_replicated:
        return "no replica acknowledged the session write within the replica timeout";
      case error::too_many_fields:
        return "the session would hold more data fields than the store allows";
      case error::invalid_argument:
        return "invalid argument";
    }
    return "unknown rcache error " + std::to_string(ev);
  }
};

}  // namespace

std::string_view to_string(error e) noexcept {
  switch (e) {
    case error::resp_invalid_type:
      return "resp_invalid_type";
    case error::resp_invalid_integer:
      return "resp_invalid_integer";
    case error::resp_invalid_double:
      return "resp_invalid_double";
    case error::resp_invalid_boolean:
      return "resp_invalid_boolean";
    case error::resp_invalid_framing:
      return "resp_invalid_framing";
    case error::resp_bulk_too_long:
      return "resp_bulk_too_long";
    case error::resp_depth_exceeded:
      return "resp_depth_exceeded";
    case error::resp_aggregate_too_large:
      return "resp_aggregate_too_large";
    case error::resp_line_too_long:
      return "resp_line_too_long";
    case error::not_connected:
      return "not_connected";
    case error::connection_lost:
      return "connection_lost";
    case error::connect_timeout:
      return "connect_timeout";
    case error::timeout:
      return "timeout";
    case error::queue_full:
      return "queue_full";
    case error::handshake_failed:
      return "handshake_failed";
    case error::auth_failed:
      return "auth_failed";
    case error::resp3_unsupported:
      return "resp3_unsupported";
    case error::client_stopped:
      return "client_stopped";
    case error::unexpected_reply:
      return "unexpected_reply";
    case error::empty_request:
      return "empty_request";
    case error::invalid_url:
      return "invalid_url";
    case error::invalid_argument:
      return "invalid_argument";
    case error::value_corrupt:
      return "value_corrupt";
    case error::value_key_unknown:
      return "value_key_unknown";
    case error::value_tampered:
      return "value_tampered";
    case error::value_too_large:
      return "value_too_large";
    case error::invalid_key:
      return "invalid_key";
    case error::compression_failed:
      return "compression_failed";
    case error::redis_error:
      return "redis_error";
    case error::sentinel_unreachable:
      return "sentinel_unreachable";
    case error::sentinel_unknown_master:
      return "sentinel_unknown_master";
    case error::not_master:
      return "not_master";
    case error::subscriber_closed:
      return "subscriber_closed";
    case error::receive_in_progress:
      return "receive_in_progress";
    case error::load_timeout:
      return "load_timeout";
    case error::loader_failed:
      return "loader_failed";
    case error::wrong_type:
      return "wrong_type";
    case error::reply_type_mismatch:
      return "reply_type_mismatch";
    case error::transaction_conflict:
      return "transaction_conflict";
    case error::session_cap_reached:
      return "session_cap_reached";
    case error::version_conflict:
      return "version_conflict";
    case error::not_replicated:
      return "not_replicated";
    case error::too_many_fields:
      return "too_many_fields";
  }
  return "unknown";
}

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace rcache
