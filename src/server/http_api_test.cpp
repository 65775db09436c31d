// Unit tests of the HTTP API's sans-I/O part: routing, methods, path and
// query validation, JSON bodies, the content-type envelope, ETags and the
// JSON answers.
#include "server/http_api.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "server/api_test_support.hpp"

namespace rcache::server {
namespace {

using namespace std::chrono_literals;

std::variant<api_call, api_error> call(http_method m, std::string_view target,
                                       std::string_view body = {}, api_limits limits = {}) {
  http_request_view v;
  v.method = m;
  v.target = target;
  v.body = body;
  return parse_call(v, limits);
}

using test::err;
using test::ok;

TEST(HttpApi, RoutesKeysWithDecodedNamesAndParameters) {
  auto c = ok(call(http_method::put, "/v1/ns/users/keys/a%2Fb%20c?ttl=60&nx=true"));
  EXPECT_EQ(c.op, api_op::put);
  EXPECT_EQ(c.route, "/v1/ns/{ns}/keys/{key}");
  EXPECT_EQ(c.ns, "users");
  EXPECT_EQ(c.key, "a/b c") << "percent-decoded; '/' only as %2F";
  EXPECT_EQ(c.ttl, std::optional(60s));
  EXPECT_EQ(c.when, write_condition::if_absent);

  EXPECT_EQ(ok(call(http_method::get, "/v1/ns/users/keys/ttl")).op, api_op::get)
      << "a key named like a sub-resource is still a key";
  EXPECT_EQ(ok(call(http_method::head, "/v1/ns/users/keys/k")).head, true);
  EXPECT_EQ(ok(call(http_method::del, "/v1/ns/users/keys/k")).op, api_op::del);
  EXPECT_EQ(ok(call(http_method::get, "/v1/ns/users/keys/k/ttl")).op, api_op::ttl);
  EXPECT_EQ(ok(call(http_method::get, "/v1/ns/users/keys/k/exists")).op, api_op::exists);
  EXPECT_EQ(ok(call(http_method::post, "/v1/ns/users/keys/k/touch?ttl=5")).ttl, std::optional(5s));
  EXPECT_EQ(ok(call(http_method::get, "/healthz")).op, api_op::healthz);
  EXPECT_EQ(ok(call(http_method::head, "/readyz")).op, api_op::readyz);
  EXPECT_EQ(ok(call(http_method::get, "/metrics")).route, "/metrics");
}

TEST(HttpApi, WrongRoutesMethodsAndParametersAreRefusedClearly) {
  EXPECT_EQ(err(call(http_method::get, "/v2/ns/a/keys/k")).status, 404u);
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/a/other/k")).status, 404u);
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/a/keys/k/x/y/z/w")).status, 404u);
  auto m = err(call(http_method::post, "/v1/ns/a/keys/k"));
  EXPECT_EQ(m.status, 405u);
  EXPECT_EQ(m.allow, "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/a/batch/get")).allow, "POST");
  EXPECT_EQ(err(call(http_method::other, "/healthz")).status, 405u);

  EXPECT_EQ(err(call(http_method::get, "/v1/ns/bad%20ns/keys/k")).code, "invalid_namespace");
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/bad%20ns/keys/k")).route, "/v1/ns/{ns}/keys/{key}")
      << "errors after routing carry the route's metric label";
  EXPECT_EQ(err(call(http_method::get, "/v2/x")).route, "");
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/a/keys/")).code, "invalid_key");
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/a/keys/" + std::string(20, 'k'), {},
                     {.max_key_bytes = 10}))
                .code,
            "invalid_key");
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/abcdefgh/keys/kk", {}, {.max_key_bytes = 10})).code,
            "invalid_key")
      << "the limit is on the Redis key, namespace prefix included";
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/a:b/keys/k")).code, "invalid_namespace")
      << "':' would let namespace a:b share keys with namespace a";
  EXPECT_EQ(err(call(http_method::put, "/v1/ns/a/keys/k?ttl=-1")).code, "invalid_ttl");
  EXPECT_EQ(err(call(http_method::put, "/v1/ns/a/keys/k?ttl=1x")).code, "invalid_ttl");
  EXPECT_EQ(err(call(http_method::put, "/v1/ns/a/keys/k?nx=1&xx=1")).status, 400u);
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/a/keys/k?ttl=5")).message,
            "unknown query parameter 'ttl'");
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/a/keys/%zz")).status, 400u);
  EXPECT_EQ(err(call(http_method::get, "no-slash")).status, 400u);
}

TEST(HttpApi, BatchAndInvalidationBodies) {
  auto g = ok(call(http_method::post, "/v1/ns/a/batch/get", R"({"keys":["x","y"]})"));
  EXPECT_EQ(g.keys, (std::vector<std::string>{"x", "y"}));

  auto s = ok(call(http_method::post, "/v1/ns/a/batch/set",
                   R"({"ttl":30,"items":[{"key":"x","value":"1","content_type":"text/plain"},
                       {"key":"y","value_base64":"AP8="}]})"));
  EXPECT_EQ(s.ttl, std::optional(30s));
  ASSERT_EQ(s.items.size(), 2u);
  EXPECT_EQ(s.items[0].content_type, "text/plain");
  EXPECT_EQ(s.items[1].value, std::string("\0\xff", 2));

  EXPECT_EQ(ok(call(http_method::post, "/v1/ns/a/invalidate", R"({"pattern":"u:*"})")).op,
            api_op::invalidate_pattern);
  EXPECT_EQ(ok(call(http_method::post, "/v1/ns/a/invalidate", R"({"keys":["u"]})")).op,
            api_op::invalidate_keys);

  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/get", "{")).code, "invalid_json");
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/get", "")).code, "invalid_json");
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/get", "[1]")).code, "invalid_json");
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/get", R"({"keys":[1]})")).code,
            "invalid_json");
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/get", R"({"keys":[""]})")).code,
            "invalid_key");
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/get", R"({"keys":["a"],"x":1})")).message,
            "unknown field 'x'");
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/get", R"({"keys":["a","b","c"]})",
                     {.max_batch_keys = 2}))
                .code,
            "too_many_keys");
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/set",
                     R"({"items":[{"key":"x","value":"1","value_base64":"MQ=="}]})"))
                .status,
            400u);
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/set",
                     R"({"items":[{"key":"x","value_base64":"!!"}]})"))
                .message,
            "'value_base64' is not base64");
  EXPECT_EQ(
      err(call(http_method::post, "/v1/ns/a/invalidate", R"({"keys":[],"pattern":"*"})")).status,
      400u);
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/invalidate", R"({"pattern":""})")).status, 400u);
  const std::string deep(100, '[');
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/get", deep)).code, "invalid_json");
}

TEST(HttpApi, TagsOnPutAndInInvalidations) {
  auto put = ok(call(http_method::put, "/v1/ns/a/keys/k?tags=team:7,plan/pro&ttl=5", "v"));
  EXPECT_EQ(put.tags, (std::vector<std::string>{"team:7", "plan/pro"}));
  EXPECT_EQ(err(call(http_method::put, "/v1/ns/a/keys/k?tags=", "v")).code, "invalid_tag");
  EXPECT_EQ(err(call(http_method::put, "/v1/ns/a/keys/k?tags=a,,b", "v")).code, "invalid_tag");
  EXPECT_EQ(err(call(http_method::put, "/v1/ns/a/keys/k?tags=a%20b", "v")).code, "invalid_tag");
  std::string many = "?tags=t0";
  for (int i = 1; i <= 32; ++i) many += ",t" + std::to_string(i);
  EXPECT_EQ(err(call(http_method::put, "/v1/ns/a/keys/k" + many, "v")).code, "invalid_tag");
  // Only PUT takes tags.
  EXPECT_EQ(err(call(http_method::get, "/v1/ns/a/keys/k?tags=a")).code, "bad_request");

  auto inv = ok(call(http_method::post, "/v1/ns/a/invalidate", R"({"tags":["x","y:1"]})"));
  EXPECT_EQ(inv.op, api_op::invalidate_tags);
  EXPECT_EQ(inv.tags, (std::vector<std::string>{"x", "y:1"}));
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/invalidate", R"({"tags":[]})")).code,
            "invalid_tag");
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/invalidate", R"({"tags":"x"})")).code,
            "invalid_json");
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/invalidate", R"({"tags":[1]})")).code,
            "invalid_tag");
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/invalidate", R"({"tags":["a b"]})")).code,
            "invalid_tag");
  EXPECT_EQ(
      err(call(http_method::post, "/v1/ns/a/invalidate", R"({"tags":["a"],"keys":["k"]})")).code,
      "invalid_json");
}

TEST(HttpApi, GeoRoutesAndTheirBounds) {
  auto put =
      ok(call(http_method::put, "/v1/geo/city/points/p%201", R"({"lon":2.5,"lat":-3,"data":"x"})"));
  EXPECT_EQ(put.op, api_op::geo_put);
  EXPECT_EQ(put.geo.set, "city");
  EXPECT_EQ(put.geo.id, "p 1");
  EXPECT_EQ(put.geo.lon, 2.5);
  EXPECT_EQ(put.geo.data, "x");
  auto s =
      ok(call(http_method::get,
              "/v1/geo/city/search?lon=1&lat=2&width=3&height=4&unit=km&count=7&any=1&order=none"));
  EXPECT_EQ(s.op, api_op::geo_search);
  EXPECT_TRUE(s.geo.box);
  EXPECT_TRUE(s.geo.km);
  EXPECT_EQ(s.geo.count, 7u);
  EXPECT_TRUE(s.geo.any);
  EXPECT_EQ(s.geo.sort, geo_call::order::none);
  auto r = ok(call(http_method::get, "/v1/geo/city/search?lon=-180&lat=85.05112878&radius=1"));
  EXPECT_FALSE(r.geo.box);
  EXPECT_EQ(r.geo.count, 100u);
  for (const char* bad :
       {"/v1/geo/city/search?lat=0&radius=1", "/v1/geo/city/search?lon=0&lat=0",
        "/v1/geo/city/search?lon=0&lat=0&width=1", "/v1/geo/city/search?lon=x&lat=0&radius=1",
        "/v1/geo/city/search?lon=0&lat=0&radius=-1",
        "/v1/geo/city/search?lon=0&lat=0&radius=1&order=up",
        "/v1/geo/city/search?lon=0&lat=0&radius=1&count=0",
        "/v1/geo/city/search?lon=0&lat=85.1&radius=1"}) {
    EXPECT_EQ(err(call(http_method::get, bad)).code, "invalid_geo") << bad;
  }
  EXPECT_EQ(err(call(http_method::get, "/v1/geo/city/search?lon=0&lat=0&radius=1&tags=a")).code,
            "bad_request");
  EXPECT_EQ(err(call(http_method::get, "/v1/geo/c%2Fd/points/x")).code, "invalid_set");
  EXPECT_EQ(err(call(http_method::put, "/v1/geo/city/points/x", R"({"lon":0})")).code,
            "invalid_json");
  EXPECT_EQ(err(call(http_method::put, "/v1/geo/city/points/x",
                     R"({"lon":0,"lat":0,"data":")" + std::string(1025, 'd') + R"("})"))
                .status,
            413u);
  EXPECT_EQ(err(call(http_method::post, "/v1/geo/city/points/x")).status, 405u);
}

// What a hostile probe found accepted or answered unclearly (issue 11,
// items 8 and 9).
TEST(HttpApi, RawBytesInTheTargetAreRefused) {
  for (std::string bad : {"/v1/ns/a/keys/\x80", "/v1/ns/a/keys/caf\xc3\xa9", "/v1/ns/a/keys/a b",
                          "/v1/ns/a/keys/a\x01", "/v1/ns/a/keys/a\x7f", "/healthz\xff"}) {
    const auto e = err(call(http_method::get, bad));
    EXPECT_EQ(e.status, 400u) << bad;
    EXPECT_EQ(e.message, "the request target is not a valid path") << bad;
  }
  // Their percent-encoded forms are keys like any other.
  EXPECT_EQ(ok(call(http_method::get, "/v1/ns/a/keys/caf%C3%A9")).key, "caf\xc3\xa9");
  EXPECT_EQ(ok(call(http_method::get, "/v1/ns/a/keys/%80")).key, "\x80");
  EXPECT_EQ(ok(call(http_method::get, "/v1/ns/a/keys/a:b@c!$&'()*+,;=-._~")).key,
            "a:b@c!$&'()*+,;=-._~")
      << "every pchar RFC 3986 allows unescaped";
  // Printable bytes outside RFC 3986's path set are taken as themselves,
  // with or without a query.
  EXPECT_EQ(ok(call(http_method::get, "/v1/ns/a/keys/user:{42}")).key, "user:{42}");
  EXPECT_EQ(ok(call(http_method::put, "/v1/ns/a/keys/x|y[1]^\"<>`\\?ttl=5")).key, "x|y[1]^\"<>`\\");
  EXPECT_EQ(ok(call(http_method::get, "/v1/ns/a/keys/%7B1%7D")).key, "{1}");
}

TEST(HttpApi, RepeatedQueryParametersAndJsonFieldsAreRefused) {
  const auto q = err(call(http_method::put, "/v1/ns/a/keys/k?ttl=5&ttl=6"));
  EXPECT_EQ(q.status, 400u);
  EXPECT_EQ(q.message, "query parameter 'ttl' is given twice");
  EXPECT_EQ(err(call(http_method::put, "/v1/ns/a/keys/k?nx=true&nx=false")).status, 400u);

  const auto top =
      err(call(http_method::post, "/v1/ns/a/batch/get", R"({"keys":["a"],"keys":["b"]})"));
  EXPECT_EQ(top.code, "invalid_json");
  EXPECT_EQ(top.message, "the field 'keys' appears twice in an object");
  const auto item = err(call(http_method::post, "/v1/ns/a/batch/set",
                             R"({"items":[{"key":"x","value":"1","key":"y"}]})"));
  EXPECT_EQ(item.message, "the field 'key' appears twice in an object");
  // A key split by an escape is still the same key.
  EXPECT_EQ(
      err(call(http_method::post, "/v1/ns/a/batch/get", R"({"keys":["a"],"k\u0065ys":["b"]})"))
          .message,
      "the field 'keys' appears twice in an object");
  // The same name in different objects is not a repetition.
  EXPECT_EQ(ok(call(http_method::post, "/v1/ns/a/batch/set",
                    R"({"items":[{"key":"x","value":"1"},{"key":"y","value":"2"}]})"))
                .items.size(),
            2u);
  EXPECT_EQ(err(call(http_method::post, "/v1/ns/a/batch/get", R"({"keys":[]} {})")).code,
            "invalid_json")
      << "one JSON text only";
}

TEST(HttpApi, MessagesStateTheRealLimits) {
  const auto q = err(call(http_method::put, "/v1/ns/a/keys/k?ttl=315360001"));
  EXPECT_EQ(q.message, "'ttl' must be a whole number of seconds from 0 to 315360000");
  EXPECT_EQ(ok(call(http_method::put, "/v1/ns/a/keys/k?ttl=315360000")).ttl,
            std::optional(315360000s));
  EXPECT_EQ(
      err(call(http_method::post, "/v1/ns/a/batch/set", R"({"ttl":315360001,"items":[]})")).message,
      q.message);
  EXPECT_EQ(
      err(call(http_method::post, "/v1/ns/a/batch/set", R"({"items":[{"key":5,"value":"1"}]})"))
          .message,
      "an item's 'key' must be a string");
  EXPECT_EQ(
      err(call(http_method::post, "/v1/ns/a/batch/set", R"({"items":[{"value":"1"}]})")).message,
      "every item needs a 'key'");
}

TEST(HttpApi, ABatchAnswersEachKeyOnce) {
  std::string body = R"({"keys":[)";
  for (int i = 0; i < 1000; ++i) body += i % 2 ? R"("b",)" : R"("a",)";
  body += R"("c"]})";
  EXPECT_EQ(ok(call(http_method::post, "/v1/ns/a/batch/get", body, {.max_batch_keys = 1001})).keys,
            (std::vector<std::string>{"a", "b", "c"}))
      << "first places kept, in order";
  EXPECT_EQ(ok(call(http_method::post, "/v1/ns/a/invalidate", R"({"keys":["x","x"]})")).keys,
            (std::vector<std::string>{"x"}));
}

TEST(HttpApi, EnvelopeKeepsTheContentTypeAndPlainValuesStayPlain) {
  EXPECT_EQ(encode_stored("hello", ""), "hello");
  EXPECT_EQ(encode_stored("hello", "application/octet-stream"), "hello");
  const auto typed = encode_stored("{\"a\":1}", "application/json");
  EXPECT_NE(typed, "{\"a\":1}");
  auto v = decode_stored(typed);
  EXPECT_EQ(v.body, "{\"a\":1}");
  EXPECT_EQ(v.content_type, "application/json");

  // A body that looks like an envelope is wrapped, and comes back unchanged.
  const std::string tricky = encode_stored("x", "text/plain");
  const auto wrapped = encode_stored(tricky, "");
  EXPECT_NE(wrapped, tricky);
  EXPECT_EQ(decode_stored(wrapped).body, tricky);
  EXPECT_EQ(decode_stored(wrapped).content_type, "application/octet-stream");

  // Values written by other clients, including truncated envelopes.
  EXPECT_EQ(decode_stored("plain").body, "plain");
  EXPECT_EQ(decode_stored("").content_type, "application/octet-stream");
  const std::string truncated = std::string("\xC1RT\x01\x10", 5) + "abc";
  EXPECT_EQ(decode_stored(truncated).body, truncated);
}

TEST(HttpApi, EtagsAndIfNoneMatch) {
  const std::string a(etag::of("value-a").view());
  EXPECT_EQ(a.size(), 34u);
  EXPECT_EQ(a.front(), '"');
  EXPECT_EQ(a.back(), '"');
  EXPECT_EQ(a, etag::of("value-a").view());
  EXPECT_NE(a, etag::of("value-b").view());
  EXPECT_NE(etag::of(encode_stored("x", "text/plain")), etag::of(encode_stored("x", "text/html")))
      << "the content type is part of the representation";
  EXPECT_TRUE(etag{}.empty());
  // The tag docs/api.md shows: XXH3-128 of the stored value, high 64 bits
  // first, computed apart from this code with libxxhash's XXH3_128bits.
  EXPECT_EQ(etag::of(encode_stored(R"({"name":"Ada"})", "application/json")).view(),
            "\"bb7c3a4b15b840e40b547c4b480d2bab\"");
  EXPECT_TRUE(etag_matches(a, a));
  EXPECT_TRUE(etag_matches("\"other\", " + a, a));
  EXPECT_TRUE(etag_matches("W/" + a, a));
  EXPECT_TRUE(etag_matches("*", a));
  EXPECT_FALSE(etag_matches("\"other\"", a));
  EXPECT_FALSE(etag_matches("", a));
}

TEST(HttpApi, ResponsesAreFormattedWhole) {
  std::string out;
  api_response ok{200, "text/plain", "hello"};
  ok.tag = etag::of("hello");
  const std::string tag(ok.tag.view());
  format_response(out, ok, 11, true, false, "D");
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nServer: rcache\r\nDate: D\r\nContent-Type: text/plain\r\n"
            "ETag: " +
                tag + "\r\nContent-Length: 5\r\n\r\nhello");
  out.clear();
  format_response(out, ok, 11, true, true, "D");
  EXPECT_TRUE(out.ends_with("Content-Length: 5\r\n\r\n")) << "HEAD: GET's length, no body";
  out.clear();
  format_response(out, ok, 10, true, false, "D");
  EXPECT_TRUE(out.starts_with("HTTP/1.0 200 OK\r\n"));
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
  out.clear();
  auto unavailable = error_response(api_error{503, "redis_unavailable", "down"});
  unavailable.retry_after = true;
  format_response(out, unavailable, 11, false, false, "D");
  EXPECT_NE(out.find("Retry-After: 1\r\n"), std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  out.clear();
  api_response not_modified{304, "text/plain"};
  not_modified.tag = ok.tag;
  format_response(out, not_modified, 11, true, false, "D");
  EXPECT_EQ(out,
            "HTTP/1.1 304 Not Modified\r\nServer: rcache\r\nDate: D\r\nETag: " + tag + "\r\n\r\n");
}

TEST(HttpApi, AStoredValueIsAnsweredAsItsEnvelopeSays) {
  api_response r;
  r.body = encode_stored("<p>hi</p>", "text/html");
  r.stored = true;
  EXPECT_EQ(r.body_view(), "<p>hi</p>");
  EXPECT_EQ(r.type(), "text/html");
  std::string out;
  format_response(out, r, 11, true, false, "D");
  EXPECT_TRUE(out.ends_with("Content-Type: text/html\r\nContent-Length: 9\r\n\r\n<p>hi</p>"))
      << out;
  r.body = "plain bytes";  // no envelope: written by another client
  EXPECT_EQ(r.type(), "application/octet-stream");
  EXPECT_EQ(r.body_view(), "plain bytes");
  r.shared = std::make_shared<const std::string>(encode_stored("{}", "application/json"));
  EXPECT_EQ(r.bytes(), *r.shared) << "shared bytes win over the body";
  EXPECT_EQ(r.body_view(), "{}");
  EXPECT_EQ(r.type(), "application/json");
}

TEST(HttpApi, JsonAnswers) {
  auto e = boost::json::parse(error_json("not_found", "no \"such\" key"));
  EXPECT_EQ(e.at("error").at("code").as_string(), "not_found");
  EXPECT_EQ(e.at("error").at("message").as_string(), "no \"such\" key");

  auto b = boost::json::parse(batch_get_json(
      {"a", "b", "c"},
      {encode_stored("text", "text/plain"), std::nullopt, std::string("\xff\x00", 2)}));
  const auto& items = b.at("items").as_array();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].at("value").as_string(), "text");
  EXPECT_EQ(items[0].at("content_type").as_string(), "text/plain");
  EXPECT_FALSE(items[1].at("found").as_bool());
  EXPECT_EQ(items[2].at("value_base64").as_string(), "/wA=") << "binary values as base64";

  EXPECT_TRUE(is_utf8("h\xc3\xa9llo \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_utf8("\xc0\xaf")) << "overlong";
  EXPECT_FALSE(is_utf8("\xed\xa0\x80")) << "surrogate";
  EXPECT_FALSE(is_utf8("\xe2\x82")) << "truncated";
  EXPECT_EQ(utf8_text("h\xc3\xa9llo"), "h\xc3\xa9llo") << "valid text is kept";
  EXPECT_EQ(utf8_text("a\xff"
                      "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(utf8_text(std::string_view("\xc3\xa9\xe2\x82")), "\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd")
      << "a character cut short";
}

}  // namespace
}  // namespace rcache::server
