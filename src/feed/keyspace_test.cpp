// Unit tests of keyspace.hpp: what notify-keyspace-events means for direct
// writes, how a notification reads as a change, and how direct writes are
// told from writes through rcache (direct_write_filter, on a fake clock).
#include "feed/keyspace.hpp"

#include <algorithm>
#include <gtest/gtest.h>

namespace rcache::feed {
namespace {

TEST(Keyspace, FlagsThatLetDirectWritesThrough) {
  for (const char* flags : {"Kg$x", "Kg$xe", "AK", "KA", "KEA", "K$gx"}) {
    EXPECT_TRUE(judge_keyspace_events(std::string_view(flags)).seen) << flags;
  }
}

TEST(Keyspace, FlagsThatDoNotSayWhatIsMissing) {
  struct row {
    const char* flags;
    const char* missing;
  };
  for (const auto& r : {row{"", "Kg$x"}, row{"E$", "Kgx"}, row{"Eg$x", "K"}, row{"K$x", "g"},
                        row{"Kgx", "$"}, row{"Kg$", "x"}, row{"EA", "K"}}) {
    const auto v = judge_keyspace_events(std::string_view(r.flags));
    EXPECT_FALSE(v.seen) << r.flags;
    EXPECT_NE(v.message.find(std::string("without '") + r.missing + "'"), std::string::npos)
        << r.flags << ": " << v.message;
    EXPECT_NE(v.message.find("CONFIG SET notify-keyspace-events Kg$xe"), std::string::npos);
  }
}

TEST(Keyspace, AnUnreadableSettingIsAWarningThatSaysWhy) {
  const auto v = judge_keyspace_events(std::nullopt, "NOPERM this user has no permissions");
  EXPECT_FALSE(v.seen);
  EXPECT_NE(v.message.find("NOPERM"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("may not reach"), std::string::npos) << v.message;
}

TEST(Keyspace, TheKeyOfANotification) {
  EXPECT_EQ(keyspace_key("__keyspace@0__:users:u:1"), "users:u:1");
  EXPECT_EQ(keyspace_key("__keyspace@15__:a"), "a");
  EXPECT_EQ(keyspace_key("__keyspace@0__:"), "") << "the empty key is a key";
  EXPECT_FALSE(keyspace_key("__keyevent@0__:set"));
  EXPECT_FALSE(keyspace_key("__keyspace@__:k"));
  EXPECT_FALSE(keyspace_key("__keyspace@x__:k"));
  EXPECT_FALSE(keyspace_key("__keyspace@0"));
  EXPECT_FALSE(keyspace_key("news"));
}

TEST(Keyspace, EventsAsChanges) {
  using k = write_event::kind;
  for (const char* e : {"del", "unlink", "expired", "evicted", "rename_from"}) {
    EXPECT_EQ(keyspace_op(e), k::del) << e;
  }
  EXPECT_EQ(keyspace_op("expire"), k::expire);
  EXPECT_EQ(keyspace_op("persist"), k::expire);
  for (const char* e : {"set", "setrange", "append", "incrby", "incrbyfloat", "rename_to"}) {
    EXPECT_EQ(keyspace_op(e), k::set) << e;
  }
  for (const char* e : {"new", "move_from", "move_to", ""}) EXPECT_FALSE(keyspace_op(e)) << e;
}

// ---- direct_write_filter ---------------------------------------------------------

using namespace std::chrono_literals;
using kind = write_event::kind;

// A fake clock: the time `ms` milliseconds after its start.
direct_write_filter::time_point at(int ms) {
  return direct_write_filter::time_point{} + std::chrono::milliseconds(ms);
}

TEST(DirectWriteFilter, ANotificationNoLoggedChangeClaimsIsADirectWriteAfterTheWindow) {
  direct_write_filter f(250ms, 100);
  EXPECT_FALSE(f.notified("users:1", kind::set, at(0)));
  EXPECT_TRUE(f.expire(at(249)).empty()) << "still within the window";
  EXPECT_EQ(f.held(), 1u);
  const auto due = f.expire(at(250));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].first, "users:1");
  EXPECT_EQ(due[0].second, kind::set);
  EXPECT_TRUE(f.empty());
}

TEST(DirectWriteFilter, TheLoggedChangeOfAWriteAbsorbsItsNotificationsEitherWayRound) {
  direct_write_filter f(250ms, 100);
  // Notifications first (the usual order): SET ... PX notifies twice.
  EXPECT_FALSE(f.notified("users:1", kind::set, at(0)));
  EXPECT_FALSE(f.notified("users:1", kind::expire, at(0)));
  f.logged("users:1", kind::set, 60'000, at(5));
  EXPECT_TRUE(f.empty());
  // The logged change first: credits for the two notifications to come.
  f.logged("users:2", kind::set, 60'000, at(5));
  EXPECT_FALSE(f.notified("users:2", kind::set, at(6)));
  EXPECT_FALSE(f.notified("users:2", kind::expire, at(7)));
  EXPECT_TRUE(f.empty()) << "both credits used";
  // A third notification of that key is another write: a direct one.
  EXPECT_FALSE(f.notified("users:2", kind::del, at(8)));
  const auto due = f.expire(at(258));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].second, kind::del);
}

TEST(DirectWriteFilter, AWriteWithoutATtlLeavesOneCreditAndCreditsExpire) {
  direct_write_filter f(250ms, 100);
  f.logged("users:1", kind::set, 0, at(0));
  EXPECT_FALSE(f.notified("users:1", kind::set, at(1)));
  EXPECT_TRUE(f.empty());
  f.logged("users:2", kind::del, 0, at(1));
  EXPECT_TRUE(f.expire(at(251)).empty());
  EXPECT_TRUE(f.empty()) << "a credit no notification used is dropped with the window";
  EXPECT_FALSE(f.notified("users:2", kind::del, at(252)));
  EXPECT_EQ(f.held(), 1u) << "no credit left: held";
}

TEST(DirectWriteFilter, HeldNotificationsAreBoundedAndComeOutOldestFirst) {
  direct_write_filter f(250ms, 3);
  EXPECT_FALSE(f.notified("a", kind::set, at(0)));
  EXPECT_FALSE(f.notified("a", kind::del, at(10)));
  EXPECT_FALSE(f.notified("b", kind::set, at(10)));
  EXPECT_TRUE(f.notified("c", kind::set, at(10))) << "past max_held: delivered at once";
  EXPECT_EQ(f.held(), 3u);
  auto due = f.expire(at(250));  // 250 ms after the first only
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0], std::pair(std::string("a"), kind::set));
  due = f.expire(at(260));
  ASSERT_EQ(due.size(), 2u);
  std::sort(due.begin(), due.end());
  EXPECT_EQ(due[0], std::pair(std::string("a"), kind::del));
  EXPECT_EQ(due[1], std::pair(std::string("b"), kind::set));
  EXPECT_TRUE(f.empty());
  EXPECT_FALSE(f.notified("c", kind::set, at(260))) << "room again";
  f.clear();
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.held(), 0u);
}

}  // namespace
}  // namespace rcache::feed
