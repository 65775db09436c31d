// End-to-end tests of the session routes of `rcache serve`: the real binary
// over HTTP against a real redis-server — every route, the client address
// and trusted proxies, the cap, rotation, compare-and-set, and bad input.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "gateway_helpers.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "redis_server.hpp"

namespace rcache::test {
namespace {

namespace json = boost::json;

std::string id_of(const http_response& r) {
  return std::string(body_json(r).at("id").as_string());
}

TEST(GatewaySessions, EveryRouteEndToEnd) {
  redis_server server;
  gateway_process gw(external(server, {"--set", "sessions.max_per_user=2"}));
  const auto p = gw.port();

  auto created = must(http_request(
      p, "POST", "/v1/sessions",
      R"({"user":"alice","device":{"id":"laptop-1","user_agent":"Firefox/120"},"data":{"theme":"dark"}})",
      "Content-Type: application/json\r\n"));
  ASSERT_EQ(created.status, 201) << created.body;
  const auto s = body_json(created).as_object();
  const auto id = std::string(s.at("id").as_string());
  EXPECT_EQ(s.at("user").as_string(), "alice");
  EXPECT_EQ(s.at("device").at("id").as_string(), "laptop-1");
  EXPECT_EQ(s.at("device").at("ip").as_string(), "127.0.0.1") << "the connection's address";
  EXPECT_EQ(s.at("data").at("theme").as_string(), "dark");
  EXPECT_EQ(s.at("version").as_int64(), 0);
  EXPECT_EQ(s.at("expires_ms").as_int64() - s.at("created_ms").as_int64(), 1800 * 1000);
  EXPECT_EQ(s.at("absolute_expiry_ms").as_int64() - s.at("created_ms").as_int64(), 86400 * 1000);

  auto got = must(http_request(p, "GET", "/v1/sessions/" + id));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(body_json(got).at("user").as_string(), "alice");
  EXPECT_EQ(got.header("content-type"), "application/json");
  auto head = must(http_request(p, "HEAD", "/v1/sessions/" + id));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());

  auto patched =
      must(http_request(p, "PATCH", "/v1/sessions/" + id,
                        R"({"set":{"cart":"2 items"},"remove":["theme"],"if_version":0})"));
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(body_json(patched).at("version").as_int64(), 1);
  auto stale = must(http_request(p, "PATCH", "/v1/sessions/" + id,
                                 R"({"set":{"cart":"3 items"},"if_version":0})"));
  EXPECT_EQ(stale.status, 412) << stale.body;
  EXPECT_EQ(error_code_of(stale), "version_conflict");
  const auto data = body_json(must(http_request(p, "GET", "/v1/sessions/" + id))).at("data");
  EXPECT_EQ(data.as_object().size(), 1u);
  EXPECT_EQ(data.at("cart").as_string(), "2 items");

  auto rotated = must(http_request(p, "POST", "/v1/sessions/" + id + "/rotate"));
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const auto new_id = id_of(rotated);
  EXPECT_NE(new_id, id);
  EXPECT_EQ(must(http_request(p, "GET", "/v1/sessions/" + id)).status, 200) << "grace period";
  EXPECT_EQ(must(http_request(p, "POST", "/v1/sessions/" + id + "/rotate")).status, 404);

  // A second and third device: the cap of 2 evicts the least recently seen
  // (seen in the same millisecond: the smaller id, docs/sessions.md).
  const auto phone_created =
      must(http_request(p, "POST", "/v1/sessions", R"({"user":"alice","device":{"id":"phone"}})"));
  const auto phone = id_of(phone_created);
  const auto seen = must(http_request(p, "GET", "/v1/sessions/" + new_id));
  ASSERT_EQ(seen.status, 200);
  const auto seen_at = [](const http_response& r) {
    return body_json(r).at("last_seen_ms").as_int64();
  };
  const bool phone_goes = seen_at(phone_created) < seen_at(seen) ||
                          (seen_at(phone_created) == seen_at(seen) && phone < new_id);
  const auto& evicted = phone_goes ? phone : new_id;
  const auto& kept = phone_goes ? new_id : phone;
  const auto tablet = id_of(must(
      http_request(p, "POST", "/v1/sessions", R"({"user":"alice","device":{"id":"tablet"}})")));
  auto list = must(http_request(p, "GET", "/v1/users/alice/sessions"));
  ASSERT_EQ(list.status, 200) << list.body;
  const auto sessions = body_json(list).at("sessions").as_array();
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0].at("id").as_string(), tablet) << "most recently seen first";
  EXPECT_EQ(sessions[1].at("id").as_string(), kept);
  EXPECT_FALSE(sessions[0].as_object().contains("data")) << "lists leave data out";
  EXPECT_EQ(must(http_request(p, "GET", "/v1/sessions/" + evicted)).status, 404) << "evicted";

  auto out = must(http_request(p, "DELETE", "/v1/users/alice/sessions?except=" + tablet));
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(body_json(out).at("destroyed").as_int64(), 1);
  EXPECT_EQ(must(http_request(p, "GET", "/v1/sessions/" + kept)).status, 404);
  auto destroyed = must(http_request(p, "DELETE", "/v1/sessions/" + tablet));
  EXPECT_EQ(destroyed.status, 200);
  EXPECT_TRUE(body_json(destroyed).at("destroyed").as_bool());
  auto again = must(http_request(p, "DELETE", "/v1/sessions/" + tablet));
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(error_code_of(again), "not_found");
  EXPECT_TRUE(body_json(must(http_request(p, "GET", "/v1/users/alice/sessions")))
                  .at("sessions")
                  .as_array()
                  .empty());
  // The keys are where docs/sessions.md says: at most the rotated id's stub
  // is left, for its grace period.
  EXPECT_LE(server.command({"KEYS", "rcache:session:*:s:*"}).elements.size(), 1u);
  EXPECT_TRUE(server.command({"KEYS", "rcache:session:*:u:*"}).elements.empty());

  // Ids are credentials: the access log names the route, never the id.
  EXPECT_EQ(gw.stop(), 0);
  const auto log = gw.log();
  EXPECT_NE(log.find(R"("path":"/v1/sessions/{id}")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("path":"/v1/sessions/{id}/rotate")"), std::string::npos);
  for (const auto& logged : {id, new_id, phone, tablet}) {
    EXPECT_EQ(log.find(logged), std::string::npos) << logged << " is in the log";
  }
}

TEST(GatewaySessions, TheClientAddressComesFromTrustedProxiesOnly) {
  redis_server server;
  gateway_process trusting(external(server, {"--set", "server.trusted_proxies=127.0.0.0/8"}));
  auto via_proxy = must(http_request(trusting.port(), "POST", "/v1/sessions", R"({"user":"u"})",
                                     "X-Forwarded-For: 1.2.3.4, 198.51.100.7\r\n"));
  ASSERT_EQ(via_proxy.status, 201) << via_proxy.body;
  EXPECT_EQ(body_json(via_proxy).at("device").at("ip").as_string(), "198.51.100.7");

  gateway_process plain(external(server));
  auto forged = must(http_request(plain.port(), "POST", "/v1/sessions", R"({"user":"u"})",
                                  "X-Forwarded-For: 198.51.100.7\r\n"));
  ASSERT_EQ(forged.status, 201);
  EXPECT_EQ(body_json(forged).at("device").at("ip").as_string(), "127.0.0.1")
      << "an untrusted peer cannot name another address";

  auto bad = run_rcache(
      {"serve", "--redis-url", server.url(), "--set", "server.trusted_proxies=10.0.0.0/40"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("server.trusted_proxies"), std::string::npos) << bad.output;
}

TEST(GatewaySessions, BadInputGetsAClearErrorAndNothingIsWritten) {
  redis_server server;
  gateway_process gw(
      external(server, {"--set", "sessions.max_fields=2", "--set", "sessions.max_field_bytes=8",
                        "--set", "sessions.max_user_bytes=5", "--set", "sessions.max_per_user=1",
                        "--set", "sessions.cap_policy=refuse"}));
  const auto p = gw.port();
  struct bad_request {
    std::string method, target, body;
    int status;
    std::string code;
  };
  const std::vector<bad_request> cases = {
      {"POST", "/v1/sessions", "", 400, "invalid_json"},
      {"POST", "/v1/sessions", "not json", 400, "invalid_json"},
      {"POST", "/v1/sessions", R"({"device":{}})", 400, "invalid_json"},
      {"POST", "/v1/sessions", R"({"user":"toolong"})", 400, "invalid_user"},
      {"POST", "/v1/sessions", R"({"user":""})", 400, "invalid_user"},
      {"POST", "/v1/sessions", R"({"user":"u","data":{"a":"1","b":"2","c":"3"}})", 413,
       "too_many_fields"},
      {"POST", "/v1/sessions", R"({"user":"u","data":{"a":"123456789"}})", 413, "field_too_large"},
      {"POST", "/v1/sessions", R"({"user":"u","device":{"ip":"6.6.6.6"}})", 400, "invalid_json"},
      {"GET", "/v1/sessions", "", 405, "method_not_allowed"},
      {"GET", "/v1/sessions/not-an-id", "", 404, "not_found"},
      {"PATCH", "/v1/sessions/not-an-id", R"({"set":{"a":"1"}})", 404, "not_found"},
      {"PATCH", "/v1/sessions/x", "{}", 400, "invalid_json"},
      {"GET", "/v1/users/toolong/sessions", "", 400, "invalid_user"},
      {"DELETE", "/v1/users/u/sessions?keep=x", "", 400, "bad_request"},
  };
  for (const auto& c : cases) {
    auto r = must(http_request(p, c.method, c.target, c.body));
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " " << c.body << ": " << r.body;
    if (r.status >= 400) {
      EXPECT_EQ(error_code_of(r), c.code) << c.target << " " << c.body;
    }
  }
  EXPECT_EQ(server.command({"DBSIZE"}).text, "0") << "nothing was written";

  ASSERT_EQ(must(http_request(p, "POST", "/v1/sessions", R"({"user":"u"})")).status, 201);
  auto refused = must(http_request(p, "POST", "/v1/sessions", R"({"user":"u"})"));
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(error_code_of(refused), "session_cap_reached");
}

TEST(GatewaySessions, WithoutAReplicaADurableCreateIsNotAcknowledged) {
  redis_server lone;  // no replica: WAIT 1 answers 0
  gateway_process gw(external(
      lone, {"--set", "sessions.durability=replica", "--set", "sessions.replica_timeout_ms=50"}));
  auto r = must(http_request(gw.port(), "POST", "/v1/sessions", R"({"user":"u"})"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(error_code_of(r), "not_replicated");
  EXPECT_EQ(r.header("retry-after"), "1");
  // Nothing written, nothing to wait for: an unknown session is still a 404.
  const std::string unknown = "/v1/sessions/" + std::string(43, 'A') + ".00";
  EXPECT_EQ(must(http_request(gw.port(), "DELETE", unknown)).status, 404);
  EXPECT_EQ(must(http_request(gw.port(), "POST", unknown + "/rotate")).status, 404);
  // The cache's own routes do not wait behind it: sessions have their own connection.
  EXPECT_EQ(must(http_request(gw.port(), "PUT", "/v1/ns/a/keys/k", "v")).status, 200);
}

}  // namespace
}  // namespace rcache::test
