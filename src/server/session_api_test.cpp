// Unit tests of the session routes' sans-I/O part: routing, ids and users in
// paths, the create and update bodies and their limits, the client address.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "server/api_test_support.hpp"
#include "server/client_address.hpp"
#include "server/http_api.hpp"
#include "server/session_routes.hpp"

namespace rcache::server {
namespace {

struct request {
  http_method method = http_method::get;
  std::string_view target;
  std::string_view body{};
  std::string_view peer = "127.0.0.1";
  std::string_view forwarded_for{};
};

std::variant<api_call, api_error> parse(const request& r, api_limits limits = {}) {
  http_request_view v;
  v.method = r.method;
  v.target = r.target;
  v.body = r.body;
  v.peer = r.peer;
  v.forwarded_for = r.forwarded_for;
  return parse_call(v, limits);
}

using test::err;
using test::ok;

constexpr std::string_view id = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde.3f";

TEST(SessionApi, RoutesEverySessionCall) {
  using enum http_method;
  auto created = ok(parse({post, "/v1/sessions",
                           R"({"user":"alice","device":{"id":"d1","user_agent":"UA"},)"
                           R"("data":{"cart":"2"}})"}));
  EXPECT_EQ(created.op, api_op::session_create);
  EXPECT_EQ(created.right, api_right::sessions);
  EXPECT_EQ(created.session.user, "alice");
  EXPECT_EQ(created.session.device_id, "d1");
  EXPECT_EQ(created.session.user_agent, "UA");
  EXPECT_EQ(created.session.ip, "127.0.0.1");
  EXPECT_EQ(created.session.set.at("cart"), "2");

  const auto path = "/v1/sessions/" + std::string(id);
  auto got = ok(parse({get, path}));
  EXPECT_EQ(got.op, api_op::session_get);
  EXPECT_EQ(got.session.id, id);
  EXPECT_EQ(got.route, "/v1/sessions/{id}");
  EXPECT_TRUE(ok(parse({head, path})).head);
  EXPECT_EQ(ok(parse({del, path})).op, api_op::session_destroy);
  EXPECT_EQ(ok(parse({post, path + "/rotate"})).op, api_op::session_rotate);
  auto patched = ok(parse({patch, path, R"({"set":{"a":"1"},"remove":["b"],"if_version":7})"}));
  EXPECT_EQ(patched.op, api_op::session_update);
  EXPECT_EQ(patched.session.set.at("a"), "1");
  EXPECT_EQ(patched.session.remove, std::vector<std::string>{"b"});
  EXPECT_EQ(patched.session.expected_version, std::optional<std::uint64_t>(7));

  auto list = ok(parse({get, "/v1/users/bob%20smith/sessions"}));
  EXPECT_EQ(list.op, api_op::user_sessions);
  EXPECT_EQ(list.session.user, "bob smith");
  auto out = ok(parse({del, "/v1/users/bob/sessions?except=" + std::string(id)}));
  EXPECT_EQ(out.op, api_op::user_sessions_destroy);
  EXPECT_EQ(out.session.except, id);
}

TEST(SessionApi, WrongMethodsAndParametersAreRefused) {
  using enum http_method;
  auto e = err(parse({get, "/v1/sessions"}));
  EXPECT_EQ(e.status, 405u);
  EXPECT_EQ(e.allow, "POST");
  EXPECT_EQ(err(parse({put, "/v1/sessions/x"})).allow, "GET, HEAD, PATCH, DELETE");
  EXPECT_EQ(err(parse({get, "/v1/users/bob/sessions?except=x"})).status, 400u)
      << "only DELETE takes except";
  EXPECT_EQ(err(parse({del, "/v1/users/bob/sessions?except=a&except=b"})).status, 400u);
}

TEST(SessionApi, CreateBodiesAreCheckedAgainstTheLimits) {
  using enum http_method;
  api_limits limits;
  limits.sessions = {.max_user_length = 5,
                     .max_fields = 2,
                     .max_field_name = 4,
                     .max_field_value = 3,
                     .max_device_field = 4};
  auto status = [&](std::string_view body) {
    return err(parse({post, "/v1/sessions", body}, limits));
  };
  EXPECT_EQ(status("").code, "invalid_json");
  EXPECT_EQ(status("[]").code, "invalid_json");
  EXPECT_EQ(status(R"({"device":{}})").code, "invalid_json") << "user is required";
  EXPECT_EQ(status(R"({"user":7})").code, "invalid_json");
  EXPECT_EQ(status(R"({"user":""})").code, "invalid_user");
  EXPECT_EQ(status(R"({"user":"a\nb"})").code, "invalid_user");
  EXPECT_EQ(status(R"({"user":"toolong"})").status, 400u);
  EXPECT_EQ(status(R"({"user":"u","extra":1})").code, "invalid_json");
  EXPECT_EQ(status(R"({"user":"u","device":{"ip":"1.2.3.4"}})").code, "invalid_json")
      << "the IP comes from the connection, never from the body";
  EXPECT_EQ(status(R"({"user":"u","device":{"id":"12345"}})").status, 413u);
  EXPECT_EQ(status(R"({"user":"u","data":{"a":"1","b":"2","c":"3"}})").code, "too_many_fields");
  EXPECT_EQ(status(R"({"user":"u","data":{"a":"1","b":"2","c":"3"}})").status, 413u);
  EXPECT_EQ(status(R"({"user":"u","data":{"a":"1234"}})").status, 413u);
  EXPECT_EQ(status(R"({"user":"u","data":{"abcde":"1"}})").status, 413u);
  EXPECT_EQ(status(R"({"user":"u","data":{"":"1"}})").code, "invalid_field");
  EXPECT_EQ(status(R"({"user":"u","data":{"a":1}})").code, "invalid_json");
  EXPECT_EQ(status(R"({"user":"u","user":"v"})").code, "invalid_json") << "a repeated field";
}

TEST(SessionApi, UpdateBodiesAreChecked) {
  using enum http_method;
  const auto path = "/v1/sessions/" + std::string(id);
  auto code = [&](std::string_view body) { return err(parse({patch, path, body})).code; };
  EXPECT_EQ(code("{}"), "invalid_json") << "nothing to do";
  EXPECT_EQ(code(R"({"set":{"a":"1"},"remove":["a"]})"), "invalid_field");
  EXPECT_EQ(code(R"({"remove":"a"})"), "invalid_json");
  EXPECT_EQ(code(R"({"set":{"a":"1"},"if_version":-1})"), "invalid_json");
  EXPECT_EQ(code(R"({"set":{"a":"1"},"if_version":"3"})"), "invalid_json");
  EXPECT_EQ(code(R"({"set":{"a":"1"},"when":1})"), "invalid_json");
}

TEST(SessionApi, UserIdsInPathsAreChecked) {
  using enum http_method;
  api_limits limits;
  limits.sessions.max_user_length = 3;
  EXPECT_EQ(err(parse({get, "/v1/users/abcd/sessions"}, limits)).code, "invalid_user");
  EXPECT_EQ(err(parse({get, "/v1/users/a%0Ab/sessions"}, limits)).code, "invalid_user");
  EXPECT_EQ(err(parse({get, "/v1/users//sessions"}, limits)).code, "invalid_user");
  EXPECT_EQ(err(parse({get, "/v1/users/%FF/sessions"}, limits)).code, "invalid_user")
      << "user ids are echoed in JSON: UTF-8 only";
}

TEST(SessionApi, SessionsWrittenWithAnyBytesRenderAsValidJson) {
  session s;
  s.id = id;
  s.user = "\xff\xfe";
  s.device.user_agent = "UA \xc3";
  s.data = {{"ok", "caf\xc3\xa9"}, {"bin", std::string("\x00\xff", 2)}, {"n\xff", "v"}};
  const auto text = session_json(s, true);
  ASSERT_TRUE(is_utf8(text)) << text;
  const auto v = boost::json::parse(text);
  EXPECT_EQ(v.at("user").as_string(), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(v.at("device").at("user_agent").as_string(), "UA \xef\xbf\xbd");
  EXPECT_EQ(v.at("data").at("ok").as_string(), "caf\xc3\xa9");
  EXPECT_EQ(v.at("data_base64").at("bin").as_string(), "AP8=");
  EXPECT_EQ(v.at("data").at("n\xef\xbf\xbd").as_string(), "v");
}

TEST(SessionApi, TheClientAddressComesFromTrustedProxiesOnly) {
  using enum http_method;
  const auto trusted = std::get<trusted_proxies>(trusted_proxies::parse("10.0.0.0/8"));
  api_limits limits;
  limits.trusted = &trusted;
  const std::string_view body = R"({"user":"u"})";
  EXPECT_EQ(ok(parse({post, "/v1/sessions", body, "10.1.1.1", "198.51.100.7"}, limits)).session.ip,
            "198.51.100.7");
  EXPECT_EQ(
      ok(parse({post, "/v1/sessions", body, "203.0.113.5", "198.51.100.7"}, limits)).session.ip,
      "203.0.113.5")
      << "a peer that is not a trusted proxy cannot name another address";
}

}  // namespace
}  // namespace rcache::server
