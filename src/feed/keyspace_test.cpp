// Unit tests of keyspace.hpp: what notify-keyspace-events means for direct
// writes, and how a notification reads as a change.
#include "feed/keyspace.hpp"

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

}  // namespace
}  // namespace rcache::feed
