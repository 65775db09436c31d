// End-to-end tests of the change feed: the real `rcache serve` binary, a
// real WebSocket client (Beast) and a real redis-server — subscriptions by
// key, prefix, namespace and channel; resume after a disconnect and after
// a gateway restart; a reset when the position was trimmed or Redis lost
// its data; two gateways on one Redis; Redis killed mid-feed; slow
// consumers under each policy; limits; 1,000 subscribers at once.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <set>
#include <sys/resource.h>

#include "gateway_helpers.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "redis_server.hpp"
#include "ws_client.hpp"

namespace rcache::test {
namespace {

namespace json = boost::json;

std::string str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

void put(std::uint16_t port, const std::string& ns, const std::string& key,
         const std::string& value) {
  auto r = must(http_request(port, "PUT", "/v1/ns/" + ns + "/keys/" + key, value));
  ASSERT_EQ(r.status, 200) << r.body;
}

// Items "<prefix><i>" = "v<i>" for i in [from, to), in batches of 500.
void put_many(std::uint16_t port, const std::string& ns, const std::string& prefix, int from,
              int to) {
  for (int i = from; i < to;) {
    json::array items;
    for (int j = 0; j < 500 && i < to; ++j, ++i) {
      items.push_back(
          json::object{{"key", prefix + std::to_string(i)}, {"value", "v" + std::to_string(i)}});
    }
    auto r = must(http_request(port, "POST", "/v1/ns/" + ns + "/batch/set",
                               json::serialize(json::object{{"items", std::move(items)}}),
                               "Content-Type: application/json\r\n"));
    ASSERT_EQ(r.status, 200) << r.body;
  }
}

std::unique_ptr<ws_client> open_feed(std::uint16_t port) {
  auto ws = ws_client::connect(port);
  if (!ws) throw std::runtime_error("the feed upgrade failed");
  return ws;
}

// Sends a subscribe and returns its answer (subscribed / refused), with any
// reset that came before it in `reset`.
json::object subscribe(ws_client& ws, json::object msg, std::string* reset = nullptr) {
  msg["op"] = "subscribe";
  EXPECT_TRUE(ws.send_json(msg));
  for (;;) {
    auto m = ws.receive(10s);
    if (!m) throw std::runtime_error("no answer to a subscribe");
    const auto type = str(*m, "type");
    if (type == "reset") {
      if (reset) *reset = str(*m, "reason");
      continue;
    }
    if (type == "subscribed" || type == "refused") return *m;
  }
}

// The next message of `type` (others skipped), within `limit`.
std::optional<json::object> next_of(ws_client& ws, std::string_view type,
                                    std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = ws.receive(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!m) return std::nullopt;
    if (str(*m, "type") == type) return m;
  }
  return std::nullopt;
}

// Every position of a subscribed answer, as a `since` array.
json::array positions_of(const json::object& subscribed) {
  return subscribed.at("positions").as_array();
}

// Keeps the latest offset per shard from change messages, as a client does.
struct position_book {
  std::map<std::string, json::object> by_shard;
  explicit position_book(const json::object& subscribed) {
    for (const auto& p : positions_of(subscribed)) note(p.as_object());
  }
  void note(const json::object& change) {
    const auto offset = str(change, "offset");
    by_shard[offset.substr(0, offset.find(':'))] =
        json::object{{"epoch", str(change, "epoch")}, {"offset", offset}};
  }
  json::array since() const {
    json::array a;
    for (const auto& [s, p] : by_shard) a.push_back(p);
    return a;
  }
};

TEST(Feed, SubscriptionsByKeyPrefixNamespaceAndChannel) {
  redis_server server;
  gateway_process gw(external(server));
  auto ws = open_feed(gw.port());
  EXPECT_EQ(
      str(subscribe(*ws, {{"id", "k"}, {"ns", "users"}, {"key", "u:1"}, {"values", true}}), "type"),
      "subscribed");
  EXPECT_EQ(str(subscribe(*ws, {{"id", "p"}, {"ns", "orders"}, {"prefix", "eu:"}}), "type"),
            "subscribed");
  EXPECT_EQ(str(subscribe(*ws, {{"id", "n"}, {"ns", "carts"}}), "type"), "subscribed");
  EXPECT_EQ(str(subscribe(*ws, {{"id", "c"}, {"channel", "news"}}), "type"), "subscribed");

  put(gw.port(), "users", "u:2", "not subscribed");
  put(gw.port(), "users", "u:1", "hello");
  auto m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "ns"), "users");
  EXPECT_EQ(str(*m, "key"), "u:1") << "u:2 matches no subscription";
  EXPECT_EQ(str(*m, "op"), "set");
  EXPECT_EQ(str(*m, "value"), "hello");
  EXPECT_FALSE(str(*m, "epoch").empty());
  EXPECT_NE(str(*m, "offset").find(':'), std::string::npos);

  put(gw.port(), "orders", "us:1", "no");
  put(gw.port(), "orders", "eu:7", "yes");
  m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "eu:7");
  EXPECT_FALSE(m->contains("value")) << "values were not asked for";

  auto del = must(http_request(gw.port(), "DELETE", "/v1/ns/carts/keys/any"));
  put(gw.port(), "carts", "c1", "x");
  del = must(http_request(gw.port(), "DELETE", "/v1/ns/carts/keys/c1"));
  ASSERT_EQ(del.status, 200);
  m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "op"), "set") << "deleting a missing key is no change";
  m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "op"), "del");
  EXPECT_EQ(str(*m, "key"), "c1");

  server.command({"PUBLISH", "news", "extra"});
  m = next_of(*ws, "message");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "channel"), "news");
  EXPECT_EQ(str(*m, "payload"), "extra");

  ASSERT_TRUE(ws->send_json({{"op", "unsubscribe"}, {"id", "k"}}));
  EXPECT_TRUE(next_of(*ws, "unsubscribed"));
  put(gw.port(), "users", "u:1", "again");
  put(gw.port(), "carts", "c2", "after");
  m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "c2") << "u:1 is no longer subscribed";
  EXPECT_EQ(ws->bad_messages(), 0u);
}

// Geo point changes are logged as changes of namespace geo, each point's
// in order, with the point as the value.
TEST(Feed, GeoPointChangesArriveInOrder) {
  redis_server server;
  gateway_process gw(external(server));
  auto ws = open_feed(gw.port());
  EXPECT_EQ(
      str(subscribe(*ws, {{"id", "g"}, {"ns", "geo"}, {"prefix", "paris/"}, {"values", true}}),
          "type"),
      "subscribed");
  const auto p = gw.port();
  ASSERT_EQ(
      must(http_request(p, "PUT", "/v1/geo/paris/points/c1", R"({"lon":2.35,"lat":48.85})")).status,
      200);
  ASSERT_EQ(
      must(http_request(p, "PUT", "/v1/geo/rome/points/c1", R"({"lon":12.5,"lat":41.9})")).status,
      200);
  ASSERT_EQ(must(http_request(p, "PUT", "/v1/geo/paris/points/c1",
                              R"({"lon":2.36,"lat":48.85,"data":"moved"})"))
                .status,
            200);
  ASSERT_EQ(must(http_request(p, "DELETE", "/v1/geo/paris/points/c1")).status, 200);
  ASSERT_EQ(must(http_request(p, "DELETE", "/v1/geo/paris/points/c1")).status, 200);  // no change
  const char* expected[] = {"geo_add", "geo_move", "geo_remove"};
  for (const char* op : expected) {
    auto m = next_of(*ws, "change");
    ASSERT_TRUE(m) << op;
    EXPECT_EQ(str(*m, "op"), op);
    EXPECT_EQ(str(*m, "key"), "paris/c1") << "rome is not subscribed";
    if (std::string_view(op) == "geo_move") {
      auto v = json::parse(str(*m, "value")).as_object();
      EXPECT_EQ(v.at("lon").as_double(), 2.36);
      EXPECT_EQ(v.at("data").as_string(), "moved");
    }
  }
  // Removing a missing point was no change: the next one is c2's.
  ASSERT_EQ(
      must(http_request(p, "PUT", "/v1/geo/paris/points/c2", R"({"lon":2.3,"lat":48.8})")).status,
      200);
  auto m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "paris/c2");
  EXPECT_EQ(str(*m, "op"), "geo_add");
}

TEST(Feed, OverlappingSubscriptionsDeliverEachChangeOnce) {
  redis_server server;
  gateway_process gw(external(server));
  auto ws = open_feed(gw.port());
  for (auto spec :
       {json::object{{"id", "key"}, {"ns", "users"}, {"key", "u:{a}1"}},
        json::object{{"id", "prefix"}, {"ns", "users"}, {"prefix", "u:"}, {"values", true}},
        json::object{{"id", "ns"}, {"ns", "users"}},
        json::object{{"id", "c1"}, {"channel", "news"}},
        json::object{{"id", "c2"}, {"channel", "news"}},
        json::object{{"id", "end"}, {"channel", "end"}}}) {
    ASSERT_EQ(str(subscribe(*ws, spec), "type"), "subscribed") << json::serialize(spec);
  }
  // One hash tag: one stream shard, so the changes come in write order and
  // a second copy of one would come before the next.
  for (const auto* v : {"1", "2", "3", "4"}) {
    put(gw.port(), "users", std::string("u:%7Ba%7D") + v, v);  // u:{a}<v>
  }
  for (const auto* expected : {"1", "2", "3", "4"}) {
    auto m = next_of(*ws, "change");
    ASSERT_TRUE(m) << expected;
    EXPECT_EQ(str(*m, "value"), expected) << "once, with its value (one subscription asked)";
  }
  // One pub/sub connection: the messages come in publishing order.
  server.command({"PUBLISH", "news", "first"});
  server.command({"PUBLISH", "news", "second"});
  server.command({"PUBLISH", "end", "end"});
  std::vector<std::string> got;
  while (got.empty() || got.back() != "end") {
    auto m = next_of(*ws, "message");
    ASSERT_TRUE(m) << testing::PrintToString(got);
    got.push_back(str(*m, "payload"));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"first", "second", "end"}))
      << "two subscriptions of a channel, one message each";
}

TEST(Feed, BadMessagesAreRefusedAndTheConnectionGoesOn) {
  redis_server server;
  gateway_process gw(
      external(server, {"--set", "feed.max_subscriptions=2", "--set", "feed.namespaces=users,carts",
                        "--set", "feed.max_message_bytes=256"}));
  auto ws = open_feed(gw.port());
  ASSERT_TRUE(ws->send("not json"));
  auto m = next_of(*ws, "refused");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "code"), "bad_message");
  EXPECT_EQ(
      str(subscribe(*ws, {{"id", "x"}, {"ns", "users"}, {"key", "a"}, {"prefix", "b"}}), "code"),
      "bad_message");
  EXPECT_EQ(str(subscribe(*ws, {{"id", "x"}, {"ns", "orders"}}), "code"), "forbidden");
  EXPECT_EQ(str(subscribe(*ws, {{"id", "x"}, {"channel", "news"}}), "code"), "forbidden");
  EXPECT_EQ(str(subscribe(*ws, {{"id", "a"}, {"ns", "users"}}), "type"), "subscribed");
  EXPECT_EQ(str(subscribe(*ws, {{"id", "a"}, {"ns", "carts"}}), "code"), "duplicate_id");
  EXPECT_EQ(str(subscribe(*ws, {{"id", "b"}, {"ns", "carts"}}), "type"), "subscribed");
  EXPECT_EQ(str(subscribe(*ws, {{"id", "c"}, {"ns", "carts"}, {"key", "k"}}), "code"),
            "too_many_subscriptions");
  ASSERT_TRUE(ws->send_json({{"op", "unsubscribe"}, {"id", "c"}}));
  m = next_of(*ws, "refused");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "code"), "not_subscribed");
  EXPECT_EQ(str(*m, "id"), "c");
  put(gw.port(), "users", "still", "served");
  m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "still");

  // A message past feed.max_message_bytes ends the connection: 1009.
  ASSERT_TRUE(ws->send(std::string(300, ' ') + "{}"));
  EXPECT_FALSE(ws->receive(10s));
  EXPECT_TRUE(ws->closed());
  EXPECT_EQ(ws->close_code(), 1009u);
}

TEST(Feed, UpgradeLimitsOriginsAndPlainRequests) {
  redis_server server;
  gateway_process gw(external(server, {"--set", "feed.max_connections=1", "--set",
                                       "feed.allowed_origins=https://app.example"}));
  auto plain = must(http_request(gw.port(), "GET", "/v1/feed"));
  EXPECT_EQ(plain.status, 426) << plain.body;
  unsigned status = 0;
  EXPECT_FALSE(ws_client::connect(gw.port(), {.origin = "https://evil.example"}, &status));
  EXPECT_EQ(status, 403u);
  auto first = ws_client::connect(gw.port(), {.origin = "https://app.example"});
  ASSERT_TRUE(first);
  status = 0;
  EXPECT_FALSE(ws_client::connect(gw.port(), {}, &status));
  EXPECT_EQ(status, 429u) << "feed.max_connections = 1";
  first->close();
  EXPECT_TRUE(eventually([&] { return ws_client::connect(gw.port()) != nullptr; }));

  gateway_process off(external(server, {"--set", "feed.enabled=false"}));
  status = 0;
  EXPECT_FALSE(ws_client::connect(off.port(), {}, &status));
  EXPECT_EQ(status, 404u);
}

TEST(Feed, AResumedSubscriberGetsEveryChangeItMissedOnce) {
  redis_server server;
  gateway_process gw(external(server));
  json::array since;
  {
    auto ws = open_feed(gw.port());
    since = positions_of(subscribe(*ws, {{"id", "r"}, {"ns", "bulk"}}));
    ws->close();
  }
  // Written while no one listens (the test does not wait 30 s: how long
  // the gap lasts changes nothing, what was written in it does).
  constexpr int changes = 10'000;
  put_many(gw.port(), "bulk", "k", 0, changes);
  auto ws = open_feed(gw.port());
  std::string reset;
  auto ack = subscribe(*ws, {{"id", "r"}, {"ns", "bulk"}, {"since", since}}, &reset);
  ASSERT_EQ(str(ack, "type"), "subscribed");
  EXPECT_TRUE(reset.empty()) << reset;
  std::set<std::string> keys;
  std::set<std::string> offsets;
  int received = 0;
  while (received < changes) {
    auto m = ws->receive(20s);
    ASSERT_TRUE(m) << "after " << received << " changes";
    if (str(*m, "type") != "change") continue;
    ++received;
    keys.insert(str(*m, "key"));
    EXPECT_TRUE(offsets.insert(str(*m, "offset")).second) << "sent twice: " << str(*m, "offset");
  }
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(changes));
  // Live from there on, and nothing replayed twice.
  put(gw.port(), "bulk", "after", "x");
  auto m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "after");
  EXPECT_FALSE(ws->receive(300ms)) << "nothing more";
}

TEST(Feed, APositionThatWasTrimmedGetsAReset) {
  redis_server server;
  gateway_process gw(external(server));
  json::array since;
  {
    auto ws = open_feed(gw.port());
    since = positions_of(subscribe(*ws, {{"id", "t"}, {"ns", "trim"}}));
  }
  put_many(gw.port(), "trim", "k", 0, 200);
  // Trim every stream of the log to its last entry.
  auto keys = server.command({"KEYS", "rcache:feed:*"});
  for (const auto& k : keys.elements) {
    if (k.find(":epoch") == std::string::npos) server.command({"XTRIM", k, "MAXLEN", "1"});
  }
  auto ws = open_feed(gw.port());
  std::string reset;
  auto ack = subscribe(*ws, {{"id", "t"}, {"ns", "trim"}, {"since", since}}, &reset);
  EXPECT_EQ(str(ack, "type"), "subscribed");
  EXPECT_EQ(reset, "trimmed");
  // A reset subscription is live from now.
  put(gw.port(), "trim", "new", "x");
  auto m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "new");
}

TEST(Feed, AWriteThroughOneGatewayReachesTheOthersSubscribers) {
  redis_server server;
  gateway_process a(external(server));
  gateway_process b(external(server));
  auto ws = open_feed(b.port());
  subscribe(*ws, {{"id", "x"}, {"ns", "shared"}, {"key", "k"}});
  put(a.port(), "shared", "k", "from a");
  auto m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "k");
}

TEST(Feed, ARestartedGatewayResumesItsSubscribers) {
  redis_server server({.persistence = true});
  json::array since;
  {
    gateway_process gw(external(server));
    auto ws = open_feed(gw.port());
    position_book book(subscribe(*ws, {{"id", "g"}, {"ns", "restart"}}));
    put(gw.port(), "restart", "before", "1");
    auto m = next_of(*ws, "change");
    ASSERT_TRUE(m);
    book.note(*m);
    since = book.since();
    EXPECT_EQ(gw.stop(), 0);
    ws->receive(5s);
    EXPECT_TRUE(ws->closed()) << "the connection ends with the gateway";
  }
  gateway_process other(external(server));
  put(other.port(), "restart", "while_away", "2");
  gateway_process gw(external(server));
  auto ws = open_feed(gw.port());
  std::string reset;
  subscribe(*ws, {{"id", "g"}, {"ns", "restart"}, {"since", since}}, &reset);
  EXPECT_TRUE(reset.empty()) << reset;
  auto m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "while_away") << "and not 'before' again";
}

TEST(Feed, SubscribersAreToldWhenRedisGoesAndComesBack) {
  redis_server server;  // no persistence: a restart loses the log
  gateway_process gw(external(server));
  auto ws = open_feed(gw.port());
  subscribe(*ws, {{"id", "d"}, {"ns", "down"}});
  put(gw.port(), "down", "k", "1");
  ASSERT_TRUE(next_of(*ws, "change"));
  server.kill();
  auto notice = next_of(*ws, "notice", 20s);
  ASSERT_TRUE(notice);
  EXPECT_EQ(str(*notice, "state"), "redis_unavailable");
  server.restart();
  // Back, with its data lost: the subscription is reset, then live again.
  bool available = false;
  bool reset = false;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((!available || !reset) && std::chrono::steady_clock::now() < deadline) {
    auto m = ws->receive(1s);
    if (!m) continue;
    if (str(*m, "type") == "notice" && str(*m, "state") == "redis_available") available = true;
    if (str(*m, "type") == "reset") {
      reset = true;
      EXPECT_EQ(str(*m, "reason"), "epoch_changed");
    }
  }
  EXPECT_TRUE(available);
  EXPECT_TRUE(reset) << "the stream was lost with Redis's data";
  ASSERT_TRUE(eventually([&] {
    auto r = http_request(gw.port(), "PUT", "/v1/ns/down/keys/k2", "2");
    return r && r->status == 200;
  }));
  auto m = next_of(*ws, "change", 20s);
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "k2");
}

// A consumer that stops reading while 3,000 changes of 3 KB arrive (more
// than the sockets' buffers hold).
struct slow_run {
  std::unique_ptr<ws_client> ws;
  std::vector<json::object> got;
};
slow_run run_slow_consumer(std::uint16_t port, const std::string& policy) {
  slow_run r;
  r.ws = open_feed(port);
  r.ws->shrink_receive_buffer();
  subscribe(*r.ws, {{"id", "s"}, {"ns", "slow"}, {"values", true}, {"policy", policy}});
  const std::string value(3000, 'v');
  for (int i = 0; i < 3000; ++i) {
    put(port, "slow", "k" + std::to_string(i % 10), value + std::to_string(i));
  }
  // Read what arrives until it stops.
  while (auto m = r.ws->receive(2s)) r.got.push_back(*m);
  return r;
}

// The gateway of the slow-consumer tests: a small outbox, values logged,
// and a write deadline longer than the writes take (the subscriber reads
// nothing meanwhile).
gateway_options slow_gateway(const redis_server& server) {
  return external(server, {"--set", "feed.queue_messages=16", "--set", "feed.value_max_bytes=4096",
                           "--set", "server.write_timeout_ms=120000"});
}

TEST(Feed, ASlowConsumerIsCoalescedToTheLatestValuePerKey) {
  redis_server server;
  gateway_process gw(slow_gateway(server));
  auto r = run_slow_consumer(gw.port(), "coalesce");
  std::map<std::string, std::string> latest;
  std::size_t changes = 0;
  for (const auto& m : r.got) {
    if (str(m, "type") != "change") continue;
    ++changes;
    latest[str(m, "key")] = str(m, "value");
  }
  EXPECT_LT(changes, 3000u) << "changes of the same key were coalesced";
  ASSERT_EQ(latest.size(), 10u) << "every key is seen";
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(latest["k" + std::to_string(k)], std::string(3000, 'v') + std::to_string(2990 + k))
        << "the last change of each key arrives";
  }
  EXPECT_FALSE(r.ws->closed());
}

TEST(Feed, ASlowConsumerUnderDropOldestIsToldOfTheGap) {
  redis_server server;
  gateway_process gw(slow_gateway(server));
  auto r = run_slow_consumer(gw.port(), "drop_oldest");
  std::uint64_t dropped = 0;
  std::size_t changes = 0;
  for (const auto& m : r.got) {
    if (str(m, "type") == "gap") dropped += m.at("dropped").as_int64();
    if (str(m, "type") == "change") ++changes;
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(changes + dropped, 3000u) << "every change is delivered or counted in a gap";
}

TEST(Feed, ASlowConsumerUnderCloseIsClosedWith4008) {
  redis_server server;
  gateway_process gw(slow_gateway(server));
  auto r = run_slow_consumer(gw.port(), "close");
  EXPECT_TRUE(r.ws->closed());
  EXPECT_EQ(r.ws->close_code(), 4008u);
}

TEST(Feed, DirectWritesReachSubscribersAndWritesThroughRcacheComeOnce) {
  redis_server server;
  server.command({"CONFIG", "SET", "notify-keyspace-events", "Kg$xe"});
  gateway_process gw(external(server));
  EXPECT_TRUE(eventually([&] {
    return gw.log().find("writes made straight into Redis reach feed subscribers") !=
           std::string::npos;
  })) << gw.log();
  auto ws = open_feed(gw.port());
  subscribe(*ws, {{"id", "d"}, {"ns", "users"}, {"prefix", "u:"}});
  // Let the keyspace subscription settle: a direct write is seen once it is.
  ASSERT_TRUE(eventually([&] {
    server.command({"SET", "users:u:probe", "x"});
    auto m = ws->receive(200ms);
    return m && str(*m, "key") == "u:probe";
  }));
  while (ws->receive(500ms)) {
  }
  server.command({"SET", "users:u:cli", "from redis-cli"});
  auto m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "u:cli");
  EXPECT_EQ(str(*m, "op"), "set");
  EXPECT_TRUE(m->at("direct").as_bool());
  EXPECT_FALSE(m->contains("offset")) << "a direct write has no place in the log";
  server.command({"DEL", "users:u:cli"});
  m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "op"), "del");

  // Through rcache: its keyspace notification and its logged change are
  // one change, delivered once, with its position.
  put(gw.port(), "users", "u:gw", "through rcache");
  m = next_of(*ws, "change");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "key"), "u:gw");
  EXPECT_FALSE(str(*m, "offset").empty());
  EXPECT_FALSE(m->contains("direct"));
  EXPECT_FALSE(ws->receive(1s)) << "no second, direct copy of the same write";
}

TEST(Feed, ConfigCheckSaysWhetherDirectWritesAreSeen) {
  redis_server server;
  auto off = run_rcache({"config", "check", "--redis-url", server.url()});
  EXPECT_EQ(off.exit_code, 0) << off.output;
  EXPECT_NE(off.output.find("do not reach feed subscribers"), std::string::npos) << off.output;
  server.command({"CONFIG", "SET", "notify-keyspace-events", "AK"});
  auto on = run_rcache({"config", "check", "--redis-url", server.url()});
  EXPECT_NE(on.output.find("writes made straight into Redis reach feed subscribers"),
            std::string::npos)
      << on.output;
  server.command({"CONFIG", "SET", "notify-keyspace-events", ""});
  gateway_process gw(external(server));
  EXPECT_TRUE(eventually([&] {
    return gw.log().find("do not reach feed subscribers") != std::string::npos;
  })) << gw.log();
}

TEST(Feed, AThousandSubscribersAtOnce) {
  // Two sockets per subscriber in this process and the gateway's.
  rlimit nofile{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &nofile), 0);
  if (nofile.rlim_cur < 4096 && nofile.rlim_max >= 4096) {
    nofile.rlim_cur = 4096;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &nofile), 0);
  }
  ASSERT_GE(nofile.rlim_cur, 2100u) << "RLIMIT_NOFILE is too low for 1,000 subscribers";
  redis_server server;
  gateway_process gw(external(server));
  constexpr int n = 1000;
  std::vector<std::unique_ptr<ws_client>> subs;
  for (int i = 0; i < n; ++i) {
    subs.push_back(open_feed(gw.port()));
    ASSERT_TRUE(subs.back()->send_json({{"op", "subscribe"}, {"id", "a"}, {"ns", "fan"}}));
  }
  for (auto& s : subs) ASSERT_TRUE(next_of(*s, "subscribed"));
  put(gw.port(), "fan", "k", "to all");
  int got = 0;
  for (auto& s : subs) {
    auto m = next_of(*s, "change");
    if (m && str(*m, "key") == "k") ++got;
  }
  EXPECT_EQ(got, n);
}

}  // namespace
}  // namespace rcache::test
