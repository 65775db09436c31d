// Unit tests of the gateway's request parser: every limit counted where the
// issue found it uncounted (trailers, chunk extensions, single huge fields
// under a large limit), the Host and If-None-Match rules, bodies chunked or
// not — each fed whole and split at every offset, as TCP may deliver it.
#include "server/http_request.hpp"

#include <boost/beast/http/error.hpp>
#include <gtest/gtest.h>

namespace rcache::server {
namespace {

namespace http = boost::beast::http;
using boost::beast::error_code;

struct outcome {
  error_code ec;
  std::optional<api_error> error;  // request_error_of, when ec
  std::string target, content_type, if_none_match, body;
  bool done = false;
  bool keep_alive = false;
  bool websocket = false;    // upgrade_to_websocket()
  std::size_t consumed = 0;  // bytes of the input the request took
};

// Feeds `bytes` as a read loop does: whatever has arrived and is not yet
// consumed, with the second part arriving only after the parser asked for
// more. `split` is where the first delivery ends.
outcome parse(std::string_view bytes, std::size_t split, request_limits limits = {}) {
  request_parser p(limits);
  p.eager(true);
  std::string pending;
  std::size_t delivered = 0;
  outcome out;
  auto deliver = [&](std::size_t upto) {
    pending.append(bytes.substr(delivered, upto - delivered));
    delivered = upto;
  };
  deliver(std::min(split, bytes.size()));
  while (!p.is_done()) {
    error_code ec;
    const auto used = p.put(boost::asio::buffer(pending), ec);
    pending.erase(0, used);
    out.consumed += used;
    // need_more, or nothing left to give it (Beast's read loop reads before
    // calling put() again).
    if (ec == http::error::need_more || (!ec && pending.empty())) {
      if (delivered == bytes.size()) break;  // incomplete
      deliver(bytes.size());
      continue;
    }
    if (ec) {
      out.ec = ec;
      out.error = request_error_of(ec, p, limits);
      return out;
    }
  }
  out.done = p.is_done();
  if (out.done) {
    const auto v = p.view();
    out.target = v.target;
    out.content_type = v.content_type;
    out.if_none_match = v.if_none_match;
    out.body = v.body;
    out.keep_alive = p.keep_alive();
    out.websocket = p.upgrade_to_websocket();
  }
  return out;
}

// The same outcome whatever the split; returns it.
outcome parse_every_split(std::string_view bytes, request_limits limits = {}) {
  const auto whole = parse(bytes, bytes.size(), limits);
  // Long inputs: every offset near the edges and a stride in between.
  const std::size_t stride = bytes.size() > 4096 ? 97 : 1;
  for (std::size_t k = 0; k < bytes.size(); k += (k < 64 || bytes.size() - k < 64) ? 1 : stride) {
    const auto part = parse(bytes, k, limits);
    EXPECT_EQ(part.ec, whole.ec) << "split at " << k;
    EXPECT_EQ(part.done, whole.done) << "split at " << k;
    EXPECT_EQ(part.body, whole.body) << "split at " << k;
    EXPECT_EQ(part.if_none_match, whole.if_none_match) << "split at " << k;
    EXPECT_EQ(part.websocket, whole.websocket) << "split at " << k;
    if (part.ec != whole.ec) break;  // one report is enough
  }
  return whole;
}

std::string request_with(std::string_view head_lines, std::string_view body = {}) {
  return "POST /v1/ns/a/batch/get HTTP/1.1\r\nHost: x\r\n" + std::string(head_lines) + "\r\n" +
         std::string(body);
}

TEST(HttpRequest, ParsesTheFieldsTheApiReadsAndTheBody) {
  const auto r = parse_every_split(request_with(
      "Content-Type: application/json\r\nContent-Length: 11\r\nX-Other: 1\r\n", R"({"keys":[]})"));
  ASSERT_TRUE(r.done) << r.ec.message();
  EXPECT_EQ(r.target, "/v1/ns/a/batch/get");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"keys":[]})");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.consumed, request_with("Content-Type: application/json\r\nContent-Length: 11\r\n"
                                     "X-Other: 1\r\n",
                                     R"({"keys":[]})")
                            .size());
}

TEST(HttpRequest, ChunkedBodiesAreJoinedAndTrailersDropped) {
  const auto r = parse_every_split(request_with("Transfer-Encoding: chunked\r\n",
                                                "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n"
                                                "Content-Type: text/evil\r\nX-T: 1\r\n\r\n"));
  ASSERT_TRUE(r.done) << r.ec.message();
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.content_type, "") << "a trailer never stands in for a header";
}

TEST(HttpRequest, SeveralIfNoneMatchLinesAreOneList) {
  const auto r =
      parse_every_split(request_with("If-None-Match: \"a\"\r\nIf-None-Match: W/\"b\", \"c\"\r\n"));
  ASSERT_TRUE(r.done) << r.ec.message();
  EXPECT_EQ(r.if_none_match, "\"a\", W/\"b\", \"c\"");
}

TEST(HttpRequest, AnHttp11RequestNeedsExactlyOneHost) {
  auto none = parse_every_split("GET /healthz HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(none.error);
  EXPECT_EQ(none.error->status, 400u);
  EXPECT_NE(none.error->message.find("Host"), std::string::npos);

  auto two = parse_every_split("GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n");
  ASSERT_TRUE(two.error);
  EXPECT_EQ(two.error->status, 400u);

  EXPECT_TRUE(parse_every_split("GET /healthz HTTP/1.0\r\n\r\n").done)
      << "HTTP/1.0 has no Host requirement";

  auto types = parse_every_split(request_with("Content-Type: a/b\r\nContent-Type: c/d\r\n"));
  ASSERT_TRUE(types.error);
  EXPECT_EQ(types.error->status, 400u);
}

// RFC 6455 §4.2.1: a GET over HTTP/1.1 with websocket among the Upgrade
// tokens and upgrade among the Connection tokens, in any case and in any
// number of lines; nothing else is a WebSocket upgrade.
TEST(HttpRequest, AWebSocketUpgradeIsAGetWithBothTokens) {
  auto upgrade = [](std::string_view start, std::string_view fields) {
    const auto r = parse_every_split(std::string(start) + "\r\nHost: x\r\n" + std::string(fields) +
                                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                     "Sec-WebSocket-Version: 13\r\n\r\n");
    EXPECT_TRUE(r.done) << start << " " << fields << ": " << r.ec.message();
    return r.websocket;
  };
  constexpr std::string_view get = "GET /v1/feed HTTP/1.1";
  EXPECT_TRUE(upgrade(get, "Upgrade: websocket\r\nConnection: Upgrade\r\n"));
  EXPECT_TRUE(upgrade(get, "Connection: keep-alive, UPGRADE\r\nUpgrade: WebSocket\r\n"));
  EXPECT_TRUE(upgrade(get, "Upgrade: h2c\r\nUpgrade: foo, websocket\r\nConnection: upgrade\r\n"));

  EXPECT_FALSE(upgrade(get, "Upgrade: h2c\r\nConnection: Upgrade\r\n")) << "another protocol";
  EXPECT_FALSE(upgrade(get, "Upgrade: websocket\r\n")) << "no Connection: upgrade";
  EXPECT_FALSE(upgrade(get, "Connection: upgrade\r\n")) << "no Upgrade";
  EXPECT_FALSE(upgrade(get, "Upgrade: websockets\r\nConnection: upgrade\r\n"))
      << "a token, not a prefix";
  EXPECT_FALSE(upgrade("POST /v1/feed HTTP/1.1", "Upgrade: websocket\r\nConnection: upgrade\r\n"))
      << "only a GET";
  EXPECT_FALSE(upgrade("GET /v1/feed HTTP/1.0", "Upgrade: websocket\r\nConnection: upgrade\r\n"))
      << "only HTTP/1.1";
}

// The head budget counts the request line, each field line (name, ": ",
// value, CRLF) and the empty line: a head of exactly the limit passes, one
// byte more is a 431.
TEST(HttpRequest, TheHeadLimitIsExact) {
  const request_limits limits{.max_head_bytes = 4096, .max_body_bytes = 1024};
  const std::string base = "GET /healthz HTTP/1.1\r\nHost: x\r\nX: \r\n\r\n";
  const std::string fits = "GET /healthz HTTP/1.1\r\nHost: x\r\nX: " +
                           std::string(limits.max_head_bytes - base.size(), 'a') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), limits.max_head_bytes);
  EXPECT_TRUE(parse_every_split(fits, limits).done);
  const std::string over = "GET /healthz HTTP/1.1\r\nHost: x\r\nX: " +
                           std::string(limits.max_head_bytes - base.size() + 1, 'a') + "\r\n\r\n";
  const auto r = parse_every_split(over, limits);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->status, 431u);
}

// A 16 KiB limit (the default) is not capped at Beast's own 8 KiB default.
TEST(HttpRequest, TheDefaultLimitLetsAFifteenKibHeadThrough) {
  const auto r = parse_every_split(request_with("X-Big: " + std::string(15 * 1024, 'v') + "\r\n"));
  EXPECT_TRUE(r.done) << r.ec.message();
}

// Under a limit far above 64 KiB, single fields of 64 KiB and more (which
// Beast's own field storage throws on) parse, or are refused, never thrown.
TEST(HttpRequest, HugeSingleFieldsUnderALargeLimitNeverThrow) {
  const request_limits limits{.max_head_bytes = 1u << 20, .max_body_bytes = 1024};
  const auto value =
      parse(request_with("X: " + std::string(70'000, 'a') + "\r\n"), SIZE_MAX, limits);
  EXPECT_TRUE(value.done) << value.ec.message();
  const auto name = parse(request_with(std::string(70'000, 'n') + ": 1\r\n"), SIZE_MAX, limits);
  EXPECT_TRUE(name.done) << name.ec.message();
  const auto inm =
      parse(request_with("If-None-Match: " + std::string(70'000, 'e') + "\r\n"), SIZE_MAX, limits);
  ASSERT_TRUE(inm.done) << inm.ec.message();
  EXPECT_EQ(inm.if_none_match.size(), 70'000u);
}

// Trailers count against the same budget as the header (the issue's crash:
// one 65,534-byte trailer value; and 20,000 trailer lines that were
// accepted against a 16 KiB limit).
TEST(HttpRequest, TrailersCountAgainstTheHeadLimit) {
  const std::string chunked =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const auto one = parse(chunked + "0\r\nX: " + std::string(65'534, 'a') + "\r\n\r\n", SIZE_MAX);
  ASSERT_TRUE(one.error) << "done: " << one.done;
  EXPECT_EQ(one.error->status, 431u);

  std::string many = chunked + "0\r\n";
  for (int i = 0; i < 20'000; ++i) many += "X: 123456\r\n";
  many += "\r\n";
  const auto lines = parse(many, SIZE_MAX);
  ASSERT_TRUE(lines.error);
  EXPECT_EQ(lines.error->status, 431u);

  // A head of 10 KiB plus trailers of 10 KiB is over a 16 KiB budget.
  const auto sum = parse_every_split(
      "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\nX: " +
      std::string(10 * 1024, 'h') + "\r\n\r\n0\r\nT: " + std::string(10 * 1024, 't') + "\r\n\r\n");
  ASSERT_TRUE(sum.error);
  EXPECT_EQ(sum.error->status, 431u);
}

TEST(HttpRequest, ChunkExtensionsCountAgainstTheHeadLimit) {
  std::string body;
  for (int i = 0; i < 400; ++i) body += "1;" + std::string(60, 'e') + "\r\na\r\n";
  body += "0\r\n\r\n";
  const auto r = parse(request_with("Transfer-Encoding: chunked\r\n", body), SIZE_MAX);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->status, 431u);

  // Without extensions, many small chunks are just a body.
  std::string plain;
  for (int i = 0; i < 4000; ++i) plain += "1\r\na\r\n";
  plain += "0\r\n\r\n";
  const auto ok = parse(request_with("Transfer-Encoding: chunked\r\n", plain), SIZE_MAX);
  ASSERT_TRUE(ok.done) << ok.ec.message();
  EXPECT_EQ(ok.body.size(), 4000u);
}

TEST(HttpRequest, BodiesPastTheLimitAre413ChunkedOrNot) {
  const request_limits limits{.max_head_bytes = 4096, .max_body_bytes = 10};
  EXPECT_TRUE(parse_every_split(request_with("Content-Length: 10\r\n", "0123456789"), limits).done);
  const auto length =
      parse_every_split(request_with("Content-Length: 11\r\n", "0123456789a"), limits);
  ASSERT_TRUE(length.error);
  EXPECT_EQ(length.error->status, 413u);
  const auto chunked = parse_every_split(
      request_with("Transfer-Encoding: chunked\r\n", "6\r\n012345\r\n5\r\n6789a\r\n0\r\n\r\n"),
      limits);
  ASSERT_TRUE(chunked.error);
  EXPECT_EQ(chunked.error->status, 413u);
}

TEST(HttpRequest, MalformedFramingIsA400) {
  const auto r = parse_every_split(request_with("Transfer-Encoding: chunked\r\n", "zz\r\n"));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->status, 400u);
  EXPECT_NE(r.error->message.find("malformed HTTP request"), std::string::npos);
}

}  // namespace
}  // namespace rcache::server
