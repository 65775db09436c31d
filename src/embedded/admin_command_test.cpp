// Unit tests of the admin channel's reply parser: every RESP2/RESP3 type it
// renders, replies split at every offset, and malformed input. No sockets.
#include "embedded/admin_command.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace rcache::embedded {
namespace {

admin_reply parse_all(std::string_view bytes) {
  std::size_t consumed = 0;
  boost::system::error_code ec;
  auto reply = parse_admin_reply(bytes, consumed, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(reply.has_value());
  EXPECT_EQ(consumed, bytes.size());
  return reply.value_or(admin_reply{});
}

boost::system::error_code parse_error(std::string_view bytes) {
  std::size_t consumed = 0;
  boost::system::error_code ec;
  EXPECT_FALSE(parse_admin_reply(bytes, consumed, ec).has_value());
  return ec;
}

TEST(AdminReply, RendersScalars) {
  EXPECT_EQ(parse_all("+OK\r\n").text, "OK");
  EXPECT_EQ(parse_all(":5\r\n").text, "5");
  EXPECT_EQ(parse_all("$3\r\nfoo\r\n").text, "foo");
  EXPECT_EQ(parse_all("$0\r\n\r\n").text, "");
  EXPECT_EQ(parse_all(",3.5\r\n").text, "3.5");
  EXPECT_EQ(parse_all("#t\r\n").text, "true");
  EXPECT_EQ(parse_all("=7\r\ntxt:abc\r\n").text, "abc");
}

TEST(AdminReply, RendersNilsAndErrors) {
  for (std::string_view nil : {"$-1\r\n", "*-1\r\n", "_\r\n"}) {
    const auto reply = parse_all(nil);
    EXPECT_EQ(reply.text, "(nil)");
    EXPECT_TRUE(reply.is_nil);
  }
  const auto simple = parse_all("-ERR unknown command\r\n");
  EXPECT_TRUE(simple.is_error);
  EXPECT_EQ(simple.text, "ERR unknown command");
  const auto bulk = parse_all("!9\r\nNOAUTH no\r\n");
  EXPECT_TRUE(bulk.is_error);
  EXPECT_EQ(bulk.text, "NOAUTH no");
}

TEST(AdminReply, RendersAggregates) {
  const auto array = parse_all("*3\r\n$1\r\na\r\n:2\r\n*2\r\n+x\r\n+y\r\n");
  EXPECT_EQ(array.text, "a\n2\nx\ny");
  EXPECT_EQ(array.elements, (std::vector<std::string>{"a", "2", "x\ny"}));
  const auto map = parse_all("%1\r\n+k\r\n+v\r\n");
  EXPECT_EQ(map.elements, (std::vector<std::string>{"k", "v"}));
  // An attribute is metadata: the reply is the value after it.
  EXPECT_EQ(parse_all("|1\r\n+meta\r\n+m\r\n+real\r\n").text, "real");
  EXPECT_TRUE(parse_all("*0\r\n").elements.empty());
}

TEST(AdminReply, EveryPrefixIsIncompleteNotAnError) {
  const std::string bytes = "*2\r\n$5\r\nhello\r\n%1\r\n+k\r\n:42\r\n";
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    std::size_t consumed = 0;
    boost::system::error_code ec;
    EXPECT_FALSE(parse_admin_reply(std::string_view(bytes).substr(0, cut), consumed, ec))
        << "cut at " << cut;
    EXPECT_FALSE(ec) << "cut at " << cut;
  }
  EXPECT_EQ(parse_all(bytes).text, "hello\nk\n42");
}

TEST(AdminReply, StopsAfterTheFirstReply) {
  std::size_t consumed = 0;
  boost::system::error_code ec;
  const auto reply = parse_admin_reply("+A\r\n+B\r\n", consumed, ec);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->text, "A");
  EXPECT_EQ(consumed, 4u);
}

TEST(AdminReply, RejectsMalformedInput) {
  EXPECT_EQ(parse_error("?x\r\n"), rcache::error::resp_invalid_type);
  EXPECT_EQ(parse_error("$abc\r\n"), rcache::error::resp_invalid_integer);
  EXPECT_EQ(parse_error("$-2\r\n"), rcache::error::resp_invalid_integer);
  EXPECT_EQ(parse_error("$3\r\nfooXY"), rcache::error::resp_invalid_framing);
  EXPECT_EQ(parse_error("#x\r\n"), rcache::error::resp_invalid_boolean);
  EXPECT_EQ(parse_error("$99999999999\r\n"), rcache::error::resp_bulk_too_long);
  EXPECT_EQ(parse_error("*99999999999\r\n"), rcache::error::resp_aggregate_too_large);
  std::string deep;
  for (std::size_t i = 0; i <= max_admin_reply_depth + 1; ++i) deep += "*1\r\n";
  EXPECT_EQ(parse_error(deep + "+x\r\n"), rcache::error::resp_depth_exceeded);
  EXPECT_EQ(parse_error(std::string(70 * 1024, 'a').insert(0, "+")),
            rcache::error::resp_line_too_long);
}

TEST(AdminCommand, RejectsEmptyRequestsAndBadTargets) {
  admin_target target;
  EXPECT_EQ(admin_command(target, std::span<const std::string_view>{}).error(),
            rcache::error::empty_request);
  target.host = "not-an-ip";
  target.port = 1;
  EXPECT_EQ(admin_command(target, {"PING"}).error(), rcache::error::invalid_argument);
  target.unix_socket = std::string(200, 'x');
  EXPECT_EQ(admin_command(target, {"PING"}).error(), rcache::error::invalid_argument);
}

}  // namespace
}  // namespace rcache::embedded
