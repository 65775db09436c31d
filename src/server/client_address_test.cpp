// Unit tests for trusted proxies and X-Forwarded-For.
#include "server/client_address.hpp"

#include <gtest/gtest.h>

namespace rcache::server {
namespace {

trusted_proxies parsed(std::string_view list) {
  auto r = trusted_proxies::parse(list);
  EXPECT_TRUE(std::holds_alternative<trusted_proxies>(r)) << std::get<std::string>(r);
  return std::get<trusted_proxies>(r);
}

TEST(TrustedProxies, AddressesAndNetworks) {
  const auto t = parsed(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8, ::1");
  EXPECT_TRUE(t.contains("10.200.3.4"));
  EXPECT_FALSE(t.contains("11.0.0.1"));
  EXPECT_TRUE(t.contains("192.168.1.7"));
  EXPECT_FALSE(t.contains("192.168.1.8"));
  EXPECT_TRUE(t.contains("fd12:3456::1"));
  EXPECT_FALSE(t.contains("fe80::1"));
  EXPECT_TRUE(t.contains("::1"));
  EXPECT_TRUE(t.contains("::ffff:10.1.1.1")) << "a v4-mapped peer is its v4 address";
  EXPECT_FALSE(t.contains("not an address"));
  EXPECT_TRUE(parsed("").empty());
  EXPECT_TRUE(parsed("0.0.0.0/0").contains("8.8.8.8"));
}

TEST(TrustedProxies, BadEntriesAreNamed) {
  for (const auto* bad : {"10.0.0.0/33", "10.0.0.1/", "example.com", "10.0.0.0/8x", "::1/129"}) {
    auto r = trusted_proxies::parse(std::string("127.0.0.1,") + bad);
    ASSERT_TRUE(std::holds_alternative<std::string>(r)) << bad;
    EXPECT_NE(std::get<std::string>(r).find(bad), std::string::npos) << std::get<std::string>(r);
  }
}

TEST(ClientAddress, ForwardedForIsReadOnlyFromTrustedPeersFromTheRight) {
  const auto t = parsed("127.0.0.1, 10.0.0.0/8");
  // A peer that is not trusted: its header proves nothing.
  EXPECT_EQ(client_address("203.0.113.9", "198.51.100.1", t), "203.0.113.9");
  // One trusted proxy: the address it saw.
  EXPECT_EQ(client_address("127.0.0.1", "198.51.100.1", t), "198.51.100.1");
  // A client that forged an entry, then two of our proxies: the forged one is left of the truth.
  EXPECT_EQ(client_address("127.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.5", t), "198.51.100.1");
  // Garbage in the chain: nothing left of it is believed.
  EXPECT_EQ(client_address("127.0.0.1", "198.51.100.1, nonsense", t), "127.0.0.1");
  EXPECT_EQ(client_address("127.0.0.1", "", t), "127.0.0.1");
  EXPECT_EQ(client_address("127.0.0.1", "10.0.0.9, 10.0.0.5", t), "127.0.0.1");
}

}  // namespace
}  // namespace rcache::server
