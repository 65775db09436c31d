// Unit tests for Redis URL parsing and redaction.
#include <rcache/config.hpp>

#include <gtest/gtest.h>

namespace rcache {
namespace {

TEST(Url, PlainHostPortDb) {
  auto cfg = parse_url("redis://example.com:6380/3");
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->server.host, "example.com");
  EXPECT_EQ(cfg->server.port, 6380);
  EXPECT_EQ(cfg->db, 3);
  EXPECT_FALSE(cfg->server.tls);
}

TEST(Url, DefaultsAndCredentials) {
  auto cfg = parse_url("redis://al%40ice:p%3Ass@localhost");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->server.port, 6379);
  EXPECT_EQ(cfg->username, "al@ice");
  EXPECT_EQ(cfg->password, "p:ss");
  auto pw_only = parse_url("redis://:secret@127.0.0.1:7000");
  ASSERT_TRUE(pw_only);
  EXPECT_EQ(pw_only->username, "");
  EXPECT_EQ(pw_only->password, "secret");
}

TEST(Url, TlsAndOptions) {
  auto cfg = parse_url("rediss://[::1]:6390?ca_file=/tmp/ca.pem&verify=false&timeout_ms=250");
  ASSERT_TRUE(cfg);
  EXPECT_TRUE(cfg->server.tls);
  EXPECT_EQ(cfg->server.host, "::1");
  EXPECT_EQ(cfg->tls.ca_file, "/tmp/ca.pem");
  EXPECT_FALSE(cfg->tls.verify_peer);
  EXPECT_EQ(cfg->command_timeout.count(), 250);
}

TEST(Url, UnixSocket) {
  auto cfg = parse_url("unix:///var/run/redis.sock?db=2");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->server.kind, endpoint::transport::unix_socket);
  EXPECT_EQ(cfg->server.path, "/var/run/redis.sock");
  EXPECT_EQ(cfg->db, 2);
}

TEST(Url, RejectsWhatItCannotHonour) {
  EXPECT_FALSE(parse_url("http://localhost"));
  EXPECT_FALSE(parse_url("redis://localhost:notaport"));
  EXPECT_FALSE(parse_url("redis://localhost:0"));
  EXPECT_FALSE(parse_url("redis://localhost/x"));
  EXPECT_FALSE(parse_url("redis://localhost?colour=blue"));
  EXPECT_FALSE(parse_url("redis://localhost?verify=maybe"));
  EXPECT_FALSE(parse_url("unix://"));
  EXPECT_EQ(parse_url("not a url").error(), error::invalid_url);
}

TEST(Url, RedactionHidesThePassword) {
  auto cfg = parse_url("redis://bob:hunter2@10.0.0.1:6379/1");
  ASSERT_TRUE(cfg);
  const auto text = redacted_url(*cfg);
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_EQ(text, "redis://bob:***@10.0.0.1:6379/1");
}

}  // namespace
}  // namespace rcache
