// Unit tests of change records and positions: stream IDs (parsing, text,
// Redis's ordering), op names, the XADD fields of a write and the change read
// back from them, wire positions, and when a position can be resumed.
#include "feed/change.hpp"

#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace rcache::feed {
namespace {

using fields = std::vector<std::pair<std::string, std::string>>;

// stream_fields' flat list as the name/value pairs an XRANGE reply gives.
fields pairs_of(const std::vector<std::string>& flat) {
  EXPECT_EQ(flat.size() % 2, 0u) << "field/value pairs";
  fields out;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) out.emplace_back(flat[i], flat[i + 1]);
  return out;
}

std::optional<std::string> field(const std::vector<std::string>& flat, std::string_view name) {
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) {
    if (flat[i] == name) return flat[i + 1];
  }
  return std::nullopt;
}

constexpr auto u64_max = std::numeric_limits<std::uint64_t>::max();

// ---- stream IDs -------------------------------------------------------------

TEST(StreamId, ParsesBothFormsAndPrintsMsDashSeq) {
  EXPECT_EQ(stream_id::parse("1700000000000-3"), (stream_id{1700000000000, 3}));
  EXPECT_EQ(stream_id::parse("0-0"), (stream_id{0, 0}));
  EXPECT_EQ(stream_id::parse("5"), (stream_id{5, 0})) << "no sequence: 0, as Redis reads it";
  EXPECT_EQ(stream_id::parse("18446744073709551615-18446744073709551615"),
            (stream_id{u64_max, u64_max}));

  EXPECT_EQ((stream_id{5, 0}).text(), "5-0") << "always with its sequence";
  EXPECT_EQ((stream_id{1700000000000, 42}).text(), "1700000000000-42");
  for (auto id : {stream_id{0, 0}, stream_id{1, 2}, stream_id{u64_max, 0}, stream_id{7, u64_max}}) {
    EXPECT_EQ(stream_id::parse(id.text()), id) << id.text();
  }
}

TEST(StreamId, RefusesMalformedAndOverflowingIds) {
  for (std::string_view s : {"",
                             "-",
                             "-5",
                             "5-",
                             "5--1",
                             "5-1-2",
                             "a",
                             "5-a",
                             "a-5",
                             " 5-1",
                             "5-1 ",
                             "+5-1",
                             "5-+1",
                             "5-(-1)",
                             "0x10-0",
                             "1.5-0",
                             "5-1\n",
                             "*",
                             "5-*",
                             "18446744073709551616-0",
                             "0-18446744073709551616",
                             "99999999999999999999999-1"}) {
    EXPECT_EQ(stream_id::parse(s), std::nullopt) << "'" << s << "'";
  }
  EXPECT_EQ(stream_id::parse(std::string_view("5-1\0", 4)), std::nullopt) << "a trailing NUL";
}

TEST(StreamId, OrdersAsRedisDoes) {
  EXPECT_LT((stream_id{1, 0}), (stream_id{1, 1}));
  EXPECT_LT((stream_id{1, u64_max}), (stream_id{2, 0})) << "ms first, then seq";
  EXPECT_LT((stream_id{9, 0}), (stream_id{10, 0})) << "numbers, not text";
  EXPECT_GT(stream_id::parse("10-0"), stream_id::parse("9-99"));
  EXPECT_EQ((stream_id{3, 4}), (stream_id{3, 4}));
  EXPECT_NE((stream_id{3, 4}), (stream_id{4, 3}));
  EXPECT_LE(stream_id{}, (stream_id{0, 0})) << "the default is 0-0";
}

// ---- op names -----------------------------------------------------------------

TEST(Change, OpNamesRoundTrip) {
  using k = write_event::kind;
  EXPECT_EQ(op_name(k::set), "set");
  EXPECT_EQ(op_name(k::del), "del");
  EXPECT_EQ(op_name(k::expire), "expire");
  EXPECT_EQ(op_name(k::touch), "touch");
  EXPECT_EQ(op_name(k::invalidate), "invalidate");
  for (auto kind : {k::set, k::del, k::expire, k::touch, k::invalidate}) {
    EXPECT_EQ(op_of(op_name(kind)), kind) << op_name(kind);
  }
  for (std::string_view s : {"", "SET", "delete", "set ", "unlink", "expired"}) {
    EXPECT_EQ(op_of(s), std::nullopt) << "'" << s << "'";
  }
}

// ---- stream fields and change records --------------------------------------------

TEST(Change, ASetIsLoggedWithItsValueOnlyWhenSmallEnough) {
  write_event e;
  e.what = write_event::kind::set;
  e.ns = "users";
  e.key = "42";
  e.full = "users:42";
  e.ttl_ms = 60000;
  e.value = "0123456789";  // 10 bytes

  const auto at_limit = stream_fields(e, 10);
  EXPECT_EQ(at_limit, (std::vector<std::string>{"ns", "users", "key", "42", "op", "set", "ttl",
                                                "60000", "size", "10", "value", "0123456789"}));

  const auto over = stream_fields(e, 9);
  EXPECT_EQ(field(over, "size"), "10") << "the size is logged without the value";
  EXPECT_EQ(field(over, "value"), std::nullopt);

  EXPECT_EQ(field(stream_fields(e, 0), "value"), std::nullopt) << "0: values are never logged";
  EXPECT_EQ(field(stream_fields(e, 1 << 20), "value"), "0123456789");

  e.value = "";
  EXPECT_EQ(field(stream_fields(e, 1), "value"), "") << "an empty value is small";
  EXPECT_EQ(field(stream_fields(e, 1), "size"), "0");
}

TEST(Change, OtherOpsCarryNoSizeOrValue) {
  using k = write_event::kind;
  for (auto kind : {k::del, k::expire, k::touch, k::invalidate}) {
    write_event e;
    e.what = kind;
    e.ns = "n";
    e.key = "k";
    e.ttl_ms = kind == k::expire ? 5000 : -1;
    e.value = "ignored";
    const auto f = stream_fields(e, 1024);
    EXPECT_EQ(field(f, "op"), op_name(kind));
    EXPECT_EQ(field(f, "ttl"), std::to_string(e.ttl_ms));
    EXPECT_EQ(field(f, "size"), std::nullopt) << op_name(kind);
    EXPECT_EQ(field(f, "value"), std::nullopt) << op_name(kind);
  }
}

TEST(Change, FieldsReadBackAsTheSameChange) {
  using k = write_event::kind;
  const std::string binary("\0\xff\xc1RT\x01 x", 8);
  struct sample {
    k what;
    std::string_view ns, key, value;
    std::int64_t ttl;
  };
  for (const auto& s :
       {sample{k::set, "users", "42", "hello", 0}, sample{k::set, "users", "u:1", binary, 3600000},
        sample{k::set, "a.b-c_d", std::string_view("k\0ey", 4), "", -1},
        sample{k::del, "users", "42", "", -1}, sample{k::expire, "users", "42", "", 1500},
        sample{k::touch, "users", "42", "", 0}, sample{k::invalidate, "users", "", "", -1}}) {
    write_event e;
    e.what = s.what;
    e.ns = s.ns;
    e.key = s.key;
    e.ttl_ms = s.ttl;
    e.value = s.value;
    const auto c = change_of(pairs_of(stream_fields(e, 64)));
    ASSERT_TRUE(c.has_value()) << op_name(s.what);
    EXPECT_EQ(c->ns, s.ns);
    EXPECT_EQ(c->key, s.key);
    EXPECT_EQ(c->op, s.what);
    EXPECT_EQ(c->ttl_ms, s.ttl);
    if (s.what == k::set) {
      EXPECT_EQ(c->size, s.value.size());
      EXPECT_EQ(c->value, std::string(s.value));
    } else {
      EXPECT_EQ(c->size, 0u);
      EXPECT_EQ(c->value, std::nullopt);
    }
    EXPECT_EQ(c->shard, 0u) << "set by the reader, not logged";
    EXPECT_EQ(c->id, stream_id{});
  }

  write_event big;
  big.ns = "n";
  big.key = "k";
  const std::string large(65, 'v');
  big.value = large;
  const auto c = change_of(pairs_of(stream_fields(big, 64)));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->size, 65u);
  EXPECT_EQ(c->value, std::nullopt) << "too large to have been logged";
}

TEST(Change, MinimalAndExtendedRecordsAreRead) {
  auto c = change_of({{"ns", "n"}, {"key", "k"}, {"op", "del"}});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->ttl_ms, -1) << "no ttl: not known";
  EXPECT_EQ(c->size, 0u);
  EXPECT_EQ(c->value, std::nullopt);

  c = change_of({{"op", "set"}, {"future", "field"}, {"key", "k"}, {"ns", "n"}, {"size", "3"}});
  ASSERT_TRUE(c.has_value()) << "fields in any order; unknown ones are ignored";
  EXPECT_EQ(c->op, write_event::kind::set);
  EXPECT_EQ(c->size, 3u);

  c = change_of({{"ns", ""}, {"key", ""}, {"op", "invalidate"}, {"ttl", "-1"}});
  ASSERT_TRUE(c.has_value()) << "empty strings are values";
  EXPECT_EQ(c->ns, "");
  EXPECT_EQ(c->key, "");
}

TEST(Change, ForeignOrMalformedEntriesAreNotChanges) {
  const fields good{{"ns", "n"}, {"key", "k"}, {"op", "set"}, {"ttl", "0"}, {"size", "1"}};
  ASSERT_TRUE(change_of(good).has_value());

  EXPECT_EQ(change_of({}), std::nullopt) << "an empty entry";
  EXPECT_EQ(change_of({{"temperature", "21"}, {"sensor", "7"}}), std::nullopt) << "foreign";
  EXPECT_EQ(change_of({{"key", "k"}, {"op", "set"}}), std::nullopt) << "no ns";
  EXPECT_EQ(change_of({{"ns", "n"}, {"op", "set"}}), std::nullopt) << "no key";
  EXPECT_EQ(change_of({{"ns", "n"}, {"key", "k"}}), std::nullopt) << "no op";

  for (const auto& [name, bad] :
       std::vector<std::pair<std::string, std::string>>{{"op", "SET"},
                                                        {"op", ""},
                                                        {"op", "rename"},
                                                        {"ttl", ""},
                                                        {"ttl", "soon"},
                                                        {"ttl", "1.5"},
                                                        {"ttl", "9223372036854775808"},
                                                        {"ttl", " 5"},
                                                        {"size", "-1"},
                                                        {"size", ""},
                                                        {"size", "1k"},
                                                        {"size", "18446744073709551616"}}) {
    auto f = good;
    for (auto& [n, v] : f) {
      if (n == name) v = bad;
    }
    EXPECT_EQ(change_of(f), std::nullopt) << name << "='" << bad << "'";
  }

  auto c =
      change_of({{"ns", "n"}, {"key", "k"}, {"op", "expire"}, {"ttl", "-9223372036854775808"}});
  ASSERT_TRUE(c.has_value()) << "the int64 range";
  EXPECT_EQ(c->ttl_ms, std::numeric_limits<std::int64_t>::min());
}

// ---- positions -----------------------------------------------------------------

TEST(Position, ParsesTheWireFormAndRoundTrips) {
  auto p = position::parse("e1", "3:1700000000000-7");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->shard, 3u);
  EXPECT_EQ(p->epoch, "e1");
  EXPECT_EQ(p->id, (stream_id{1700000000000, 7}));
  EXPECT_EQ(p->offset(), "3:1700000000000-7");

  p = position::parse("e", "0:5");
  ASSERT_TRUE(p.has_value()) << "an ID without its sequence";
  EXPECT_EQ(p->id, (stream_id{5, 0}));
  EXPECT_EQ(p->offset(), "0:5-0");

  ASSERT_TRUE(position::parse("e", "1023:0-0").has_value()) << "the last shard there can be";

  for (const position& q : {position{0, "abc", {0, 0}}, position{1023, "x", {u64_max, u64_max}},
                            position{17, std::string(32, 'f'), {1700000000000, 1}}}) {
    auto back = position::parse(q.epoch, q.offset());
    ASSERT_TRUE(back.has_value()) << q.offset();
    EXPECT_EQ(back->shard, q.shard);
    EXPECT_EQ(back->epoch, q.epoch);
    EXPECT_EQ(back->id, q.id);
  }
}

TEST(Position, RefusesMalformedOffsetsAndEpochs) {
  for (std::string_view offset :
       {"", ":", "3", "3:", ":1-0", "a:1-0", "-1:1-0", "+1:1-0", "1024:1-0", "4294967296:1-0",
        "18446744073709551616:1-0", "3:x", "3:1-", "3:-1", "3:1-0:2", "3;1-0", " 3:1-0", "3 :1-0",
        "3:18446744073709551616-0"}) {
    EXPECT_EQ(position::parse("e", offset), std::nullopt) << "'" << offset << "'";
  }
  EXPECT_EQ(position::parse("", "3:1-0"), std::nullopt) << "no epoch";
  EXPECT_EQ(position::parse(std::string(1024, 'e'), "3:1-0"), std::nullopt) << "a 1 KiB epoch";
}

// ---- resuming ------------------------------------------------------------------

TEST(Position, ResumableOnlyWhenNothingAfterItCanHaveBeenTrimmed) {
  const stream_id first{100, 0};
  const stream_id last{200, 5};
  constexpr bool trimmed = false;  // entries may have been removed
  EXPECT_TRUE(resumable(last, first, last, trimmed)) << "at the end";
  EXPECT_TRUE(resumable({300, 0}, first, last, trimmed)) << "past the end: nothing after it";
  EXPECT_TRUE(resumable({150, 0}, first, last, trimmed)) << "inside the stream";
  EXPECT_TRUE(resumable(first, first, last, trimmed)) << "at the oldest entry";
  EXPECT_FALSE(resumable({99, 9}, first, last, trimmed)) << "before the oldest: maybe trimmed";
  EXPECT_FALSE(resumable({0, 0}, first, last, trimmed)) << "from the very start";

  EXPECT_TRUE(resumable(last, std::nullopt, last, trimmed)) << "emptied stream, at its end";
  EXPECT_TRUE(resumable({300, 0}, std::nullopt, last, trimmed));
  EXPECT_FALSE(resumable({150, 0}, std::nullopt, last, trimmed)) << "emptied after it";
  EXPECT_TRUE(resumable({0, 0}, std::nullopt, {0, 0}, trimmed)) << "a stream never written";
  EXPECT_FALSE(resumable({0, 0}, stream_id{0, 1}, {0, 1}, trimmed)) << "0-0 before 0-1";
}

TEST(Position, AStreamNothingWasRemovedFromIsAlwaysResumable) {
  const stream_id first{100, 0};
  const stream_id last{200, 5};
  constexpr bool complete = true;  // XINFO: entries-added == length
  EXPECT_TRUE(resumable({0, 0}, first, last, complete)) << "everything after it is there";
  EXPECT_TRUE(resumable({99, 9}, first, last, complete));
  EXPECT_TRUE(resumable({150, 0}, first, last, complete));
  EXPECT_TRUE(resumable(last, first, last, complete));
  EXPECT_TRUE(resumable({300, 0}, first, last, complete));
  EXPECT_TRUE(resumable({0, 0}, std::nullopt, {0, 0}, complete)) << "never written";
  EXPECT_TRUE(resumable({0, 0}, stream_id{0, 1}, {0, 1}, complete));
}

}  // namespace
}  // namespace rcache::feed
