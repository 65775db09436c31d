// Unit tests for session ids: shape, randomness, buckets.
#include "session/session_id.hpp"

#include <gtest/gtest.h>
#include <set>

namespace rcache::session_detail {
namespace {

TEST(SessionId, HasTheDocumentedShapeAndNamesItsBucket) {
  for (int b : {0, 1, 0x7f, 0xa5, 0xff}) {
    const auto id = new_session_id(static_cast<std::uint8_t>(b));
    ASSERT_TRUE(id) << id.error().message();
    EXPECT_EQ(id->size(), id_length) << *id;
    EXPECT_EQ(id->find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.abcdef"),
              std::string::npos)
        << *id;
    EXPECT_EQ(bucket_of_id(*id), std::optional<std::uint8_t>(static_cast<std::uint8_t>(b))) << *id;
  }
}

TEST(SessionId, TenThousandIdsAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) EXPECT_TRUE(seen.insert(new_session_id(7).value()).second);
}

TEST(SessionId, AnythingElseIsNotAnId) {
  const std::string good = new_session_id(0x3c).value();
  EXPECT_TRUE(bucket_of_id(good));
  EXPECT_FALSE(bucket_of_id(""));
  EXPECT_FALSE(bucket_of_id(good.substr(1)));
  EXPECT_FALSE(bucket_of_id(good + "0"));
  std::string upper_hex = good;
  upper_hex[44] = 'A';
  EXPECT_FALSE(bucket_of_id(upper_hex));
  std::string no_dot = good;
  no_dot[43] = '_';
  EXPECT_FALSE(bucket_of_id(no_dot));
  std::string slash = good;
  slash[5] = '/';  // standard base64, not URL-safe
  EXPECT_FALSE(bucket_of_id(slash));
  std::string brace = good;
  brace[0] = '{';  // would change the key's hash tag
  EXPECT_FALSE(bucket_of_id(brace));
}

TEST(SessionId, BucketsOfUsersAreStableAndSpread) {
  // Stored ids name their bucket: the function must never change.
  // FNV-1a("alice") = 0x872213e7; its four bytes xor-ed: 0x87^0x22^0x13^0xe7 = 0x51.
  EXPECT_EQ(bucket_of_user("alice"), 0x51);
  std::set<int> used;
  for (int u = 0; u < 5000; ++u) used.insert(bucket_of_user("user-" + std::to_string(u)));
  EXPECT_EQ(used.size(), bucket_count);  // 5,000 users reach every bucket
}

TEST(SessionId, BucketBaseCarriesTheHashTag) {
  EXPECT_EQ(bucket_base("rcache:session:", 0x0a), "rcache:session:{0a}:");
  EXPECT_EQ(bucket_base("", 0xff), "{ff}:");
}

}  // namespace
}  // namespace rcache::session_detail
