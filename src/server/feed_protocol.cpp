// The change feed's WebSocket protocol; see feed_protocol.hpp.
#include "server/feed_protocol.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "server/http_api.hpp"
#include "server/strict_json.hpp"
#include "server/utf8.hpp"

namespace rcache::server {
namespace json = boost::json;

namespace {

constexpr std::size_t max_id_bytes = 64;

message_error bad(std::string reason, std::string id = {}) {
  return {"bad_message", std::move(reason), std::move(id)};
}

// The string member `name` of `o`: nullptr when absent; an error when it is
// there and not a string.
const json::string* string_member(const json::object& o, std::string_view name, bool& wrong) {
  auto* v = o.if_contains(name);
  if (!v) return nullptr;
  if (!v->is_string()) {
    wrong = true;
    return nullptr;
  }
  return &v->get_string();
}

std::optional<slow_policy> policy_of(std::string_view s) {
  if (s == "coalesce") return slow_policy::coalesce;
  if (s == "drop_oldest") return slow_policy::drop_oldest;
  if (s == "close") return slow_policy::close;
  return std::nullopt;
}

client_message parse_subscribe(const json::object& o, std::string id,
                               const message_limits& limits) {
  subscribe_request r;
  r.id = std::move(id);
  bool wrong = false;
  const auto* ns = string_member(o, "ns", wrong);
  const auto* key = string_member(o, "key", wrong);
  const auto* prefix = string_member(o, "prefix", wrong);
  const auto* channel = string_member(o, "channel", wrong);
  const auto* policy = string_member(o, "policy", wrong);
  if (wrong) return bad("ns, key, prefix, channel and policy must be strings", r.id);
  if (o.contains("events")) {
    return message_error{"not_logged",
                         "session and alert events are not in the change log of this version; "
                         "geo point changes are changes of namespace geo (key <set>/<id>)",
                         r.id};
  }
  if (channel) {
    if (ns || key || prefix) return bad("a channel subscription names no ns, key or prefix", r.id);
    if (channel->empty() || channel->size() > limits.max_key_bytes) {
      return bad("the channel must be 1 to " + std::to_string(limits.max_key_bytes) + " bytes",
                 r.id);
    }
    r.kind = target_kind::channel;
    r.key = *channel;
  } else {
    if (!ns) return bad("a subscription names an ns (with a key or prefix) or a channel", r.id);
    if (!valid_namespace(*ns)) {
      return bad("ns must be letters, digits and _ - . (1 to 128 bytes)", r.id);
    }
    if (key && prefix) return bad("a subscription names a key or a prefix, not both", r.id);
    const auto* k = key ? key : prefix;
    if (k && k->size() > limits.max_key_bytes) {
      return bad(
          "the key or prefix is longer than " + std::to_string(limits.max_key_bytes) + " bytes",
          r.id);
    }
    if (key && key->empty()) return bad("the key is empty", r.id);
    r.ns = *ns;
    if (key) {
      r.kind = target_kind::key;
      r.key = *key;
    } else if (prefix && !prefix->empty()) {
      r.kind = target_kind::prefix;
      r.key = *prefix;
    } else {
      r.kind = target_kind::ns;
    }
  }
  if (auto* v = o.if_contains("values")) {
    if (!v->is_bool()) return bad("values must be true or false", r.id);
    r.values = v->get_bool();
  }
  if (policy) {
    auto p = policy_of(*policy);
    if (!p) return bad("policy must be coalesce, drop_oldest or close", r.id);
    r.policy = *p;
  }
  if (auto* v = o.if_contains("since")) {
    if (r.kind == target_kind::channel) {
      return bad("channel messages have no positions: since does not apply", r.id);
    }
    if (!v->is_array()) return bad("since must be an array of {epoch, offset}", r.id);
    const auto& a = v->get_array();
    if (a.size() > limits.max_since) {
      return bad("since holds more than " + std::to_string(limits.max_since) + " positions", r.id);
    }
    std::vector<position> since;
    for (const auto& e : a) {
      const auto* p = e.if_object();
      const json::string* epoch = nullptr;
      const json::string* offset = nullptr;
      if (p) {
        epoch = string_member(*p, "epoch", wrong);
        offset = string_member(*p, "offset", wrong);
      }
      std::optional<position> pos;
      if (epoch && offset) pos = position::parse(*epoch, *offset);
      if (!pos)
        return bad("each since entry is {\"epoch\": ..., \"offset\": \"<shard>:<id>\"}", r.id);
      since.push_back(std::move(*pos));
    }
    r.since = std::move(since);
  }
  return r;
}

json::object typed(std::string_view type) {
  json::object o;
  o["type"] = type;
  return o;
}

}  // namespace

client_message parse_client_message(std::string_view text, const message_limits& limits) {
  // Strict: a repeated member ({"key":"1","key":"2"}) is refused, not
  // read as whichever value Boost.JSON kept.
  auto parsed = parse_strict_json(text, 8);
  if (parsed.ec) {
    if (parsed.repeated_key) {
      return bad("the message repeats the member '" + utf8_text(*parsed.repeated_key) + "'");
    }
    return bad("the message is not JSON: " + parsed.ec.message());
  }
  auto* o = parsed.value.if_object();
  if (!o) return bad("a message is a JSON object");
  bool wrong = false;
  const auto* op = string_member(*o, "op", wrong);
  const auto* id = string_member(*o, "id", wrong);
  if (wrong) return bad("op and id must be strings");
  if (!id || id->empty() || id->size() > max_id_bytes) {
    return bad("a message names its subscription id: 1 to 64 bytes");
  }
  std::string sid(*id);
  if (!op) return bad("a message names its op: subscribe or unsubscribe", sid);
  if (*op == "subscribe") return parse_subscribe(*o, std::move(sid), limits);
  if (*op == "unsubscribe") return unsubscribe_request{std::move(sid)};
  return bad("op must be subscribe or unsubscribe", std::move(sid));
}

std::string subscribed_json(std::string_view id, const std::vector<position>& positions,
                            bool resumed) {
  auto o = typed("subscribed");
  o["id"] = id;
  if (resumed) {
    // What it missed comes from the log; direct writes are not in it.
    o["resumed"] = true;
    o["direct_writes_missed"] = "not replayed";
  }
  json::array a;
  a.reserve(positions.size());
  for (const auto& p : positions)
    a.push_back(json::object{{"epoch", p.epoch}, {"offset", p.offset()}});
  o["positions"] = std::move(a);
  return json::serialize(o);
}

std::string refused_json(const message_error& e) {
  auto o = typed("refused");
  if (!e.id.empty()) o["id"] = utf8_text(e.id);
  o["code"] = e.code;
  o["reason"] = utf8_text(e.reason);
  return json::serialize(o);
}

std::string unsubscribed_json(std::string_view id) {
  auto o = typed("unsubscribed");
  o["id"] = id;
  return json::serialize(o);
}

std::string reset_json(std::string_view id, std::string_view reason) {
  auto o = typed("reset");
  o["id"] = id;
  o["reason"] = reason;
  return json::serialize(o);
}

std::string gap_json(std::uint64_t dropped) {
  auto o = typed("gap");
  o["dropped"] = dropped;
  return json::serialize(o);
}

std::string notice_json(std::string_view state, std::string_view detail) {
  auto o = typed("notice");
  o["state"] = state;
  if (!detail.empty()) o["detail"] = utf8_text(detail);
  return json::serialize(o);
}

std::string channel_message_json(std::string_view channel, std::string_view payload) {
  auto o = typed("message");
  o["channel"] = utf8_text(channel);
  if (is_utf8(payload)) {
    o["payload"] = payload;
  } else {
    o["payload_base64"] = base64_encode(payload);
  }
  return json::serialize(o);
}

std::string change_json(const feed::change& c, std::string_view epoch, bool with_value) {
  auto o = typed("change");
  o["ns"] = utf8_text(c.ns);
  o["key"] = utf8_text(c.key);
  o["op"] = feed::op_name(c.op);
  o["ttl_ms"] = c.ttl_ms;
  if (c.direct) {
    // Seen through a keyspace notification: no place in the log.
    o["direct"] = true;
    return json::serialize(o);
  }
  if (feed::carries_value(c.op)) o["size"] = c.size;
  o["epoch"] = epoch;
  o["offset"] = position{c.shard, {}, c.id}.offset();
  if (with_value && c.value) {
    // The value as GET answers it: the body and content type of the
    // stored envelope; a value written straight into Redis is its bytes.
    const auto v = decode_stored(*c.value);
    if (is_utf8(v.body)) {
      o["value"] = v.body;
    } else {
      o["value_base64"] = base64_encode(v.body);
    }
    o["content_type"] = v.content_type;
  }
  return json::serialize(o);
}

}  // namespace rcache::server
