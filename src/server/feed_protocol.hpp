// The change feed's WebSocket protocol (GET /v1/feed), sans I/O: what a
// client sends (parsed and checked here, fuzzed by
// fuzz/feed_message_fuzz.cpp) and the JSON text of what the server sends.
// docs/feed.md is the reference.
//
// Client messages (one JSON object per text message):
//   {"op":"subscribe","id":"a","ns":"users","key":"42"}        an exact key
//   {"op":"subscribe","id":"b","ns":"users","prefix":"u:"}     keys by prefix
//   {"op":"subscribe","id":"c","ns":"users"}                   a namespace
//   {"op":"subscribe","id":"d","channel":"news"}               a pub/sub channel
//     optional: "values": true   small values come with their change
//               "policy": "coalesce" | "drop_oldest" | "close"
//               "since": [{"epoch":"...","offset":"3:1700000000000-0"}, ...]
//   {"op":"unsubscribe","id":"a"}
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "feed/change.hpp"
#include "feed/outbox.hpp"
#include "feed/subscription.hpp"

namespace rcache::server {

using feed::position;
using feed::slow_policy;
using feed::target_kind;

/// A subscribe message is the hub's subscription_spec.
using subscribe_request = feed::subscription_spec;

struct unsubscribe_request {
  std::string id;
};

/// Why a client message was refused: a code, a reason, and the
/// subscription id when it could be read.
struct message_error {
  std::string code;
  std::string reason;
  std::string id;
};

using client_message = std::variant<subscribe_request, unsubscribe_request, message_error>;

struct message_limits {
  std::size_t max_key_bytes = 16 * 1024;
  std::size_t max_since = 1024;  // positions in "since"
};

/// Parses one client message (a WebSocket text message's payload).
[[nodiscard]] client_message parse_client_message(std::string_view text,
                                                  const message_limits& limits);

// ---- what the server sends ---------------------------------------------------

/// {"type":"subscribed","id":...,"positions":[{"epoch","offset"}...]}; a
/// resumed subscription also says that direct writes made meanwhile are
/// not replayed ("resumed": true, "direct_writes_missed": "not replayed").
[[nodiscard]] std::string subscribed_json(std::string_view id,
                                          const std::vector<position>& positions,
                                          bool resumed = false);
/// {"type":"refused","id":...,"code":...,"reason":...}
[[nodiscard]] std::string refused_json(const message_error& e);
/// {"type":"unsubscribed","id":...}
[[nodiscard]] std::string unsubscribed_json(std::string_view id);
/// {"type":"reset","id":...,"reason":...}: the position could not be
/// resumed; the subscription goes on from now.
[[nodiscard]] std::string reset_json(std::string_view id, std::string_view reason);
/// {"type":"gap","dropped":n}: n messages were dropped before the next.
[[nodiscard]] std::string gap_json(std::uint64_t dropped);
/// {"type":"notice","state":"redis_unavailable"|"redis_available",...}
[[nodiscard]] std::string notice_json(std::string_view state, std::string_view detail);
/// {"type":"message","channel":...,"payload":...} (pub/sub; no position).
[[nodiscard]] std::string channel_message_json(std::string_view channel, std::string_view payload);
/// {"type":"change","ns","key","op","ttl_ms","size","epoch","offset"} and,
/// with `with_value` and a logged value, the value as the gateway's GET
/// gives it: "value" (UTF-8 text) or "value_base64", and "content_type". A
/// direct change: {"type":"change","ns","key","op","ttl_ms":-1,"direct":true}.
[[nodiscard]] std::string change_json(const feed::change& c, std::string_view epoch,
                                      bool with_value);

}  // namespace rcache::server
