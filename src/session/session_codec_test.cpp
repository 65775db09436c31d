// Unit tests for reading session hashes, list rows and stream entries.
#include "session/session_codec.hpp"

#include <gtest/gtest.h>

namespace rcache::session_detail {
namespace {

using std::chrono::milliseconds;

value text(std::string s) {
  return value::make_string(std::move(s));
}
value flat(std::initializer_list<std::pair<const char*, const char*>> fields) {
  std::vector<value> out;
  for (const auto& [n, v] : fields) {
    out.push_back(text(n));
    out.push_back(text(v));
  }
  return value::make_array(std::move(out));
}

const value stored = flat({{"user", "alice"},
                           {"device_id", "phone-1"},
                           {"user_agent", "Firefox"},
                           {"ip", "10.0.0.7"},
                           {"created", "1000000"},
                           {"last_seen", "1500000"},
                           {"idle_ms", "600000"},
                           {"expires_abs", "1800000"},
                           {"version", "4"},
                           {"data:cart", "3 items"},
                           {"data:user", "a data field named like metadata"}});

TEST(SessionCodec, ReadsTheHashIntoASession) {
  const auto s = session_from_fields("the-id", stored);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->id, "the-id");
  EXPECT_EQ(s->user, "alice");
  EXPECT_EQ(s->device.id, "phone-1");
  EXPECT_EQ(s->device.user_agent, "Firefox");
  EXPECT_EQ(s->device.ip, "10.0.0.7");
  EXPECT_EQ(s->created.time_since_epoch(), milliseconds(1000000));
  EXPECT_EQ(s->last_seen.time_since_epoch(), milliseconds(1500000));
  EXPECT_EQ(s->version, 4u);
  EXPECT_EQ(s->data.size(), 2u);
  EXPECT_EQ(s->data.at("cart"), "3 items");
  EXPECT_EQ(s->data.at("user"), "a data field named like metadata");
  // Idle expiry 1,500,000 + 600,000 is past the absolute one: the absolute wins.
  EXPECT_EQ(s->absolute_expiry.time_since_epoch(), milliseconds(1800000));
  EXPECT_EQ(s->expires.time_since_epoch(), milliseconds(1800000));
}

TEST(SessionCodec, TheIdleExpiryWinsWhenItComesFirst) {
  auto fields = stored;
  fields.elements[13] = text("100000");  // idle_ms
  const auto s = session_from_fields("x", fields);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->expires.time_since_epoch(), milliseconds(1600000));
}

TEST(SessionCodec, StoredNumbersOutOfRangeDoNotOverflow) {
  auto fields = stored;
  fields.elements[11] = text("9223372036854775000");  // last_seen
  fields.elements[13] = text("9223372036854775000");  // idle_ms
  const auto s = session_from_fields("x", fields);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->expires.time_since_epoch(), milliseconds(1800000)) << "the sum saturates";
}

TEST(SessionCodec, ARecordThatIsNotASessionIsRefused) {
  EXPECT_FALSE(session_from_fields("x", flat({{"rotated_to", "y"}, {"user", "alice"}})));
  auto bad_number = stored;
  bad_number.elements[9] = text("12x");  // created
  EXPECT_FALSE(session_from_fields("x", bad_number));
  EXPECT_FALSE(session_from_fields("x", value::make_integer(1)));
  auto odd = stored;
  odd.elements.pop_back();
  EXPECT_FALSE(session_from_fields("x", odd));
}

value row(const char* id, const char* last_seen) {
  return value::make_array({text(id), text("dev"), text("ua"), text("1.2.3.4"), text("1000"),
                            text(last_seen), text("60000"), text("999999"), text("0")});
}

TEST(SessionCodec, ListRowsComeMostRecentlySeenFirstAndBadRowsAreSkipped) {
  const auto list = sessions_from_list(
      "bob", value::make_array({row("a", "2000"), row("b", "5000"),
                                value::make_array({text("short")}), row("c", "3000")}));
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].id, "b");
  EXPECT_EQ(list[1].id, "c");
  EXPECT_EQ(list[2].id, "a");
  EXPECT_EQ(list[0].user, "bob");
  EXPECT_EQ(list[0].device.ip, "1.2.3.4");
  EXPECT_EQ(list[0].expires.time_since_epoch(), milliseconds(65000));
  EXPECT_TRUE(list[0].data.empty());
}

value entry(const char* id, std::initializer_list<std::pair<const char*, const char*>> fields) {
  return value::make_array({text(id), flat(fields)});
}

TEST(SessionCodec, ReadsStreamEntries) {
  const auto ev = event_from_entry(
      entry("1700000000000-3",
            {{"kind", "rotated"}, {"id", "new"}, {"user", "u"}, {"at", "42"}, {"from", "old"}}));
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->what, session_event::kind::rotated);
  EXPECT_EQ(ev->id, "new");
  EXPECT_EQ(ev->from, "old");
  EXPECT_EQ(ev->user, "u");
  EXPECT_EQ(ev->at.time_since_epoch(), milliseconds(42));
  EXPECT_EQ(ev->stream_id, "1700000000000-3");
  EXPECT_FALSE(event_from_entry(entry("1-1", {{"kind", "exploded"}, {"id", "a"}, {"at", "1"}})));
  EXPECT_FALSE(event_from_entry(entry("1-1", {{"kind", "created"}, {"id", "a"}})));
}

TEST(SessionCodec, EveryKindHasAName) {
  for (auto k : {session_event::kind::created, session_event::kind::rotated,
                 session_event::kind::touched, session_event::kind::destroyed,
                 session_event::kind::expired, session_event::kind::evicted}) {
    EXPECT_EQ(event_kind_of(to_string(k)), k);
  }
}

}  // namespace
}  // namespace rcache::session_detail
