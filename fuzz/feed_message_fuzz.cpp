// libFuzzer target: the change feed's client messages (src/server/feed_protocol.cpp).
//
// The input is one WebSocket text message's payload, handed to
// parse_client_message() as the feed's session would. A refusal is rendered
// (refused_json); an unsubscribe names a valid id; a subscribe must hold what
// the parser promises (an id of 1 to 64 bytes, a target of its kind within
// the limits, at most max_since positions) and is answered as the gateway
// would (subscribed_json with its positions, refused_json naming its id).
// Every rendered message must be valid JSON, and the positions a subscribed
// message lists, sent back as "since", must parse to the same positions. Any
// crash, exception, sanitizer report, leak, hang or violated property is a
// bug.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "server/feed_protocol.hpp"
#include "server/http_api.hpp"

namespace {

using namespace rcache::server;

// The JSON text `s`, or a trap when it is not valid JSON.
boost::json::value valid_json(const std::string& s) {
  boost::system::error_code ec;
  auto v = boost::json::parse(s, ec);
  if (ec || !v.is_object()) __builtin_trap();
  return v;
}

void check_subscribe(const subscribe_request& r, const message_limits& limits) {
  if (r.id.empty() || r.id.size() > 64) __builtin_trap();
  switch (r.kind) {
    case target_kind::channel:
      if (!r.ns.empty() || r.key.empty() || r.key.size() > limits.max_key_bytes) __builtin_trap();
      if (r.since) __builtin_trap();
      break;
    case target_kind::key:
    case target_kind::prefix:
      if (!valid_namespace(r.ns) || r.key.empty() || r.key.size() > limits.max_key_bytes) {
        __builtin_trap();
      }
      break;
    case target_kind::ns:
      if (!valid_namespace(r.ns) || !r.key.empty()) __builtin_trap();
      break;
  }
  if (r.since) {
    if (r.since->size() > limits.max_since) __builtin_trap();
    for (const auto& p : *r.since) {
      if (p.epoch.empty() || p.shard > 1023) __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const message_limits limits{.max_key_bytes = 256, .max_since = 16};
  const auto m = parse_client_message(text, limits);

  if (const auto* e = std::get_if<message_error>(&m)) {
    if (e->code.empty() || e->reason.empty()) __builtin_trap();
    (void)valid_json(refused_json(*e));
    return 0;
  }
  if (const auto* u = std::get_if<unsubscribe_request>(&m)) {
    if (u->id.empty() || u->id.size() > 64) __builtin_trap();
    (void)valid_json(unsubscribed_json(u->id));
    return 0;
  }

  const auto& r = std::get<subscribe_request>(m);
  check_subscribe(r, limits);
  const std::vector<position> none;
  const auto& positions = r.since ? *r.since : none;
  const auto subscribed = valid_json(subscribed_json(r.id, positions, r.since.has_value()));
  (void)valid_json(refused_json({"bad_message", "refused after parsing", r.id}));

  // The positions as the server lists them, sent back to resume from.
  const std::string resume = R"({"op":"subscribe","id":"r","ns":"n","since":)" +
                             boost::json::serialize(subscribed.as_object().at("positions")) + "}";
  const auto again = parse_client_message(resume, limits);
  const auto* back = std::get_if<subscribe_request>(&again);
  if (!back || !back->since || back->since->size() != positions.size()) __builtin_trap();
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const auto& a = positions[i];
    const auto& b = (*back->since)[i];
    if (a.shard != b.shard || a.epoch != b.epoch || a.id != b.id) __builtin_trap();
  }
  return 0;
}
