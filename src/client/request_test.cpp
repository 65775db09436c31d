// Unit tests for rcache::request: wire encoding, read-only classification,
// pub/sub reply bookkeeping.
#include <rcache/request.hpp>

#include <gtest/gtest.h>

namespace rcache {
namespace {

TEST(Request, EncodesCommandsAsArraysOfBulkStrings) {
  request r;
  r.push("SET", "k", 42).push("GET", std::string("k"));
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.payload(),
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n42\r\n"
            "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

TEST(Request, PushRangePutsHeadArgumentsFirst) {
  request r;
  std::vector<std::string> keys{"a", "b"};
  r.push_range("DEL", keys, {"x"});
  EXPECT_EQ(r.payload(), "*4\r\n$3\r\nDEL\r\n$1\r\nx\r\n$1\r\na\r\n$1\r\nb\r\n");
}

TEST(Request, ReadOnlyOnlyWhenEveryCommandIs) {
  request reads;
  reads.push("get", "a").push("MGET", "a", "b").push("Ttl", "a");
  EXPECT_TRUE(reads.read_only());
  request mixed;
  mixed.push("GET", "a").push("INCR", "a");
  EXPECT_FALSE(mixed.read_only());
  request unknown;
  unknown.push("SOMETHINGVERYLONGTHATISNOTACOMMAND");
  EXPECT_FALSE(unknown.read_only());
}

TEST(Request, SubscribeCountsOneConfirmationPerChannel) {
  request r;
  r.push("GET", "a").push("SUBSCRIBE", "c1", "c2").push("UNSUBSCRIBE");
  const auto& info = r.commands_info();
  ASSERT_EQ(info.size(), 3u);
  EXPECT_EQ(info[0].kind, request::reply_kind::normal);
  EXPECT_EQ(info[1].kind, request::reply_kind::subscribe);
  EXPECT_EQ(info[1].confirmations, 2u);
  EXPECT_EQ(info[2].kind, request::reply_kind::unsubscribe_all);
  EXPECT_FALSE(r.read_only());
}

TEST(Request, PlainRequestsCarryNoCommandInfo) {
  request r;
  r.push("SET", "a", "b");
  EXPECT_TRUE(r.commands_info().empty());
}

TEST(Request, AppendKeepsTheOrderTheCountsAndThePubSubInfo) {
  request inner;
  inner.push("GET", "a").push("SUBSCRIBE", "c");
  request r;
  r.push("MULTI").append(inner).push("EXEC");
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(r.payload(),
            "*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
            "*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n*1\r\n$4\r\nEXEC\r\n");
  const auto& info = r.commands_info();
  ASSERT_EQ(info.size(), 4u);
  EXPECT_EQ(info[0].kind, request::reply_kind::normal);
  EXPECT_EQ(info[2].kind, request::reply_kind::subscribe);
  EXPECT_EQ(info[3].kind, request::reply_kind::normal);
  EXPECT_FALSE(r.read_only());
  request reads;
  reads.push("GET", "x");
  request plain;
  plain.append(reads);
  EXPECT_TRUE(plain.read_only());
  EXPECT_TRUE(plain.commands_info().empty());
}

TEST(Request, TakePayloadEmptiesTheRequest) {
  request r;
  r.push("PING");
  auto bytes = std::move(r).take_payload();
  EXPECT_EQ(bytes, "*1\r\n$4\r\nPING\r\n");
}

}  // namespace
}  // namespace rcache
