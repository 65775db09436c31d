// Unit tests of the SCAN walk's position without I/O: the requests it
// makes, how each reply moves it from cursor to cursor and master to
// master, and replies that are not SCAN's.
#include "client/scan_walk.hpp"

#include <gtest/gtest.h>

#include "resp/parser.hpp"

namespace rcache::detail {
namespace {

value parse(std::string_view bytes) {
  resp::parser p;
  boost::system::error_code ec;
  (void)p.feed(bytes, ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(p.ready());
  return p.take();
}

// SCAN's reply: [cursor, [keys...]].
value page(std::string_view cursor, std::vector<std::string> keys) {
  std::string bytes = "*2\r\n$" + std::to_string(cursor.size()) + "\r\n" + std::string(cursor) +
                      "\r\n*" + std::to_string(keys.size()) + "\r\n";
  for (const auto& k : keys) bytes += "$" + std::to_string(k.size()) + "\r\n" + k + "\r\n";
  return parse(bytes);
}

TEST(ScanWalk, FollowsEachMastersCursorToZeroInTurn) {
  scan_walk w({"10.0.0.1:7000", "10.0.0.2:7000"}, {.match = "users:*", .count = 50});
  ASSERT_FALSE(w.finished());
  auto r = w.next_request();
  EXPECT_EQ(r.opts().node, "10.0.0.1:7000");
  EXPECT_FALSE(r.opts().wait_for_connection);
  EXPECT_EQ(
      r.payload(),
      "*6\r\n$4\r\nSCAN\r\n$1\r\n0\r\n$5\r\nMATCH\r\n$7\r\nusers:*\r\n$5\r\nCOUNT\r\n$2\r\n50\r\n");
  auto keys = w.on_reply(page("17", {"users:1", "users:2"}));
  ASSERT_TRUE(keys);
  EXPECT_EQ(*keys, (std::vector<std::string>{"users:1", "users:2"}));
  EXPECT_NE(w.next_request().payload().find("$2\r\n17\r\n"), std::string::npos) << "the cursor";
  EXPECT_TRUE(w.on_reply(page("0", {})));
  EXPECT_FALSE(w.finished());
  EXPECT_EQ(w.next_request().opts().node, "10.0.0.2:7000") << "the next master, from cursor 0";
  EXPECT_NE(w.next_request().payload().find("$1\r\n0\r\n"), std::string::npos);
  ASSERT_TRUE(w.on_reply(page("0", {"users:3"})));
  EXPECT_TRUE(w.finished());
  EXPECT_EQ(w.pages(), 3u);
}

TEST(ScanWalk, ATypeFilterIsSent) {
  scan_walk w({""}, {.match = "*", .count = 10, .type = "hash"});
  EXPECT_NE(w.next_request().payload().find("$4\r\nTYPE\r\n$4\r\nhash\r\n"), std::string::npos);
  EXPECT_EQ(w.next_request().opts().node, "");
}

TEST(ScanWalk, AReplyThatIsNotScansLeavesTheWalkWhereItWas) {
  scan_walk w({""}, {});
  for (auto bytes :
       {"-ERR unknown command\r\n", "*1\r\n$1\r\n0\r\n", ":3\r\n", "*2\r\n*0\r\n*0\r\n"}) {
    auto keys = w.on_reply(parse(bytes));
    ASSERT_FALSE(keys) << bytes;
    EXPECT_EQ(keys.error(), error::redis_error);
    EXPECT_FALSE(w.finished());
  }
  EXPECT_EQ(w.pages(), 0u);
}

TEST(ScanWalk, NoMastersIsToldApartFromAFinishedWalk) {
  scan_walk none({}, {});
  EXPECT_TRUE(none.without_masters());
  scan_walk one({""}, {});
  EXPECT_FALSE(one.without_masters());
}

}  // namespace
}  // namespace rcache::detail
