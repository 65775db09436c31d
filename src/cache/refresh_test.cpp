// Unit tests of get_or_load's refresh decision and of reading back what
// the cache stored: exact, since the clock and the draw are arguments.
#include "cache/refresh.hpp"

#include <gtest/gtest.h>

#include "cache/stored_read.hpp"

namespace rcache::cache_detail {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds s = milliseconds(1000);

TEST(Refresh, InsideTheGraceIsStaleAndReloadsAtOnce) {
  // 10 s grace: a key with 10 s or less left is past its logical TTL.
  EXPECT_EQ(decide_refresh(10 * s, 10 * s, 0, 100, 0.5), refresh::stale);
  EXPECT_EQ(decide_refresh(milliseconds(0), 10 * s, 0, 100, 0.5), refresh::stale);
  EXPECT_EQ(decide_refresh(10 * s + milliseconds(1), 10 * s, 0, 100, 0.5), refresh::none)
      << "no early refresh without beta";
}

TEST(Refresh, EarlyRefreshFollowsXFetch) {
  // load 100 ms, beta 1: -100 * ln(u) ms against what is left of the TTL.
  const double u = std::exp(-2.0);  // -ln(u) = 2: a 200 ms margin
  EXPECT_EQ(decide_refresh(milliseconds(200), {}, 1.0, 100, u), refresh::early);
  EXPECT_EQ(decide_refresh(milliseconds(201), {}, 1.0, 100, u), refresh::none);
  // With a grace, what is left is the logical TTL: ttl - grace.
  EXPECT_EQ(decide_refresh(10 * s + milliseconds(200), 10 * s, 1.0, 100, u), refresh::early);
  EXPECT_EQ(decide_refresh(10 * s + milliseconds(201), 10 * s, 1.0, 100, u), refresh::none);
  // beta scales the margin; u = 1 draws no margin at all.
  EXPECT_EQ(decide_refresh(milliseconds(400), {}, 2.0, 100, u), refresh::early);
  EXPECT_EQ(decide_refresh(milliseconds(1), {}, 1.0, 100, 1.0), refresh::none);
}

TEST(Refresh, AKeyWithoutAKnownTtlIsNeverRefreshed) {
  EXPECT_EQ(decide_refresh(std::nullopt, 10 * s, 1.0, 1e9, 1e-12), refresh::none);
}

TEST(StoredRead, NilMarkerValueAndFailures) {
  const codec::codec_options plain{};
  value nil;
  nil.type = resp_type::null;
  EXPECT_EQ(read_stored(std::move(nil), "k", plain)->what, stored_read::kind::missing);

  value marker;
  marker.type = resp_type::bulk_string;
  marker.str = std::string(codec::absent_marker());
  EXPECT_EQ(read_stored(std::move(marker), "k", plain)->what, stored_read::kind::absent);

  value stored;
  stored.type = resp_type::bulk_string;
  stored.str = codec::encode("hello", "k", plain).value();
  const auto r = read_stored(std::move(stored), "k", plain);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->what, stored_read::kind::value);
  EXPECT_EQ(r->plain, "hello");

  value raw;  // written by another client: moved out as it is
  raw.type = resp_type::bulk_string;
  raw.str = std::string(64, 'r');
  const auto* bytes = raw.str.data();
  const auto moved = read_stored(std::move(raw), "k", plain);
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->plain, std::string(64, 'r'));
  EXPECT_EQ(moved->plain.data(), bytes) << "not copied";

  value failed;
  failed.type = resp_type::simple_error;
  failed.str = "WRONGTYPE Operation against a key holding the wrong kind of value";
  EXPECT_EQ(read_stored(std::move(failed), "k", plain).error(), make_error_code(error::wrong_type))
      << "an error reply is never taken for a stored value";
  value oom;
  oom.type = resp_type::simple_error;
  oom.str = "OOM command not allowed when used memory > 'maxmemory'";
  EXPECT_EQ(read_stored(std::move(oom), "k", plain).error(), make_error_code(error::redis_error));
}

}  // namespace
}  // namespace rcache::cache_detail
