// Unit tests of host:port in each form rcache reads: configurations,
// the listen address, and what Redis writes.
#include "address/host_port.hpp"

#include <gtest/gtest.h>

namespace rcache::detail {
namespace {

using part = host_port_fault::part;

endpoint at(std::string host, std::uint16_t port) {
  return endpoint{.host = std::move(host), .port = port};
}

// The endpoint, or the fault rendered "host:<part>" / "port:<part>".
std::string outcome(std::string_view text, const host_port_form& form) {
  const auto r = parse_host_port(text, form);
  if (r) return r->host + " " + std::to_string(r->port);
  return (r.error().where == part::host ? "host:" : "port:") + std::string(r.error().text);
}

TEST(HostPort, PortsAreDecimalWithinRange) {
  EXPECT_EQ(parse_port("6379"), std::optional<std::uint16_t>(6379));
  EXPECT_EQ(parse_port("65535"), std::optional<std::uint16_t>(65535));
  EXPECT_EQ(parse_port("0", true), std::optional<std::uint16_t>(0));
  for (const char* bad : {"", "0", "65536", "-1", "63 79", "6379 ", "x6379", "6379x", "+1"}) {
    EXPECT_EQ(parse_port(bad), std::nullopt) << "'" << bad << "'";
  }
  EXPECT_EQ(parse_port("65536", true), std::nullopt);
}

TEST(HostPort, ConfigurationsBracketIpv6AndMayDefaultThePort) {
  const host_port_form required{};
  EXPECT_EQ(*parse_host_port("redis.internal:7000", required), at("redis.internal", 7000));
  EXPECT_EQ(*parse_host_port("10.0.0.1:26380", required), at("10.0.0.1", 26380));
  EXPECT_EQ(*parse_host_port("[::1]:26379", required), at("::1", 26379));
  const host_port_form defaulted{.default_port = 6379};
  EXPECT_EQ(*parse_host_port("[fe80::1]", defaulted), at("fe80::1", 6379));
  EXPECT_EQ(*parse_host_port("10.0.0.1", defaulted), at("10.0.0.1", 6379));
  EXPECT_EQ(outcome("10.0.0.1", required), "port:") << "no port and no default";
  EXPECT_EQ(outcome("h:", defaulted), "port:") << "an empty port is not the default";
  EXPECT_EQ(outcome("h:0", required), "port:0");
  EXPECT_EQ(outcome("h:65536", required), "port:65536");
  EXPECT_EQ(outcome("[::1]:x", required), "port:x");
  EXPECT_EQ(outcome("::1:7000", required), "host:::1") << "IPv6 needs brackets here";
  EXPECT_EQ(outcome(":7000", required), "host:");
  EXPECT_EQ(outcome("", defaulted), "host:");
  EXPECT_EQ(outcome("[::1]7000", required), "host:[::1]");
  EXPECT_EQ(outcome("[::1", required), "host:[::1");
}

TEST(HostPort, ListenAddressesTakePortZeroAndBareIpv6) {
  const host_port_form listen{.port_zero = true, .bare_ipv6 = true};
  EXPECT_EQ(*parse_host_port("127.0.0.1:0", listen), at("127.0.0.1", 0));
  EXPECT_EQ(*parse_host_port("[::1]:8080", listen), at("::1", 8080));
  EXPECT_EQ(*parse_host_port("::1:8080", listen), at("::1", 8080));
  EXPECT_EQ(outcome("nowhere", listen), "port:");
  EXPECT_EQ(outcome(":8080", listen), "host:");
}

TEST(HostPort, RedisAddressesMayHaveAnEmptyHost) {
  const host_port_form redis{.bare_ipv6 = true, .empty_host = true};
  EXPECT_EQ(*parse_host_port(":7000", redis), at("", 7000));
  EXPECT_EQ(*parse_host_port("?:7000", redis), at("?", 7000));
  EXPECT_EQ(*parse_host_port("[::1]:7000", redis), at("::1", 7000));
  EXPECT_EQ(*parse_host_port("fe80::2:7000", redis), at("fe80::2", 7000));
  EXPECT_EQ(outcome("h", redis), "port:") << "Redis always gives the port";
  EXPECT_EQ(outcome("h:0", redis), "port:0");
}

TEST(HostPort, ListsNameTheirFirstBadItem) {
  std::string_view bad;
  const auto ok = parse_host_list("a:1,[::1],b,", 26379, &bad);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, (std::vector<endpoint>{at("a", 1), at("::1", 26379), at("b", 26379)}));
  EXPECT_FALSE(parse_host_list("a:1,b:0,c:x", 26379, &bad));
  EXPECT_EQ(bad, "b:0");
}

}  // namespace
}  // namespace rcache::detail
