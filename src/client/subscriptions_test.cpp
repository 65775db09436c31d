// Unit tests of pub/sub without Redis: the subscription table (counted
// subscriptions, one change at a time), message parsing, and a
// subscriber's buffer with both overflow policies.
#include "client/subscriptions.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "client/push_router.hpp"
#include "client/subscriber_state.hpp"

namespace rcache::detail {
namespace {

using kind = subscription_kind;
using names = std::vector<std::string>;

TEST(SubscriptionTable, OneSubscribeForTwoHoldersAndOneUnsubscribeWhenBothLeave) {
  subscription_table t;
  EXPECT_EQ(t.add(1, kind::channel, {"a", "b"}), (names{"a", "b"}));
  auto c = t.next_change();
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->subscribe);
  EXPECT_EQ(c->names, (names{"a", "b"}));
  EXPECT_EQ(command_of(*c), "SUBSCRIBE");
  EXPECT_FALSE(t.in_line(kind::channel, {"a"}));
  t.applied(*c);
  EXPECT_TRUE(t.in_line(kind::channel, {"a", "b"}));
  EXPECT_FALSE(t.next_change());

  EXPECT_EQ(t.add(2, kind::channel, {"a"}), names{"a"});
  EXPECT_FALSE(t.next_change()) << "already subscribed for the first holder";
  EXPECT_EQ(t.add(2, kind::channel, {"a"}), names{}) << "holding twice adds nothing";
  EXPECT_EQ(t.owners_of(kind::channel, "a"), (std::vector<subscription_table::owner>{1, 2}));

  t.remove(1, kind::channel, {"a"});
  EXPECT_FALSE(t.next_change()) << "the second holder keeps it";
  EXPECT_EQ(t.owners_of(kind::channel, "a"), std::vector<subscription_table::owner>{2});
  t.remove_owner(2);
  c = t.next_change();
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->subscribe);
  EXPECT_EQ(c->names, names{"a"});
  EXPECT_EQ(command_of(*c), "UNSUBSCRIBE");
  EXPECT_FALSE(t.in_line(kind::channel, {"a"}));
  t.applied(*c);
  EXPECT_TRUE(t.in_line(kind::channel, {"a"}));
  EXPECT_TRUE(t.owners_of(kind::channel, "a").empty());
  EXPECT_EQ(t.held_by(1, kind::channel), names{"b"});
}

TEST(SubscriptionTable, KindsAreSeparateAndChangedOneAtATime) {
  subscription_table t;
  (void)t.add(1, kind::pattern, {"n*"});
  (void)t.add(1, kind::shard_channel, {"s"});
  auto c = t.next_change();
  ASSERT_TRUE(c);
  EXPECT_EQ(command_of(*c), "PSUBSCRIBE");
  t.applied(*c);
  c = t.next_change();
  ASSERT_TRUE(c);
  EXPECT_EQ(command_of(*c), "SSUBSCRIBE");
  t.applied(*c);
  EXPECT_TRUE(t.owners_of(kind::channel, "n*").empty());
  t.remove(1, kind::shard_channel, {"s"});
  c = t.next_change();
  ASSERT_TRUE(c);
  EXPECT_EQ(command_of(*c), "SUNSUBSCRIBE");
}

value bulk(std::string s) {
  value v;
  v.type = resp_type::bulk_string;
  v.str = std::move(s);
  return v;
}

value push_of(std::vector<std::string> parts) {
  value v;
  v.type = resp_type::push;
  for (auto& p : parts) v.elements.push_back(bulk(std::move(p)));
  return v;
}

TEST(Message, ParsedFromTheThreePushKindsAndNothingElse) {
  auto m = message_of(push_of({"message", "news", "hi"}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, kind::channel);
  EXPECT_EQ(m->channel, "news");
  EXPECT_EQ(m->payload, "hi");
  m = message_of(push_of({"pmessage", "n*", "news", "hi"}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, kind::pattern);
  EXPECT_EQ(m->pattern, "n*");
  EXPECT_EQ(m->channel, "news");
  EXPECT_EQ(m->payload, "hi");
  m = message_of(push_of({"smessage", "s", "x"}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, kind::shard_channel);
  EXPECT_FALSE(message_of(push_of({"invalidate", "k", "x"})));
  EXPECT_FALSE(message_of(push_of({"message", "news"})));
  EXPECT_FALSE(message_of(push_of({"pmessage", "n*", "news"})));
}

// A subscriber's state without a client: what it buffers and drops.
struct buffer_fixture {
  boost::asio::io_context io;
  std::shared_ptr<subscriber_state> st;
  explicit buffer_fixture(subscriber_options o)
      : st(std::make_shared<subscriber_state>(
            std::make_shared<push_router>(std::weak_ptr<client_base>{}), io.get_executor(), o,
            nullptr)) {}
  void publish(int from, int to) {
    for (int i = from; i <= to; ++i) st->deliver({kind::channel, "c", "", std::to_string(i), 0});
  }
  // The next message, or the error.
  std::pair<boost::system::error_code, message> receive() {
    std::pair<boost::system::error_code, message> out;
    bool done = false;
    st->receive([&](boost::system::error_code ec, message m) {
      out = {ec, std::move(m)};
      done = true;
    });
    io.restart();
    io.run();
    EXPECT_TRUE(done);
    return out;
  }
};

TEST(SubscriberBuffer, DropOldestKeepsTheNewestAndTheNextMessageCountsTheGap) {
  buffer_fixture f({.max_buffered = 2, .overflow = overflow_policy::drop_oldest});
  f.publish(1, 5);
  EXPECT_EQ(f.st->dropped(), 3u);
  EXPECT_EQ(f.st->buffered(), 2u);
  auto [ec, m] = f.receive();
  EXPECT_FALSE(ec);
  EXPECT_EQ(m.payload, "4");
  EXPECT_EQ(m.dropped_before, 3u);
  std::tie(ec, m) = f.receive();
  EXPECT_EQ(m.payload, "5");
  EXPECT_EQ(m.dropped_before, 0u);
}

TEST(SubscriberBuffer, DropNewestKeepsTheOldestAndTheGapIsBeforeTheNextAccepted) {
  buffer_fixture f({.max_buffered = 2, .overflow = overflow_policy::drop_newest});
  f.publish(1, 5);
  EXPECT_EQ(f.st->dropped(), 3u);
  EXPECT_EQ(f.receive().second.payload, "1");
  auto m = f.receive().second;
  EXPECT_EQ(m.payload, "2");
  EXPECT_EQ(m.dropped_before, 0u) << "3, 4 and 5 came after it";
  f.publish(6, 6);
  m = f.receive().second;
  EXPECT_EQ(m.payload, "6");
  EXPECT_EQ(m.dropped_before, 3u);
}

TEST(SubscriberBuffer, AWaitingReceiveGetsTheMessageAndASecondOneIsRefused) {
  buffer_fixture f({.max_buffered = 0});
  boost::system::error_code first_ec, second_ec;
  message first;
  f.st->receive([&](boost::system::error_code ec, message m) {
    first_ec = ec;
    first = std::move(m);
  });
  f.st->receive([&](boost::system::error_code ec, message) { second_ec = ec; });
  f.publish(1, 2);  // 1 to the waiting receive; 2 has no room
  f.io.run();
  EXPECT_FALSE(first_ec);
  EXPECT_EQ(first.payload, "1");
  EXPECT_EQ(second_ec, make_error_code(error::receive_in_progress));
  EXPECT_EQ(f.st->dropped(), 1u);
  f.st->shut();
  auto [ec, m] = f.receive();
  EXPECT_EQ(ec, make_error_code(error::subscriber_closed));
}

TEST(SubscriberBuffer, ShuttingFailsTheWaitingReceive) {
  buffer_fixture f({});
  boost::system::error_code got;
  f.st->receive([&](boost::system::error_code ec, message) { got = ec; });
  f.st->shut();
  f.io.run();
  EXPECT_EQ(got, make_error_code(error::subscriber_closed));
}

}  // namespace
}  // namespace rcache::detail
