// End-to-end tests of `rcache serve`: the real binary, driven over HTTP,
// against real redis-server processes (a fixture server, or the gateway's
// own embedded one). They cover the API, keep-alive and pipelining, every
// limit and error answer, health / readiness / metrics / logs,
// configuration, the embedded Redis, graceful shutdown, and Redis dying
// while requests are in flight.
//
// Waiting is always for a condition (a response, a metric, an exit), with
// a bound; never a sleep that hopes.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <thread>

#include "embedded/admin_command.hpp"
#include "gateway_helpers.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "redis_cluster.hpp"
#include "redis_server.hpp"
#include "sentinel_topology.hpp"

namespace rcache::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// ---- the API ----------------------------------------------------------------------

TEST(Gateway, KeysRoundTripWithContentTypeTtlAndEtag) {
  redis_server server;
  gateway_process gw(external(server));
  const auto p = gw.port();

  auto put = must(http_request(p, "PUT", "/v1/ns/users/keys/42?ttl=100", R"({"name":"ada"})",
                               "Content-Type: application/json\r\n"));
  EXPECT_EQ(put.status, 200) << put.body;
  EXPECT_TRUE(body_json(put).at("stored").as_bool());
  const auto etag = put.header("etag");
  EXPECT_FALSE(etag.empty());

  auto get = must(http_request(p, "GET", "/v1/ns/users/keys/42"));
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, R"({"name":"ada"})");
  EXPECT_EQ(get.header("content-type"), "application/json") << "the content type is kept";
  EXPECT_EQ(get.header("etag"), etag);
  EXPECT_EQ(get.header("server"), "rcache");

  auto head = must(http_request(p, "HEAD", "/v1/ns/users/keys/42"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "14");
  EXPECT_TRUE(head.body.empty());

  auto cached =
      must(http_request(p, "GET", "/v1/ns/users/keys/42", {}, "If-None-Match: " + etag + "\r\n"));
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());
  auto changed =
      must(http_request(p, "GET", "/v1/ns/users/keys/42", {}, "If-None-Match: \"not-it\"\r\n"));
  EXPECT_EQ(changed.status, 200);

  // Plain bodies are stored byte for byte: any Redis client reads them.
  auto plain = must(http_request(p, "PUT", "/v1/ns/users/keys/raw", std::string("a\0b", 3),
                                 "Content-Type: application/octet-stream\r\n"));
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(server.command({"GET", "users:raw"}).text, std::string("a\0b", 3));
  // And values written by other clients are served as they are.
  server.command({"SET", "users:other", "from redis-cli"});
  auto other = must(http_request(p, "GET", "/v1/ns/users/keys/other"));
  EXPECT_EQ(other.body, "from redis-cli");
  EXPECT_EQ(other.header("content-type"), "application/octet-stream");

  auto ttl = must(http_request(p, "GET", "/v1/ns/users/keys/42/ttl"));
  const auto ms = body_json(ttl).at("ttl_ms").as_int64();
  EXPECT_GT(ms, 90'000);
  EXPECT_LE(ms, 100'000);
  EXPECT_TRUE(body_json(must(http_request(p, "GET", "/v1/ns/users/keys/42/exists")))
                  .at("exists")
                  .as_bool());
  auto touch = must(http_request(p, "POST", "/v1/ns/users/keys/42/touch?ttl=500"));
  EXPECT_TRUE(body_json(touch).at("touched").as_bool());
  EXPECT_GT(std::stoll(server.command({"PTTL", "users:42"}).text), 400'000);

  auto nx = must(http_request(p, "PUT", "/v1/ns/users/keys/42?nx=true", "other"));
  EXPECT_FALSE(body_json(nx).at("stored").as_bool()) << "nx keeps the existing value";

  auto del = must(http_request(p, "DELETE", "/v1/ns/users/keys/42"));
  EXPECT_TRUE(body_json(del).at("deleted").as_bool());
  auto gone = must(http_request(p, "GET", "/v1/ns/users/keys/42"));
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(error_code_of(gone), "not_found");
  EXPECT_EQ(must(http_request(p, "GET", "/v1/ns/users/keys/42/ttl")).status, 404);
  EXPECT_EQ(must(http_request(p, "POST", "/v1/ns/users/keys/42/touch")).status, 404);
  EXPECT_FALSE(body_json(must(http_request(p, "GET", "/v1/ns/users/keys/42/exists")))
                   .at("exists")
                   .as_bool());
  EXPECT_EQ(gw.stop(), 0);
}

TEST(Gateway, NearCacheHitsNeverServeAValueChangedBehindIt) {
  redis_server server;
  gateway_process gw(external(server));
  const auto p = gw.port();
  must(http_request(p, "PUT", "/v1/ns/n/keys/k", "v1"));
  EXPECT_EQ(must(http_request(p, "GET", "/v1/ns/n/keys/k")).body, "v1");
  EXPECT_EQ(must(http_request(p, "GET", "/v1/ns/n/keys/k")).body, "v1");  // from the near cache
  EXPECT_GT(metric(p, R"(rcache_cache_hits_total{namespace="n",tier="near"})"), 0);
  server.command({"SET", "n:k", "v2"});  // another writer, straight into Redis
  EXPECT_TRUE(
      eventually([&] { return must(http_request(p, "GET", "/v1/ns/n/keys/k")).body == "v2"; }));
}

TEST(Gateway, BatchGetSetAndInvalidation) {
  redis_server server;
  gateway_process gw(external(server));
  const auto p = gw.port();
  auto set = must(
      http_request(p, "POST", "/v1/ns/b/batch/set",
                   R"({"ttl":50,"items":[{"key":"user:1","value":"one","content_type":"text/plain"},
          {"key":"user:2","value_base64":"AP8="},{"key":"order:1","value":"o"}]})"));
  EXPECT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(body_json(set).at("stored").as_int64(), 3);
  EXPECT_LE(std::stoll(server.command({"PTTL", "b:order:1"}).text), 50'000);

  auto get = must(
      http_request(p, "POST", "/v1/ns/b/batch/get", R"({"keys":["user:1","missing","user:2"]})"));
  const auto items = body_json(get).at("items").as_array();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].at("value").as_string(), "one");
  EXPECT_EQ(items[0].at("content_type").as_string(), "text/plain");
  EXPECT_FALSE(items[1].at("found").as_bool());
  EXPECT_EQ(items[2].at("value_base64").as_string(), "AP8=");

  auto by_key =
      must(http_request(p, "POST", "/v1/ns/b/invalidate", R"({"keys":["order:1","nope"]})"));
  EXPECT_EQ(body_json(by_key).at("deleted").as_int64(), 1);
  auto by_pattern = must(http_request(p, "POST", "/v1/ns/b/invalidate", R"({"pattern":"user:*"})"));
  EXPECT_EQ(body_json(by_pattern).at("deleted").as_int64(), 2);
  // Every key of the namespace is gone (the change log's streams stay).
  EXPECT_TRUE(server.command({"KEYS", "b:*"}).elements.empty());
}

// PUT ?tags= and invalidate {"tags":[...]}: the tagged values become
// misses (also through the near cache, which had them), the others stay;
// bad tags are 400 invalid_tag; the metrics count the invalidation.
TEST(Gateway, TaggedValuesAreInvalidatedByTag) {
  redis_server server;
  gateway_process gw(external(server));
  const auto p = gw.port();
  auto put = [&](const std::string& key, const std::string& query) {
    return must(http_request(p, "PUT", "/v1/ns/t/keys/" + key + query, "v-" + key));
  };
  EXPECT_EQ(put("a", "?tags=team:7").status, 200);
  EXPECT_EQ(put("b", "?tags=team:7,plan:pro&ttl=60").status, 200);
  EXPECT_EQ(put("c", "?tags=plan:pro").status, 200);
  for (const char* k : {"a", "b", "c"}) {  // twice: the second from the near cache
    for (int i = 0; i < 2; ++i) {
      auto got = must(http_request(p, "GET", std::string("/v1/ns/t/keys/") + k));
      EXPECT_EQ(got.status, 200) << k;
      EXPECT_EQ(got.body, std::string("v-") + k);
    }
  }
  auto inv = must(http_request(p, "POST", "/v1/ns/t/invalidate", R"({"tags":["team:7"]})"));
  EXPECT_EQ(inv.status, 200) << inv.body;
  EXPECT_EQ(body_json(inv).at("invalidated").as_int64(), 1);
  EXPECT_EQ(must(http_request(p, "GET", "/v1/ns/t/keys/a")).status, 404);
  EXPECT_EQ(must(http_request(p, "GET", "/v1/ns/t/keys/b")).status, 404);
  EXPECT_EQ(must(http_request(p, "GET", "/v1/ns/t/keys/c")).body, "v-c");
  // Bad tags: a clear 400, nothing written.
  auto bad = put("d", "?tags=has%20space");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body_json(bad).at("error").at("code").as_string(), "invalid_tag");
  EXPECT_EQ(must(http_request(p, "GET", "/v1/ns/t/keys/d")).status, 404);
  auto bad_body = must(http_request(p, "POST", "/v1/ns/t/invalidate", R"({"tags":"team:7"})"));
  EXPECT_EQ(bad_body.status, 400);
  auto both =
      must(http_request(p, "POST", "/v1/ns/t/invalidate", R"({"tags":["x"],"pattern":"*"})"));
  EXPECT_EQ(both.status, 400);
  const auto metrics = must(http_request(p, "GET", "/metrics")).body;
  EXPECT_NE(metrics.find("rcache_cache_tag_invalidations_total{namespace=\"t\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("rcache_cache_tag_stale_total{namespace=\"t\"} 2"), std::string::npos);
}

// The geo routes: points in and out, searches answered from the cache
// (X-Cache) until a point in their area moves, and clear 400s.
TEST(Gateway, GeoPointsAndCachedSearches) {
  redis_server server;
  gateway_process gw(external(server));
  const auto p = gw.port();
  for (int i = 0; i < 5; ++i) {
    const auto body = R"({"lon":)" + std::to_string(2.35 + 0.001 * i) +
                      R"(,"lat":48.85,"data":"shop )" + std::to_string(i) + R"("})";
    auto put = must(http_request(p, "PUT", "/v1/geo/paris/points/s" + std::to_string(i), body));
    EXPECT_EQ(put.status, 200) << put.body;
    EXPECT_TRUE(body_json(put).at("added").as_bool());
  }
  auto one = must(http_request(p, "GET", "/v1/geo/paris/points/s1"));
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(body_json(one).at("data").as_string(), "shop 1");
  EXPECT_NEAR(body_json(one).at("lon").as_double(), 2.351, 1e-5);
  const std::string search = "/v1/geo/paris/search?lon=2.352&lat=48.85&radius=1&unit=km&count=10";
  auto first = must(http_request(p, "GET", search));
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-cache"), "miss");
  EXPECT_EQ(body_json(first).at("points").as_array().size(), 5u);
  auto second = must(http_request(p, "GET", search));
  EXPECT_EQ(second.header("x-cache"), "hit");
  EXPECT_EQ(second.body, first.body);
  // A point moves out of the area: the next answer is fresh and lacks it.
  EXPECT_FALSE(body_json(must(http_request(p, "PUT", "/v1/geo/paris/points/s0",
                                           R"({"lon":2.6,"lat":48.9})")))
                   .at("added")
                   .as_bool());
  auto third = must(http_request(p, "GET", search));
  EXPECT_EQ(third.header("x-cache"), "miss");
  EXPECT_EQ(body_json(third).at("points").as_array().size(), 4u);
  EXPECT_TRUE(body_json(must(http_request(p, "DELETE", "/v1/geo/paris/points/s1")))
                  .at("removed")
                  .as_bool());
  EXPECT_EQ(body_json(must(http_request(p, "GET", search))).at("points").as_array().size(), 3u);
  EXPECT_EQ(must(http_request(p, "GET", "/v1/geo/paris/points/s1")).status, 404);
  // A box search.
  auto box = must(
      http_request(p, "GET", "/v1/geo/paris/search?lon=2.352&lat=48.85&width=2000&height=500"));
  EXPECT_EQ(box.status, 200) << box.body;
  // Bad input: 400 with the reason, nothing written.
  for (const auto& [method, target, body, code] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"PUT", "/v1/geo/paris/points/x", R"({"lon":181,"lat":0})", "invalid_geo"},
           {"PUT", "/v1/geo/paris/points/x", R"({"lon":0,"lat":86})", "invalid_geo"},
           {"PUT", "/v1/geo/paris/points/x", R"({"lon":"0","lat":0})", "invalid_json"},
           {"PUT", "/v1/geo/bad%7Bset/points/x", R"({"lon":0,"lat":0})", "invalid_set"},
           {"GET", "/v1/geo/paris/search?lon=0&lat=0", "", "invalid_geo"},
           {"GET", "/v1/geo/paris/search?lon=0&lat=0&radius=0", "", "invalid_geo"},
           {"GET", "/v1/geo/paris/search?lon=0&lat=0&radius=301&unit=km", "", "invalid_geo"},
           {"GET", "/v1/geo/paris/search?lon=0&lat=0&radius=1&count=1001", "", "invalid_geo"},
           {"GET", "/v1/geo/paris/search?lon=0&lat=0&radius=1&unit=mi", "", "invalid_geo"},
           {"GET", "/v1/geo/paris/search?lon=0&lat=0&radius=1&width=1&height=1", "", "invalid_geo"},
       }) {
    auto r = must(http_request(p, method, target, body));
    EXPECT_EQ(r.status, 400) << target << " " << r.body;
    EXPECT_EQ(body_json(r).at("error").at("code").as_string(), code) << target;
  }
  EXPECT_EQ(must(http_request(p, "GET", "/v1/geo/paris/points/x")).status, 404);
}

// Items of a batch succeed or fail on their own: the answer takes the first
// failed item's status and names every failed key, in request order.
TEST(Gateway, ABatchSetThatPartlyFailsNamesTheFailedItems) {
  redis_server server;
  gateway_process gw(external(server, {"--set", "cache.max_value_bytes=16"}));
  const auto p = gw.port();
  const std::string big(40, 'x');
  auto set = must(http_request(p, "POST", "/v1/ns/b/batch/set",
                               R"({"items":[{"key":"a","value":"small"},{"key":"big1","value":")" +
                                   big + R"("},{"key":"c","value":"also small"},)" +
                                   R"({"key":"big2","value":")" + big + R"("}]})"));
  EXPECT_EQ(set.status, 413) << set.body;
  const auto body = body_json(set);
  EXPECT_EQ(body.at("error").at("code").as_string(), "value_too_large");
  EXPECT_EQ(body.at("stored").as_int64(), 2) << set.body;
  const auto& failed = body.at("failed").as_array();
  ASSERT_EQ(failed.size(), 2u) << set.body;
  EXPECT_EQ(failed[0].at("key").as_string(), "big1");
  EXPECT_EQ(failed[0].at("code").as_string(), "value_too_large");
  EXPECT_EQ(failed[1].at("key").as_string(), "big2");
  EXPECT_EQ(server.command({"GET", "b:a"}).text, "small");
  EXPECT_EQ(server.command({"GET", "b:c"}).text, "also small");
  EXPECT_EQ(server.command({"EXISTS", "b:big1"}).text, "0");
}

TEST(Gateway, KeepAliveAndPipelinedRequestsAnswerInOrder) {
  redis_server server;
  gateway_process gw(external(server));
  const auto accepted_before =
      metric(gw.port(), "rcache_http_connections_total{result=\"accepted\"}");
  http_connection c(gw.port());
  // Three requests in one write: the answers come back in order.
  ASSERT_TRUE(c.send(format_request("PUT", "/v1/ns/p/keys/a", "1") +
                     format_request("GET", "/v1/ns/p/keys/a") +
                     format_request("GET", "/v1/ns/p/keys/missing")));
  auto r1 = must(c.read_response());
  auto r2 = must(c.read_response());
  auto r3 = must(c.read_response());
  EXPECT_EQ(r1.status, 200);
  EXPECT_EQ(r2.body, "1");
  EXPECT_EQ(r3.status, 404);
  // The same connection keeps serving.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(must(c.request("GET", "/v1/ns/p/keys/a")).body, "1");
  EXPECT_EQ(metric(gw.port(), "rcache_http_connections_total{result=\"accepted\"}"),
            accepted_before + 2)
      << "one connection for all of that (and one for this scrape)";
  // HTTP/1.0 without keep-alive gets its answer, then the connection closes.
  http_connection old(gw.port());
  ASSERT_TRUE(old.send("GET /healthz HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(must(old.read_response()).status, 200);
  EXPECT_TRUE(old.closed_by_peer());
}

// An upgrade request to any path but the feed's (/v1/feed, feed_test.cpp) is
// a clear 404, even at a path that is an HTTP route (a WebSocket client must
// not take a value for a handshake), and the connection goes on as HTTP/1.1.
TEST(Gateway, AWebSocketUpgradeIs404AndTheConnectionStaysHttp) {
  redis_server server;
  gateway_process gw(external(server));
  constexpr std::string_view handshake =
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  http_connection c(gw.port());
  ASSERT_EQ(must(c.request("PUT", "/v1/ns/p/keys/a", "1")).status, 200);
  for (const auto* path : {"/v1/feeds", "/v1/ns/p/keys/a"}) {
    const auto r = must(c.request("GET", path, {}, handshake));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(error_code_of(r), "not_found") << path;
    EXPECT_EQ(body_json(r).at("error").at("message").as_string(),
              "no WebSocket endpoint at this path");
  }
  EXPECT_EQ(must(c.request("GET", "/v1/ns/p/keys/a")).body, "1") << "still HTTP";
  EXPECT_EQ(
      must(c.request("GET", "/v1/ns/p/keys/a", {}, "Upgrade: h2c\r\nConnection: Upgrade\r\n")).body,
      "1")
      << "another protocol's upgrade is ignored";
  EXPECT_EQ(metric(gw.port(), R"(rcache_http_requests_total{route="websocket",status="404"})"), 2);
}

// ---- limits and errors ------------------------------------------------------------

TEST(Gateway, BadInputGetsJsonErrorsAndTheServerStaysUp) {
  redis_server server;
  gateway_process gw(external(
      server, {"--set", "server.max_body_bytes=1000", "--set", "server.max_header_bytes=2048"}));
  const auto p = gw.port();
  auto expect_error = [&](const http_response& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(error_code_of(r), code) << r.body;
  };
  expect_error(must(http_request(p, "GET", "/v1/ns/a/keys/" + std::string(17 * 1024, 'k'), {}, {})),
               431, "headers_too_large");
  expect_error(must(http_request(p, "GET", "/v1/ns/bad!ns/keys/k")), 400, "invalid_namespace");
  expect_error(must(http_request(p, "POST", "/v1/ns/a/batch/get", "{not json")), 400,
               "invalid_json");
  expect_error(must(http_request(p, "GET", "/v1/nothing")), 404, "not_found");
  auto m = must(http_request(p, "PATCH", "/v1/ns/a/keys/k"));
  expect_error(m, 405, "method_not_allowed");
  EXPECT_EQ(m.header("allow"), "GET, HEAD, PUT, DELETE");
  expect_error(must(http_request(p, "PUT", "/v1/ns/a/keys/k", std::string(1001, 'x'))), 413,
               "payload_too_large");
  // Expect: 100-continue with a body over the limit is refused before it is sent.
  {
    http_connection c(p);
    ASSERT_TRUE(
        c.send("PUT /v1/ns/a/keys/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
               "Expect: 100-continue\r\n\r\n"));
    expect_error(must(c.read_response()), 413, "payload_too_large");
  }
  {
    // Within the limit, the client gets "100 Continue" and then the answer.
    http_connection c(p);
    ASSERT_TRUE(
        c.send("PUT /v1/ns/a/keys/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
               "Expect: 100-continue\r\n\r\n"));
    EXPECT_EQ(must(c.read_response()).status, 100);
    ASSERT_TRUE(c.send("abc"));
    EXPECT_EQ(must(c.read_response()).status, 200);
  }
  for (const std::string& garbage :
       {std::string("GET / HTTP/9.9\r\n\r\n"), std::string("\x16\x03\x01\x02\x00\x01\x00", 7),
        std::string("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
        std::string("PUT /v1/ns/a/keys/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                    "chunked\r\n\r\nzz\r\n"),
        std::string("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")}) {
    http_connection c(p);
    ASSERT_TRUE(c.send(garbage));
    auto r = c.read_response();
    ASSERT_TRUE(r) << "malformed HTTP gets an answer";
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(error_code_of(*r), "bad_request");
    EXPECT_TRUE(c.closed_by_peer()) << "and the connection is closed";
  }
  EXPECT_EQ(must(http_request(p, "GET", "/healthz")).status, 200) << "still up";
  EXPECT_TRUE(gw.running());
}

TEST(Gateway, ConnectionLimitAnswers429) {
  redis_server server;
  gateway_process gw(external(server, {"--set", "server.max_connections=2"}));
  http_connection a(gw.port());
  ASSERT_EQ(must(a.request("GET", "/healthz")).status, 200);
  http_connection b(gw.port());
  ASSERT_EQ(must(b.request("GET", "/healthz")).status, 200);
  http_connection c(gw.port());
  auto refused = c.read_response();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(error_code_of(*refused), "too_many_connections");
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(must(a.request("GET", "/healthz")).status, 200) << "the others are unaffected";
}

// Each deadline is its own setting: the read deadline ends a request that
// never finishes while idle keep-alive connections stay, and the idle
// deadline ends idle connections while a slow request goes on; swapping
// the two in the server fails both halves. 1 s, not less: a loaded ASan
// machine must not trip them where the test expects none.
TEST(Gateway, SlowAndIdleClientsAreDisconnectedEachByItsOwnDeadline) {
  redis_server server;
  {
    gateway_process gw(
        external(server, {"--set", "server.read_timeout_ms=1000", "--set",
                          "server.idle_timeout_ms=60000", "--set", "server.threads=1"}));
    http_connection slow(gw.port());  // never finishes its request head
    ASSERT_TRUE(slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    http_connection idle(gw.port());
    ASSERT_EQ(must(idle.request("GET", "/healthz")).status, 200);
    // With one I/O thread, being served now proves neither holds the thread.
    EXPECT_EQ(must(http_request(gw.port(), "GET", "/healthz")).status, 200);
    EXPECT_TRUE(slow.closed_by_peer()) << "read deadline";
    EXPECT_EQ(must(idle.request("GET", "/healthz")).status, 200)
        << "the idle connection outlived the read deadline";
  }
  gateway_process gw(
      external(server, {"--set", "server.read_timeout_ms=60000", "--set",
                        "server.idle_timeout_ms=1000", "--set", "server.threads=1"}));
  http_connection slow(gw.port());
  ASSERT_TRUE(slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  http_connection idle(gw.port());
  ASSERT_EQ(must(idle.request("GET", "/healthz")).status, 200);
  EXPECT_TRUE(idle.closed_by_peer()) << "idle deadline";
  ASSERT_TRUE(slow.send("\r\n"));
  const auto finished = slow.read_response();
  ASSERT_TRUE(finished) << "the slow request outlived the idle deadline";
  EXPECT_EQ(finished->status, 200);
}

// A client that asks for a large answer and never reads it: the write
// deadline (and no other) frees the connection.
TEST(Gateway, AClientThatStopsReadingIsCutOffByTheWriteDeadline) {
  redis_server server;
  // 24 MiB: more than the socket buffers of both ends hold (Linux caps a
  // send buffer at tcp_wmem's maximum, 4 MiB on Debian).
  gateway_process gw(external(
      server,
      {"--set", "server.write_timeout_ms=500", "--set", "server.read_timeout_ms=60000", "--set",
       "server.idle_timeout_ms=60000", "--set", "server.max_body_bytes=33554432"}));
  const auto p = gw.port();
  const std::string big(24 * 1024 * 1024, 'w');
  ASSERT_EQ(must(http_request(p, "PUT", "/v1/ns/w/keys/big", big)).status, 200);
  http_connection reader(p, std::chrono::seconds(15), /*receive_buffer=*/4096);
  ASSERT_TRUE(reader.send(format_request("GET", "/v1/ns/w/keys/big")));
  // The scrape's own connection is the one left open once the reader is cut off.
  EXPECT_TRUE(eventually([&] { return metric(p, "rcache_http_connections") == 1; }))
      << "the reader's connection is still open";
  EXPECT_EQ(must(http_request(p, "GET", "/healthz")).status, 200);
}

TEST(Gateway, NamespacesAreBounded) {
  redis_server server;
  gateway_process gw(external(server, {"--set", "server.max_namespaces=2"}));
  EXPECT_EQ(must(http_request(gw.port(), "PUT", "/v1/ns/a/keys/k", "1")).status, 200);
  EXPECT_EQ(must(http_request(gw.port(), "PUT", "/v1/ns/b/keys/k", "1")).status, 200);
  auto third = must(http_request(gw.port(), "PUT", "/v1/ns/c/keys/k", "1"));
  EXPECT_EQ(third.status, 400);
  EXPECT_EQ(error_code_of(third), "too_many_namespaces");
  EXPECT_EQ(must(http_request(gw.port(), "GET", "/v1/ns/a/keys/k")).status, 200);
}

// ---- health, metrics, logs --------------------------------------------------------

TEST(Gateway, HealthReadinessMetricsAndJsonLogsWithoutSecrets) {
  redis_server server({.requirepass = "hunter2-secret"});
  auto opts = external(server);
  opts.env = {{"REDIS_PASSWORD", "hunter2-secret"}, {"RCACHE_LOG_LEVEL", "debug"}};
  gateway_process gw(opts);
  const auto p = gw.port();
  EXPECT_EQ(body_json(must(http_request(p, "GET", "/healthz"))).at("status").as_string(), "ok");
  EXPECT_EQ(body_json(must(http_request(p, "GET", "/readyz"))).at("status").as_string(), "ready");
  must(http_request(p, "PUT", "/v1/ns/m/keys/k", "v"));
  must(http_request(p, "GET", "/v1/ns/m/keys/k"));
  must(http_request(p, "GET", "/v1/ns/m/keys/missing"));
  // A request is counted once its response is written, which can be just
  // after the client has read it: poll until the last one is in.
  const std::vector<std::string> expected = {
      R"(rcache_http_requests_total{route="/v1/ns/{ns}/keys/{key}",status="200"} )",
      R"(rcache_http_requests_total{route="/v1/ns/{ns}/keys/{key}",status="404"} 1)",
      R"(rcache_http_request_duration_seconds_count{route="/v1/ns/{ns}/keys/{key}"} )",
      "rcache_http_connections ",
      R"(rcache_cache_misses_total{namespace="m"} 1)",
      R"(rcache_op_duration_seconds_count{op="set"} 1)"};
  http_response metrics;
  auto all_present = [&] {
    metrics = must(http_request(p, "GET", "/metrics"));
    for (const auto& series : expected) {
      if (metrics.body.find(series) == std::string::npos) return false;
    }
    return true;
  };
  EXPECT_TRUE(eventually(all_present));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("content-type").substr(0, 10), "text/plain");
  for (const auto& series : expected) {
    EXPECT_NE(metrics.body.find(series), std::string::npos) << series;
  }
  EXPECT_EQ(gw.stop(), 0);

  const auto log = gw.log();
  EXPECT_EQ(log.find("hunter2"), std::string::npos) << "no secret in any log line";
  std::istringstream lines(log);
  std::string line;
  int access = 0;
  int total = 0;
  while (std::getline(lines, line)) {
    ++total;
    json::value v;
    ASSERT_NO_THROW(v = json::parse(line)) << line;
    EXPECT_TRUE(v.as_object().contains("ts")) << line;
    EXPECT_TRUE(v.as_object().contains("level")) << line;
    if (v.at("logger").as_string() == "access") {
      ++access;
      EXPECT_TRUE(v.as_object().contains("status")) << line;
      EXPECT_TRUE(v.as_object().contains("duration_us")) << line;
      EXPECT_TRUE(std::string_view(v.at("remote").as_string()).starts_with("127.0.0.1:")) << line;
    }
  }
  EXPECT_GE(access, 6);
  EXPECT_GT(total, access);

  // The access log can be turned off; /metrics with monitoring off.
  gateway_process quiet(external(server, {"--no-access-log", "--set", "monitoring.enabled=false"}));
  auto off = must(http_request(quiet.port(), "GET", "/metrics"));
  EXPECT_EQ(off.status, 404);
  EXPECT_EQ(quiet.stop(), 0);
  EXPECT_EQ(quiet.log().find("\"logger\":\"access\""), std::string::npos);
}

// ---- configuration ----------------------------------------------------------------

TEST(GatewayConfig, InvalidSettingsRefuseToStartAndNameTheSetting) {
  auto r = run_rcache({"serve", "--listen", "127.0.0.1:1"},
                      {{"CACHE_DEFAULT_TTL", "soon"}, {"REDIS_PORT", "0"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("cache.default_ttl (from environment variable CACHE_DEFAULT_TTL)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("redis.port"), std::string::npos) << r.output;

  temp_dir dir;
  std::ofstream(dir.path() / "bad.toml") << "[server]\nlisten = 8080\nthreadz = 1\n";
  auto f = run_rcache({"serve", "--config", (dir.path() / "bad.toml").string()});
  EXPECT_EQ(f.exit_code, 2);
  EXPECT_NE(f.output.find("unknown setting 'server.threadz'"), std::string::npos) << f.output;
}

TEST(GatewayConfig, CheckPrintsTheEffectiveConfigurationRedacted) {
  temp_dir dir;
  std::ofstream(dir.path() / "rcache.toml") << "[cache]\ndefault_ttl = 77\n";
  auto r = run_rcache({"config", "check", "--threads", "3"},
                      {{"RCACHE_CONFIG", (dir.path() / "rcache.toml").string()},
                       {"REDIS_URL", "redis://:topsecret@127.0.0.1:6390/2"},
                       {"CACHE_WARMING_ENABLED", "true"}});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("topsecret"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("default_ttl = 77"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("threads = 3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("# environment REDIS_URL"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NOT BUILT YET (cache warming)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("warning: cache.warming"), std::string::npos) << r.output;
}

// ---- Redis failures and shutdown ---------------------------------------------------

TEST(Gateway, RedisKilledMidTrafficGives503ThenRecovers) {
  redis_server server;
  gateway_process gw(external(server, {"--set", "redis.command_timeout_ms=500"}));
  const auto p = gw.port();
  ASSERT_EQ(must(http_request(p, "PUT", "/v1/ns/f/keys/k", "v")).status, 200);

  // Clients keep sending while Redis dies; every answer is 200, a JSON 503,
  // or (a read after the restart of this non-persistent Redis) a 404.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> unavailable{0};
  std::atomic<int> other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      http_connection c(p);
      const auto key = "/v1/ns/f/keys/w" + std::to_string(t);
      for (int i = 0; !stop.load(); ++i) {
        const bool read = i % 2 == 1;
        auto r = read ? c.request("GET", key) : c.request("PUT", key, "x");
        if (!r) {
          ++other;
          ADD_FAILURE() << "connection lost";
          return;
        }
        if (r->status == 200) {
          ++ok;
        } else if (r->status == 503 && r->header("retry-after") == "1" &&
                   error_code_of(*r) == "redis_unavailable") {
          ++unavailable;
        } else if (!(read && r->status == 404)) {
          ++other;
          ADD_FAILURE() << r->status << " " << r->body;
          return;
        }
      }
    });
  }
  EXPECT_TRUE(eventually([&] { return ok.load() > 50; }));
  server.kill();
  EXPECT_TRUE(eventually([&] { return unavailable.load() > 10; }));
  EXPECT_EQ(must(http_request(p, "GET", "/healthz")).status, 200) << "the process is up";
  EXPECT_EQ(must(http_request(p, "GET", "/readyz")).status, 503) << "but not ready";
  server.restart();
  const int ok_before = ok.load();
  EXPECT_TRUE(eventually([&] { return ok.load() > ok_before + 50; })) << "serving again";
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(other.load(), 0) << "no answer other than 200 or a JSON 503, no dropped connection";
  EXPECT_EQ(must(http_request(p, "GET", "/readyz")).status, 200);
  EXPECT_EQ(gw.stop(), 0);
}

TEST(Gateway, SigtermFinishesInFlightRequestsAndExitsZero) {
  redis_server server;
  // No health-check PING may give up on the paused server meanwhile.
  gateway_process gw(external(server, {"--set", "redis.command_timeout_ms=20000", "--set",
                                       "redis.health_check_interval_ms=0"}));
  const auto p = gw.port();
  ASSERT_EQ(must(http_request(p, "PUT", "/v1/ns/s/keys/k", "v")).status, 200);
  http_connection idle(p);
  ASSERT_EQ(must(idle.request("GET", "/healthz")).status, 200);

  // A request held in flight: Redis is paused while it waits for the reply.
  server.pause();
  http_connection busy(p);
  ASSERT_TRUE(busy.send(format_request("GET", "/v1/ns/s/keys/k/ttl")));
  // In flight: that one, and the scrape asking.
  ASSERT_TRUE(eventually([&] { return metric(p, "rcache_http_requests_in_flight") == 2; }));

  gw.signal(SIGTERM);
  EXPECT_TRUE(idle.closed_by_peer()) << "idle keep-alive connections are closed at once";
  EXPECT_TRUE(eventually([&] {
    try {
      http_connection probe(p);
      return false;
    } catch (const std::system_error&) {
      return true;
    }
  })) << "no new connections are accepted";
  EXPECT_TRUE(gw.running()) << "it waits for the request in flight";
  server.resume();
  auto r = busy.read_response();
  ASSERT_TRUE(r) << "the request in flight is answered";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(gw.wait_exit(30s), std::optional<int>(0)) << gw.log();
  EXPECT_NE(gw.log().find("\"msg\":\"rcache stopped\""), std::string::npos);
}

TEST(Gateway, FollowsASentinelFailover) {
  sentinel_topology t;
  gateway_options o;
  // A connection per I/O thread: each follows the failover on its own, and
  // a request whose thread's connection is still reconnecting uses another.
  o.args = {"--threads", "2",
            "--set",     "redis.command_timeout_ms=1000",
            "--set",     "redis.connections=per_thread"};
  o.env = {{"REDIS_SENTINELS", t.sentinel_list()}, {"REDIS_SENTINEL_MASTER", t.master_name()}};
  gateway_process gw(o);
  const auto p = gw.port();
  ASSERT_EQ(must(http_request(p, "PUT", "/v1/ns/s/keys/k", "before")).status, 200);
  EXPECT_EQ(must(http_request(p, "GET", "/v1/ns/s/keys/k")).body, "before");
  t.wait_for_replication(0, 2);
  const auto old_master = t.master_port();
  t.kill_server(t.server_index(old_master));
  const auto new_master = t.wait_for_failover(old_master);
  t.server_command(t.server_index(new_master), {"SET", "s:k", "after"});
  // Answers are 503s while the gateway reconnects, then the new master's
  // value: never the old near-cache copy.
  EXPECT_TRUE(eventually([&] {
    auto r = must(http_request(p, "GET", "/v1/ns/s/keys/k"));
    EXPECT_NE(r.body, "before") << "stale after the failover";
    return r.status == 200 && r.body == "after";
  }));
  EXPECT_EQ(must(http_request(p, "PUT", "/v1/ns/s/keys/k2", "x")).status, 200);
  EXPECT_EQ(t.server_command(t.server_index(new_master), {"GET", "s:k2"}).text, "x");
  // The log says so once per connection (issue 11, item 7), naming the new
  // master (the line may be written a moment after the request that found
  // the new master was answered).
  const auto named = "the server is now 127.0.0.1:" + std::to_string(new_master);
  EXPECT_TRUE(eventually([&] {
    const auto log = gw.log();
    return log.find(R"("msg":"the Redis topology changed")") != std::string::npos &&
           log.find(named) != std::string::npos;
  })) << gw.log();
  EXPECT_EQ(gw.stop(), 0);
}

TEST(Gateway, ServesFromAClusterThroughAFailover) {
  test::redis_cluster c;
  gateway_options o;
  o.args = {"--threads", "2", "--set", "redis.command_timeout_ms=1000"};
  o.env = {{"REDIS_CLUSTER_NODES", c.seed_list()}};
  gateway_process gw(o);
  const auto p = gw.port();
  // Keys on every master, written one by one and in a batch, read back in
  // a batch (split by slot inside the gateway's client).
  std::string items;
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(must(http_request(p, "PUT", "/v1/ns/c/keys/k" + std::to_string(i), "v")).status, 200);
    items += std::string(i ? "," : "") + R"({"key":"b)" + std::to_string(i) + R"(","value":"w"})";
  }
  ASSERT_EQ(
      must(http_request(p, "POST", "/v1/ns/c/batch/set", R"({"items":[)" + items + "]}")).status,
      200);
  auto got = must(http_request(p, "POST", "/v1/ns/c/batch/get", R"({"keys":["b0","k1","b29"]})"));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(boost::json::parse(got.body).at("items").as_array().size(), 3u) << got.body;
  for (int i = 0; i < 30; i += 9) {
    const auto k = "c:k" + std::to_string(i);
    EXPECT_EQ(c.command(c.index_of(c.key_owner(k)), {"GET", k}).text, "v") << k;
  }
  // Invalidation by pattern walks every master.
  auto inv = must(http_request(p, "POST", "/v1/ns/c/invalidate", R"({"pattern":"b*"})"));
  ASSERT_EQ(inv.status, 200) << inv.body;
  EXPECT_EQ(boost::json::parse(inv.body).at("deleted").as_int64(), 30) << inv.body;

  // A master dies: its replica takes over; no stale near-cache copy is served.
  const auto k = std::string("c:k0");
  const auto doomed = c.key_owner(k);
  EXPECT_EQ(must(http_request(p, "GET", "/v1/ns/c/keys/k0")).body, "v");
  c.wait_for_replication(doomed);
  c.kill(c.index_of(doomed));
  const auto promoted = c.wait_for_failover(doomed);
  c.command(c.index_of(promoted), {"SET", k, "after"});
  EXPECT_TRUE(eventually([&] {
    auto r = must(http_request(p, "GET", "/v1/ns/c/keys/k0"));
    EXPECT_NE(r.body, "v") << "stale after the failover";
    return r.status == 200 && r.body == "after";
  }));
  EXPECT_TRUE(eventually([&] {
    return gw.log().find("the cluster's slot map changed") != std::string::npos;
  })) << "the failover is in the log (issue 11, item 7)\n"
      << gw.log();
  EXPECT_EQ(gw.stop(), 0);
}

// ---- the embedded Redis -----------------------------------------------------------

std::optional<pid_t> embedded_pid(const std::filesystem::path& dir) {
  embedded::admin_target t;
  t.unix_socket = dir / "rcache-data" / "redis.sock";
  t.timeout = 2s;
  auto r = embedded::admin_command(t, {"INFO", "server"});
  if (!r) return std::nullopt;
  const auto at = r->text.find("process_id:");
  if (at == std::string::npos) return std::nullopt;
  return static_cast<pid_t>(std::stol(r->text.substr(at + 11)));
}

TEST(Embedded, StartsRestartsAndStopsItsOwnRedisAndKeepsTheData) {
  temp_dir dir("embedded");
  std::optional<pid_t> first;
  {
    gateway_process gw({.dir = dir.path()});
    ASSERT_EQ(must(http_request(gw.port(), "GET", "/readyz")).status, 200);
    ASSERT_EQ(must(http_request(gw.port(), "PUT", "/v1/ns/e/keys/k?ttl=0", "kept")).status, 200);
    first = embedded_pid(dir.path());
    ASSERT_TRUE(first);
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "rcache-data" / "appendonlydir"))
        << "AOF is on";

    ::kill(*first, SIGKILL);  // the embedded server dies
    EXPECT_TRUE(eventually([&] {
      auto r = http_request(gw.port(), "PUT", "/v1/ns/e/keys/after", "x");
      return r && r->status == 200;
    })) << "it was restarted and the gateway reconnected";
    auto second = embedded_pid(dir.path());
    ASSERT_TRUE(second);
    EXPECT_NE(*second, *first);
    EXPECT_NE(gw.log().find("restarting"), std::string::npos);

    EXPECT_EQ(gw.stop(SIGINT), 0);
    EXPECT_NE(::kill(*second, 0), 0) << "SIGINT stopped the embedded redis-server too";
  }
  // A new rcache in the same directory finds the data.
  gateway_process again({.dir = dir.path()});
  auto r = must(http_request(again.port(), "GET", "/v1/ns/e/keys/k"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "kept");
  EXPECT_EQ(again.stop(), 0);
}

TEST(Embedded, MissingRedisServerSaysHowToGetIt) {
  gateway_process gw(
      {.args = {"--set", "embedded.executable=redis-server-not-installed"}, .wait_ready = false});
  EXPECT_EQ(gw.wait_exit(30s), std::optional<int>(1));
  EXPECT_NE(gw.log().find("apt-get install"), std::string::npos) << gw.log();
}

}  // namespace
}  // namespace rcache::test
