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

TEST(Url, ARefusalSaysWhatIsWrongAndWhere) {
  const auto why = [](std::string_view url) { return describe_url_error(url); };
  EXPECT_EQ(why("redis://localhost:6379/2"), "") << "a good URL has nothing to say";
  EXPECT_NE(why("http://localhost").find("unknown scheme 'http'"), std::string::npos);
  EXPECT_NE(why("localhost:6379").find("no scheme"), std::string::npos);
  EXPECT_NE(why("redis://localhost:99999").find("port '99999'"), std::string::npos);
  EXPECT_NE(why("redis://localhost/x").find("path '/x'"), std::string::npos);
  const auto typo = why("redis://localhost?timeout=5");
  EXPECT_NE(typo.find("unknown option 'timeout'"), std::string::npos) << typo;
  EXPECT_NE(typo.find("timeout_ms"), std::string::npos) << "names the options it knows";
  EXPECT_NE(why("redis://localhost?verify=maybe").find("'verify' has an invalid value 'maybe'"),
            std::string::npos);
  EXPECT_NE(why("redis-sentinel://s1:1").find("no master name"), std::string::npos);
  EXPECT_NE(why("redis-cluster://n1/1").find("only database 0"), std::string::npos);
  EXPECT_NE(why("unix://").find("socket path"), std::string::npos);
  EXPECT_EQ(why("").rfind("empty", 0), 0u);
  // A password is never quoted back, even in the part that is wrong.
  EXPECT_EQ(why("redis://u:hunter2@host:port").find("hunter2"), std::string::npos);
  EXPECT_EQ(why("redis://h?password=").find("hunter2"), std::string::npos);
  EXPECT_EQ(why("redis://u:s3cret@h:1?colour=blue").find("s3cret"), std::string::npos);
}

TEST(Url, SentinelFormListsTheSentinelsAndNamesTheMaster) {
  auto cfg = parse_url(
      "redis-sentinel://:p%40ss@10.0.0.1,10.0.0.2:26380,[::1]:26381/2"
      "?master=mymaster&sentinel_password=sp&prefer_replica=true&timeout_ms=300");
  ASSERT_TRUE(cfg);
  ASSERT_EQ(cfg->sentinels.size(), 3u);
  EXPECT_EQ(cfg->sentinels[0].host, "10.0.0.1");
  EXPECT_EQ(cfg->sentinels[0].port, 26379) << "the Sentinel default port";
  EXPECT_EQ(cfg->sentinels[1].port, 26380);
  EXPECT_EQ(cfg->sentinels[2].host, "::1");
  EXPECT_EQ(cfg->sentinels[2].port, 26381);
  EXPECT_EQ(cfg->sentinel_master, "mymaster");
  EXPECT_EQ(cfg->sentinel_password, "sp");
  EXPECT_TRUE(cfg->sentinel_prefer_replica);
  EXPECT_EQ(cfg->password, "p@ss") << "the master's, percent-decoded";
  EXPECT_EQ(cfg->db, 2);
  EXPECT_EQ(cfg->command_timeout, std::chrono::milliseconds(300));

  auto fragment = parse_url("rediss-sentinel://s1:1,s2:2#other");
  ASSERT_TRUE(fragment);
  EXPECT_EQ(fragment->sentinel_master, "other") << "Lettuce's #name form";
  EXPECT_TRUE(fragment->server.tls);
  EXPECT_FALSE(parse_url("redis-sentinel://s1:1")) << "no master name";
  EXPECT_FALSE(parse_url("redis-sentinel://s1:1,,s2?master=m")) << "an empty host";
  EXPECT_FALSE(parse_url("redis-sentinel://s1:x?master=m"));
  EXPECT_FALSE(parse_url("redis-sentinel://fe80::1?master=m")) << "IPv6 without brackets";
  EXPECT_FALSE(parse_url("redis-cluster://h1,user:pw@h2")) << "credentials inside the list";
}

TEST(Url, ClusterFormListsTheSeedNodes) {
  auto cfg = parse_url("redis-cluster://u:pw@n1:7000,n2:7001,n3?client_name=app");
  ASSERT_TRUE(cfg);
  ASSERT_EQ(cfg->cluster_nodes.size(), 3u);
  EXPECT_EQ(cfg->cluster_nodes[1].host, "n2");
  EXPECT_EQ(cfg->cluster_nodes[1].port, 7001);
  EXPECT_EQ(cfg->cluster_nodes[2].port, 6379);
  EXPECT_EQ(cfg->username, "u");
  EXPECT_EQ(cfg->password, "pw");
  EXPECT_EQ(cfg->client_name, "app");
  EXPECT_TRUE(cfg->sentinels.empty());
  EXPECT_FALSE(parse_url("redis-cluster://n1:7000/1")) << "a cluster has only db 0";
  EXPECT_FALSE(parse_url("redis-cluster://n1:7000?master=m")) << "a Sentinel option";
  EXPECT_FALSE(parse_url("redis-cluster://")) << "no node";
  EXPECT_EQ(redacted_url(*cfg), "redis-cluster://u:***@n1:7000,n2:7001,n3:6379");
  auto sentinel = parse_url("redis-sentinel://:pw@s1:1,s2:2/3?master=m&sentinel_password=sp");
  ASSERT_TRUE(sentinel);
  EXPECT_EQ(redacted_url(*sentinel),
            "redis-sentinel://:***@s1:1,s2:2/3?master=m&sentinel_password=***");
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
