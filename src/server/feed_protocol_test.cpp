// Unit tests of the change feed's WebSocket protocol, sans I/O: the client's
// subscribe and unsubscribe messages (what is taken, what is refused and
// with which id), and the JSON the server sends, read back with Boost.JSON,
// for text that is not UTF-8 too.
#include "server/feed_protocol.hpp"

#include <boost/json.hpp>
#include <cstdint>
#include <gtest/gtest.h>
#include <initializer_list>
#include <limits>
#include <string>
#include <variant>

#include "server/http_api.hpp"

namespace rcache::server {
namespace {

namespace json = boost::json;
using namespace std::literals;

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

subscribe_request sub(std::string_view text, const message_limits& limits = {}) {
  auto m = parse_client_message(text, limits);
  if (const auto* e = std::get_if<message_error>(&m)) {
    ADD_FAILURE() << "refused " << e->code << ": " << e->reason << "\n  for " << text;
    return {};
  }
  if (!std::holds_alternative<subscribe_request>(m)) {
    ADD_FAILURE() << "not a subscribe: " << text;
    return {};
  }
  return std::get<subscribe_request>(m);
}

message_error refusal(std::string_view text, const message_limits& limits = {}) {
  auto m = parse_client_message(text, limits);
  if (const auto* e = std::get_if<message_error>(&m)) {
    EXPECT_FALSE(e->reason.empty()) << "a refusal says why";
    return *e;
  }
  ADD_FAILURE() << "taken: " << text;
  return {};
}

// The JSON text `s` as an object; a test failure when it is not one (or is
// not valid UTF-8: Boost.JSON checks it).
json::object object_of(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object (" << ec.message() << "): " << s;
    return {};
  }
  return v.as_object();
}

std::string str(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (!v || !v->is_string()) {
    ADD_FAILURE() << "no string " << name << " in " << json::serialize(o);
    return {};
  }
  return std::string(v->get_string());
}

// ---- subscribe --------------------------------------------------------------------------

TEST(FeedProtocol, SubscribesToAKeyAPrefixANamespaceOrAChannel) {
  auto r = sub(R"({"op":"subscribe","id":"a","ns":"users","key":"42"})");
  EXPECT_EQ(r.id, "a");
  EXPECT_EQ(r.kind, target_kind::key);
  EXPECT_EQ(r.ns, "users");
  EXPECT_EQ(r.key, "42");
  EXPECT_FALSE(r.values) << "values are asked for";
  EXPECT_EQ(r.policy, slow_policy::coalesce) << "the default policy";
  EXPECT_FALSE(r.since.has_value()) << "from now";

  r = sub(R"({"op":"subscribe","id":"b","ns":"users","prefix":"u:"})");
  EXPECT_EQ(r.id, "b");
  EXPECT_EQ(r.kind, target_kind::prefix);
  EXPECT_EQ(r.ns, "users");
  EXPECT_EQ(r.key, "u:");

  r = sub(R"({"op":"subscribe","id":"c","ns":"users"})");
  EXPECT_EQ(r.kind, target_kind::ns);
  EXPECT_EQ(r.ns, "users");
  EXPECT_EQ(r.key, "");

  r = sub(R"({"op":"subscribe","id":"c2","ns":"users","prefix":""})");
  EXPECT_EQ(r.kind, target_kind::ns) << "the empty prefix is the namespace";
  EXPECT_EQ(r.key, "");

  r = sub(R"({"op":"subscribe","id":"d","channel":"news"})");
  EXPECT_EQ(r.id, "d");
  EXPECT_EQ(r.kind, target_kind::channel);
  EXPECT_EQ(r.key, "news");
  EXPECT_EQ(r.ns, "");

  r = sub(
      "\n {\"id\" : \"e\", \"key\":\"k\\u00e9\\n\", \"ns\":\"a.B-c_9\", \"op\":\"subscribe\"} \t");
  EXPECT_EQ(r.id, "e") << "members in any order, white space around";
  EXPECT_EQ(r.ns, "a.B-c_9");
  EXPECT_EQ(r.key, "k\xC3\xA9\n") << "escapes decoded";

  r = sub(
      R"({"op":"subscribe","id":"f","ns":"n","key":"k","comment":"extra members are ignored"})");
  EXPECT_EQ(r.key, "k");
}

TEST(FeedProtocol, SubscribeOptions) {
  auto r = sub(R"({"op":"subscribe","id":"a","ns":"n","key":"k","values":true,"policy":"close"})");
  EXPECT_TRUE(r.values);
  EXPECT_EQ(r.policy, slow_policy::close);
  r = sub(R"({"op":"subscribe","id":"a","ns":"n","values":false,"policy":"drop_oldest"})");
  EXPECT_FALSE(r.values);
  EXPECT_EQ(r.policy, slow_policy::drop_oldest);
  r = sub(R"({"op":"subscribe","id":"a","channel":"c","policy":"coalesce","values":true})");
  EXPECT_EQ(r.policy, slow_policy::coalesce);

  r = sub(R"({"op":"subscribe","id":"a","ns":"n","prefix":"p","since":[)"
          R"({"epoch":"e0","offset":"0:1700000000000-3"},{"offset":"15:5","epoch":"e15"}]})");
  ASSERT_TRUE(r.since.has_value());
  ASSERT_EQ(r.since->size(), 2u);
  EXPECT_EQ((*r.since)[0].shard, 0u);
  EXPECT_EQ((*r.since)[0].epoch, "e0");
  EXPECT_EQ((*r.since)[0].id, (feed::stream_id{1700000000000, 3}));
  EXPECT_EQ((*r.since)[1].shard, 15u);
  EXPECT_EQ((*r.since)[1].epoch, "e15");
  EXPECT_EQ((*r.since)[1].id, (feed::stream_id{5, 0}));

  r = sub(R"({"op":"subscribe","id":"a","ns":"n","key":"k","since":[]})");
  ASSERT_TRUE(r.since.has_value()) << "an empty since is not 'from now'";
  EXPECT_TRUE(r.since->empty());
}

TEST(FeedProtocol, Unsubscribe) {
  auto m = parse_client_message(R"({"op":"unsubscribe","id":"a"})", {});
  ASSERT_TRUE(std::holds_alternative<unsubscribe_request>(m));
  EXPECT_EQ(std::get<unsubscribe_request>(m).id, "a");

  const auto e = refusal(R"({"op":"unsubscribe"})");
  EXPECT_EQ(e.code, "bad_message");
  EXPECT_EQ(e.id, "");
}

TEST(FeedProtocol, MessagesThatAreNotJsonObjectsAreRefused) {
  for (std::string_view text :
       {"", " ", "{", "}", "nope", "{}{}", R"({"op":"subscribe","id":"a"} x)", "[1]", R"("s")",
        "null", "true", "42", "{'op':'subscribe'}", R"({"op":"subscribe",})",
        "{\"op\":\"subscribe\",\"id\":\"\xff\",\"ns\":\"n\"}"}) {
    const auto e = refusal(text);
    EXPECT_EQ(e.code, "bad_message") << text;
    EXPECT_EQ(e.id, "") << text;
  }
  EXPECT_EQ(refusal("\x80\x81").code, "bad_message");
  EXPECT_EQ(refusal("{\"op\":\"subscribe\",\"id\":\"a\",\"ns\":\"n\"}\0"sv).code, "bad_message")
      << "a NUL after the object";
}

TEST(FeedProtocol, DeepNestingIsRefused) {
  std::string deep = R"({"op":"subscribe","id":"a","ns":"n","x":)";
  for (int i = 0; i < 20; ++i) deep += "[";
  for (int i = 0; i < 20; ++i) deep += "]";
  deep += "}";
  EXPECT_EQ(refusal(deep).code, "bad_message");

  std::string huge(100000, '[');
  EXPECT_EQ(refusal(huge).code, "bad_message") << "no recursion to exhaust";

  // Shallow extras are fine.
  sub(R"({"op":"subscribe","id":"a","ns":"n","x":[[{"y":[1]}]]})");
}

TEST(FeedProtocol, OpAndIdAreChecked) {
  EXPECT_EQ(refusal(R"({})").code, "bad_message");
  EXPECT_EQ(refusal(R"({"op":1,"id":"a"})").code, "bad_message");
  EXPECT_EQ(refusal(R"({"op":"subscribe","id":5,"ns":"n"})").code, "bad_message");
  EXPECT_EQ(refusal(R"({"op":null,"id":"a"})").code, "bad_message");

  auto e = refusal(R"({"id":"a","ns":"n"})");
  EXPECT_EQ(e.id, "a") << "no op; the id could be read";
  e = refusal(R"({"op":"watch","id":"a"})");
  EXPECT_EQ(e.id, "a");
  e = refusal(R"({"op":"Subscribe","id":"a","ns":"n"})");
  EXPECT_EQ(e.id, "a") << "ops are lower case";

  for (std::string_view text :
       {R"({"op":"subscribe","ns":"n"})", R"({"op":"subscribe","id":"","ns":"n"})",
        R"({"op":"unsubscribe","id":""})"}) {
    e = refusal(text);
    EXPECT_EQ(e.code, "bad_message") << text;
    EXPECT_EQ(e.id, "") << text;
  }

  const std::string id64(64, 'i');
  EXPECT_EQ(sub(R"({"op":"subscribe","ns":"n","id":")" + id64 + "\"}").id, id64);
  e = refusal(R"({"op":"subscribe","ns":"n","id":")" + id64 + "i\"}");
  EXPECT_EQ(e.code, "bad_message") << "65 bytes";
  EXPECT_EQ(e.id, "") << "not a valid id: not echoed";
  e = refusal(R"({"op":"unsubscribe","id":")" + id64 + "i\"}");
  EXPECT_EQ(e.code, "bad_message");

  // 32 two-byte characters: 64 bytes.
  std::string accents;
  for (int i = 0; i < 32; ++i) accents += "\xC3\xA9";
  EXPECT_EQ(sub(R"({"op":"subscribe","ns":"n","id":")" + accents + "\"}").id, accents);
  EXPECT_EQ(refusal(R"({"op":"subscribe","ns":"n","id":")" + accents + "x\"}").code, "bad_message")
      << "the bound is in bytes";
}

TEST(FeedProtocol, TargetsAreChecked) {
  struct refused {
    std::string_view text;
    std::string_view why;
  };
  for (const auto& [text, why] : std::initializer_list<refused>{
           {R"({"op":"subscribe","id":"a"})", "no target"},
           {R"({"op":"subscribe","id":"a","key":"k"})", "a key without ns"},
           {R"({"op":"subscribe","id":"a","prefix":"p"})", "a prefix without ns"},
           {R"({"op":"subscribe","id":"a","ns":""})", "empty ns"},
           {R"({"op":"subscribe","id":"a","ns":"a:b"})", "':' in ns"},
           {R"({"op":"subscribe","id":"a","ns":"a b"})", "space in ns"},
           {R"({"op":"subscribe","id":"a","ns":"a/b"})", "'/' in ns"},
           {R"({"op":"subscribe","id":"a","ns":"caf\u00e9"})", "non-ASCII ns"},
           {R"({"op":"subscribe","id":"a","ns":"a\u0000"})", "NUL in ns"},
           {R"({"op":"subscribe","id":"a","ns":"n","key":"k","prefix":"p"})", "key and prefix"},
           {R"({"op":"subscribe","id":"a","ns":"n","key":"k","prefix":""})", "key and prefix"},
           {R"({"op":"subscribe","id":"a","ns":"n","key":""})", "empty key"},
           {R"({"op":"subscribe","id":"a","ns":7})", "ns not a string"},
           {R"({"op":"subscribe","id":"a","ns":"n","key":42})", "key not a string"},
           {R"({"op":"subscribe","id":"a","ns":"n","key":null})", "key null"},
           {R"({"op":"subscribe","id":"a","ns":"n","prefix":["p"]})", "prefix not a string"},
           {R"({"op":"subscribe","id":"a","channel":{}})", "channel not a string"},
           {R"({"op":"subscribe","id":"a","channel":""})", "empty channel"},
           {R"({"op":"subscribe","id":"a","channel":"c","ns":"n"})", "channel and ns"},
           {R"({"op":"subscribe","id":"a","channel":"c","key":"k"})", "channel and key"},
           {R"({"op":"subscribe","id":"a","channel":"c","prefix":""})", "channel and prefix"},
       }) {
    const auto e = refusal(text);
    EXPECT_EQ(e.code, "bad_message") << why;
    EXPECT_EQ(e.id, "a") << why << ": a subscribe's refusal names its id";
  }

  const std::string ns128(128, 'n');
  EXPECT_EQ(sub(R"({"op":"subscribe","id":"a","ns":")" + ns128 + "\"}").ns, ns128);
  EXPECT_EQ(refusal(R"({"op":"subscribe","id":"a","ns":")" + ns128 + "n\"}").id, "a");
}

TEST(FeedProtocol, KeyPrefixAndChannelLengthsAreBounded) {
  const message_limits limits{.max_key_bytes = 8, .max_since = 4};
  for (std::string_view member : {"key", "prefix"}) {
    const auto head = R"({"op":"subscribe","id":"a","ns":"n",")" + std::string(member) + R"(":")";
    EXPECT_EQ(sub(head + "12345678\"}", limits).key, "12345678") << member;
    const auto e = refusal(head + "123456789\"}", limits);
    EXPECT_EQ(e.code, "bad_message") << member;
    EXPECT_EQ(e.id, "a");
    // Bytes, not characters: four two-byte characters and one more byte.
    EXPECT_EQ(refusal(head + "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9x\"}", limits).code, "bad_message");
  }
  const std::string head = R"({"op":"subscribe","id":"a","channel":")";
  EXPECT_EQ(sub(head + "12345678\"}", limits).key, "12345678");
  EXPECT_EQ(refusal(head + "123456789\"}", limits).id, "a");
}

TEST(FeedProtocol, OptionsAreChecked) {
  for (std::string_view text : {
           R"({"op":"subscribe","id":"a","ns":"n","values":"true"})",
           R"({"op":"subscribe","id":"a","ns":"n","values":1})",
           R"({"op":"subscribe","id":"a","ns":"n","values":null})",
           R"({"op":"subscribe","id":"a","ns":"n","policy":"Coalesce"})",
           R"({"op":"subscribe","id":"a","ns":"n","policy":""})",
           R"({"op":"subscribe","id":"a","ns":"n","policy":"drop_newest"})",
           R"({"op":"subscribe","id":"a","ns":"n","policy":0})",
           R"({"op":"subscribe","id":"a","channel":"c","policy":"block"})",
       }) {
    const auto e = refusal(text);
    EXPECT_EQ(e.code, "bad_message") << text;
    EXPECT_EQ(e.id, "a") << text;
  }
}

TEST(FeedProtocol, SincePositionsAreChecked) {
  const message_limits limits{.max_key_bytes = 64, .max_since = 2};
  const std::string head = R"({"op":"subscribe","id":"a","ns":"n","since":)";
  for (
      std::string_view since : {
          R"({"epoch":"e","offset":"0:1-0"})",
          R"("0:1-0")",
          R"(null)",
          R"([{"epoch":"e","offset":"0:1-0"},{"epoch":"e","offset":"1:1-0"},{"epoch":"e","offset":"2:1-0"}])",
          R"([1])",
          R"([null])",
          R"([[]])",
          R"([{}])",
          R"([{"epoch":"e"}])",
          R"([{"offset":"0:1-0"}])",
          R"([{"epoch":1,"offset":"0:1-0"}])",
          R"([{"epoch":"e","offset":0}])",
          R"([{"epoch":"","offset":"0:1-0"}])",
          R"([{"epoch":"e","offset":""}])",
          R"([{"epoch":"e","offset":"3"}])",
          R"([{"epoch":"e","offset":"3:x"}])",
          R"([{"epoch":"e","offset":"1024:1-0"}])",
          R"([{"epoch":"e","offset":"-1:1-0"}])",
          R"([{"epoch":"e","offset":"0:18446744073709551616-0"}])",
          R"([{"epoch":"e","offset":"0:1-0"},{"epoch":"e","offset":"bad"}])",
      }) {
    const auto e = refusal(head + std::string(since) + "}", limits);
    EXPECT_EQ(e.code, "bad_message") << since;
    EXPECT_EQ(e.id, "a") << since;
  }
  auto r =
      sub(head + R"([{"epoch":"e","offset":"0:1-0"},{"epoch":"e","offset":"1023:1-0"}]})", limits);
  ASSERT_TRUE(r.since.has_value()) << "at the bound";
  EXPECT_EQ(r.since->size(), 2u);

  const auto e = refusal(
      R"({"op":"subscribe","id":"a","channel":"c","since":[{"epoch":"e","offset":"0:1-0"}]})");
  EXPECT_EQ(e.code, "bad_message") << "channel messages have no positions";
  EXPECT_EQ(e.id, "a");
}

TEST(FeedProtocol, EventSubscriptionsAreNotLogged) {
  const auto e = refusal(R"({"op":"subscribe","id":"ev","events":"sessions"})");
  EXPECT_EQ(e.code, "not_logged");
  EXPECT_EQ(e.id, "ev");
  EXPECT_EQ(refusal(R"({"op":"subscribe","id":"ev","ns":"n","events":["geo"]})").code,
            "not_logged");
}

// Boost.JSON's json::parse keeps one of two equal keys silently (see
// strict_json.hpp); the HTTP API refuses them, and so must the feed: which
// of {"key":"a","key":"b"} is meant is anybody's guess.
TEST(FeedProtocol, RepeatedMembersAreRefused) {
  for (
      std::string_view text : {
          R"({"op":"subscribe","id":"a","ns":"n","key":"1","key":"2"})",
          R"({"op":"subscribe","id":"a","ns":"n","ns":"m"})",
          R"({"op":"unsubscribe","op":"subscribe","id":"a","ns":"n"})",
          R"({"op":"subscribe","id":"a","id":"b","ns":"n"})",
          R"({"op":"subscribe","id":"a","ns":"n","policy":"close","policy":"coalesce"})",
          R"({"op":"subscribe","id":"a","ns":"n","since":[{"epoch":"e","epoch":"f","offset":"0:1"}]})",
      }) {
    const auto m = parse_client_message(text, {});
    if (const auto* e = std::get_if<message_error>(&m)) {
      EXPECT_EQ(e->code, "bad_message") << text;
    } else {
      ADD_FAILURE() << "taken: " << text;
    }
  }
}

// ---- what the server sends --------------------------------------------------------------

TEST(FeedProtocol, SubscribedListsThePositions) {
  const std::vector<position> positions{{0, "e0", {1700000000000, 1}}, {15, "e15", {0, 0}}};
  auto o = object_of(subscribed_json("a", positions));
  EXPECT_EQ(str(o, "type"), "subscribed");
  EXPECT_EQ(str(o, "id"), "a");
  const auto& a = o.at("positions").as_array();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(str(a[0].as_object(), "epoch"), "e0");
  EXPECT_EQ(str(a[0].as_object(), "offset"), "0:1700000000000-1");
  EXPECT_EQ(str(a[1].as_object(), "offset"), "15:0-0");

  // What the server says is what a client sends back to resume.
  std::string resume =
      R"({"op":"subscribe","id":"a","ns":"n","since":)" + json::serialize(o.at("positions")) + "}";
  auto r = sub(resume);
  ASSERT_TRUE(r.since.has_value());
  ASSERT_EQ(r.since->size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*r.since)[i].shard, positions[i].shard);
    EXPECT_EQ((*r.since)[i].epoch, positions[i].epoch);
    EXPECT_EQ((*r.since)[i].id, positions[i].id);
  }

  EXPECT_FALSE(o.contains("resumed")) << "not resumed";
  EXPECT_FALSE(o.contains("direct_writes_missed"));
  o = object_of(subscribed_json("a", positions, true));
  ASSERT_TRUE(o.contains("resumed"));
  EXPECT_EQ(o.at("resumed"), json::value(true));
  EXPECT_EQ(str(o, "direct_writes_missed"), "not replayed");
  EXPECT_EQ(o.at("positions").as_array().size(), 2u);

  o = object_of(subscribed_json("quote\" back\\slash", {}));
  EXPECT_EQ(str(o, "id"), "quote\" back\\slash") << "escaped";
  EXPECT_TRUE(o.at("positions").as_array().empty());
}

TEST(FeedProtocol, RefusedNamesTheCodeTheReasonAndTheId) {
  auto o = object_of(refused_json({"bad_message", "ns must be letters", "a"}));
  EXPECT_EQ(str(o, "type"), "refused");
  EXPECT_EQ(str(o, "id"), "a");
  EXPECT_EQ(str(o, "code"), "bad_message");
  EXPECT_EQ(str(o, "reason"), "ns must be letters");

  o = object_of(refused_json({"bad_message", "no id", ""}));
  EXPECT_FALSE(o.contains("id")) << "no id to name";

  o = object_of(refused_json({"bad_message", "r\xff", "i\xc3"}));
  EXPECT_EQ(str(o, "id"), "i" + std::string(replacement));
  EXPECT_EQ(str(o, "reason"), "r" + std::string(replacement));

  // Every refusal parse_client_message makes renders as valid JSON.
  for (std::string_view text : {"", "{\"op\":\"subscribe\",\"id\":\"\xff\"}", R"({"id":"\u00e9"})",
                                R"({"op":"subscribe","id":"a","ns":"\"bad\""})"}) {
    auto m = parse_client_message(text, {});
    ASSERT_TRUE(std::holds_alternative<message_error>(m)) << text;
    o = object_of(refused_json(std::get<message_error>(m)));
    EXPECT_EQ(str(o, "type"), "refused");
  }
}

TEST(FeedProtocol, ControlMessages) {
  auto o = object_of(unsubscribed_json("a"));
  EXPECT_EQ(str(o, "type"), "unsubscribed");
  EXPECT_EQ(str(o, "id"), "a");

  o = object_of(reset_json("a", "the stream was trimmed"));
  EXPECT_EQ(str(o, "type"), "reset");
  EXPECT_EQ(str(o, "id"), "a");
  EXPECT_EQ(str(o, "reason"), "the stream was trimmed");

  o = object_of(gap_json(3));
  EXPECT_EQ(str(o, "type"), "gap");
  EXPECT_EQ(o.at("dropped").to_number<std::uint64_t>(), 3u);
  o = object_of(gap_json(std::numeric_limits<std::uint64_t>::max()));
  EXPECT_EQ(o.at("dropped").to_number<std::uint64_t>(), std::numeric_limits<std::uint64_t>::max());

  o = object_of(notice_json("redis_unavailable", "connection refused"));
  EXPECT_EQ(str(o, "type"), "notice");
  EXPECT_EQ(str(o, "state"), "redis_unavailable");
  EXPECT_EQ(str(o, "detail"), "connection refused");
  o = object_of(notice_json("redis_available", ""));
  EXPECT_EQ(str(o, "state"), "redis_available");
  EXPECT_FALSE(o.contains("detail")) << "no detail to give";
  o = object_of(notice_json("redis_unavailable", "host \xfe\xff"));
  EXPECT_EQ(str(o, "detail"), "host " + std::string(replacement) + std::string(replacement));
}

TEST(FeedProtocol, ChannelMessagesCarryTextOrBase64) {
  auto o = object_of(channel_message_json("news", "hello \xC3\xA9 \"quoted\"\n"));
  EXPECT_EQ(str(o, "type"), "message");
  EXPECT_EQ(str(o, "channel"), "news");
  EXPECT_EQ(str(o, "payload"), "hello \xC3\xA9 \"quoted\"\n");
  EXPECT_FALSE(o.contains("payload_base64"));
  EXPECT_FALSE(o.contains("offset")) << "pub/sub has no positions";

  o = object_of(channel_message_json("news", std::string_view("\x00\xff", 2)));
  EXPECT_EQ(str(o, "payload_base64"), "AP8=");
  EXPECT_FALSE(o.contains("payload"));

  o = object_of(channel_message_json("news", ""));
  EXPECT_EQ(str(o, "payload"), "");

  o = object_of(channel_message_json("n\xffws", "x"));
  EXPECT_EQ(str(o, "channel"), "n" + std::string(replacement) + "ws");

  o = object_of(channel_message_json("c", std::string_view("nul\0inside", 10)));
  EXPECT_EQ(str(o, "payload"), std::string("nul\0inside", 10)) << "NUL is UTF-8, escaped";
}

feed::change a_change() {
  feed::change c;
  c.ns = "users";
  c.key = "u:42";
  c.op = write_event::kind::set;
  c.ttl_ms = 60000;
  c.size = 5;
  c.value = "hello";
  c.shard = 3;
  c.id = {1700000000000, 7};
  return c;
}

TEST(FeedProtocol, ChangesWithTheirPositions) {
  auto c = a_change();
  auto o = object_of(change_json(c, "ep", false));
  EXPECT_EQ(str(o, "type"), "change");
  EXPECT_EQ(str(o, "ns"), "users");
  EXPECT_EQ(str(o, "key"), "u:42");
  EXPECT_EQ(str(o, "op"), "set");
  EXPECT_EQ(o.at("ttl_ms").to_number<std::int64_t>(), 60000);
  EXPECT_EQ(o.at("size").to_number<std::uint64_t>(), 5u);
  EXPECT_EQ(str(o, "epoch"), "ep");
  EXPECT_EQ(str(o, "offset"), "3:1700000000000-7");
  EXPECT_FALSE(o.contains("value")) << "not asked for";
  EXPECT_FALSE(o.contains("value_base64"));
  EXPECT_FALSE(o.contains("content_type"));

  // The offset is a position a client can resume from.
  const auto p = position::parse(str(o, "epoch"), str(o, "offset"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->shard, 3u);
  EXPECT_EQ(p->id, c.id);

  for (auto kind : {write_event::kind::del, write_event::kind::expire, write_event::kind::touch,
                    write_event::kind::invalidate}) {
    c = a_change();
    c.op = kind;
    c.ttl_ms = -1;
    c.value.reset();
    c.size = 0;
    o = object_of(change_json(c, "ep", true));
    EXPECT_EQ(str(o, "op"), feed::op_name(kind));
    EXPECT_EQ(o.at("ttl_ms").to_number<std::int64_t>(), -1);
    EXPECT_FALSE(o.contains("size")) << "sets only";
    EXPECT_FALSE(o.contains("value"));
  }
}

TEST(FeedProtocol, DirectChangesHaveNoPosition) {
  auto c = a_change();
  c.direct = true;
  c.ttl_ms = -1;
  auto o = object_of(change_json(c, "ep", true));
  EXPECT_EQ(str(o, "type"), "change");
  EXPECT_EQ(str(o, "ns"), "users");
  EXPECT_EQ(str(o, "key"), "u:42");
  EXPECT_EQ(str(o, "op"), "set");
  EXPECT_EQ(o.at("ttl_ms").to_number<std::int64_t>(), -1);
  ASSERT_TRUE(o.contains("direct"));
  EXPECT_EQ(o.at("direct"), json::value(true));
  for (std::string_view absent :
       {"epoch", "offset", "size", "value", "value_base64", "content_type"}) {
    EXPECT_FALSE(o.contains(absent)) << absent;
  }
  c.key = "k\xff";
  o = object_of(change_json(c, "ep", false));
  EXPECT_EQ(str(o, "key"), "k" + std::string(replacement));

  c = a_change();
  o = object_of(change_json(c, "ep", true));
  EXPECT_FALSE(o.contains("direct")) << "a logged change";
}

TEST(FeedProtocol, ChangeValuesAreGivenAsGetGivesThem) {
  auto c = a_change();
  auto o = object_of(change_json(c, "ep", true));
  EXPECT_EQ(str(o, "value"), "hello");
  EXPECT_EQ(str(o, "content_type"), default_content_type) << "raw bytes";
  EXPECT_FALSE(o.contains("value_base64"));

  c.value = encode_stored("{\"a\":1}", "application/json");
  o = object_of(change_json(c, "ep", true));
  EXPECT_EQ(str(o, "value"), "{\"a\":1}") << "the envelope's body";
  EXPECT_EQ(str(o, "content_type"), "application/json");

  c.value = std::string("\xff\xfe\xfd");
  o = object_of(change_json(c, "ep", true));
  EXPECT_EQ(str(o, "value_base64"), "//79");
  EXPECT_FALSE(o.contains("value"));
  EXPECT_EQ(str(o, "content_type"), default_content_type);

  c.value = encode_stored(std::string_view("\x00\xff", 2), "image/png");
  o = object_of(change_json(c, "ep", true));
  EXPECT_EQ(str(o, "value_base64"), "AP8=") << "an enveloped binary body";
  EXPECT_EQ(str(o, "content_type"), "image/png");

  c.value = "";
  o = object_of(change_json(c, "ep", true));
  EXPECT_EQ(str(o, "value"), "") << "an empty value is a value";

  c.value.reset();
  o = object_of(change_json(c, "ep", true));
  EXPECT_FALSE(o.contains("value")) << "too large to have been logged";
  EXPECT_FALSE(o.contains("value_base64"));
  EXPECT_FALSE(o.contains("content_type"));
  EXPECT_EQ(o.at("size").to_number<std::uint64_t>(), 5u) << "the size is still given";
}

TEST(FeedProtocol, ChangeNamesThatAreNotUtf8StayValidJson) {
  auto c = a_change();
  c.ns = "n\xc3";
  c.key = std::string("k\xff\x00\"\\", 5);
  auto o = object_of(change_json(c, "ep", true));
  EXPECT_EQ(str(o, "ns"), "n" + std::string(replacement));
  EXPECT_EQ(str(o, "key"), "k" + std::string(replacement) + std::string("\0\"\\", 3));

  c.key = "caf\xC3\xA9";
  o = object_of(change_json(c, "ep", true));
  EXPECT_EQ(str(o, "key"), "caf\xC3\xA9") << "valid UTF-8 is kept";
}

}  // namespace
}  // namespace rcache::server
