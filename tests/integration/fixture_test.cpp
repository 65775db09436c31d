// Integration tests of the test fixtures themselves, against real
// redis-server / redis-sentinel processes: that servers start, answer the
// admin oracle and redis-cli, persist across restarts, honour requirepass,
// ACL users and TLS, and that every process is stopped and reaped (and its
// temp dir removed) however the test ends.
//
// Nothing here sleeps for synchronisation: the fixture's operations return
// once the state change they cause is observed.
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <set>
#include <signal.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "embedded/free_port.hpp"
#include "embedded/redis_process.hpp"
#include "redis_server.hpp"
#include "run_program.hpp"
#include "temp_dir.hpp"

namespace rcache::test {
namespace {

namespace fs = std::filesystem;
using embedded::admin_command;
using embedded::admin_target;
using embedded::process_options;
using embedded::redis_process;
using embedded::start_error;

// Whether a process with this pid exists (a zombie counts: it is not reaped).
bool pid_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

// The state letter of /proc/<pid>/stat: 'T' when stopped, 'S' / 'R' when not.
char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
}

bool keeping_dirs() {
  return std::getenv("RCACHE_KEEP_TEST_DIRS") != nullptr;
}

admin_target tcp_target(std::uint16_t port) {
  admin_target target;
  target.port = port;
  return target;
}

// ---------------------------------------------------------------------------
// A plain server
// ---------------------------------------------------------------------------

TEST(FixtureServer, AnswersPingViaOracleAndRedisCli) {
  redis_server redis;
  ASSERT_GT(redis.port(), 0);
  EXPECT_EQ(redis.tls_port(), 0);
  EXPECT_EQ(redis.host(), "127.0.0.1");
  EXPECT_EQ(redis.url(), "redis://127.0.0.1:" + std::to_string(redis.port()));
  EXPECT_EQ(redis.command({"PING"}).text, "PONG");

  const auto cli =
      run_program({"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(redis.port()), "ping"});
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(cli.output, "PONG\n");

  // Loopback only, and the admin socket is where the fixture says.
  EXPECT_EQ(redis.command({"CONFIG", "GET", "bind"}).elements,
            (std::vector<std::string>{"bind", "127.0.0.1"}));
  EXPECT_TRUE(fs::exists(redis.unix_socket()));
  EXPECT_EQ(redis.unix_socket().parent_path(), redis.dir());
}

TEST(FixtureServer, OracleRendersReplies) {
  redis_server redis;
  EXPECT_EQ(redis.command({"SET", "k", "v"}).text, "OK");
  EXPECT_EQ(redis.command({"INCR", "n"}).text, "1");
  const auto missing = redis.command({"GET", "missing"});
  EXPECT_TRUE(missing.is_nil);
  EXPECT_EQ(missing.text, "(nil)");
  redis.command({"RPUSH", "list", "a", "b c"});
  EXPECT_EQ(redis.command({"LRANGE", "list", "0", "-1"}).elements,
            (std::vector<std::string>{"a", "b c"}));
  const auto wrong = redis.command({"GET", "list"});
  EXPECT_TRUE(wrong.is_error);
  EXPECT_EQ(wrong.text.rfind("WRONGTYPE", 0), 0u) << wrong.text;
  const std::vector<std::string> dynamic{"ECHO", "from a vector"};
  EXPECT_EQ(redis.command(dynamic).text, "from a vector");
}

TEST(FixtureServer, PersistedDataSurvivesRestart) {
  redis_server redis({.persistence = true});
  const auto port = redis.port();
  EXPECT_EQ(redis.command({"CONFIG", "GET", "appendonly"}).elements,
            (std::vector<std::string>{"appendonly", "yes"}));
  ASSERT_EQ(redis.command({"SET", "durable", "value"}).text, "OK");
  redis.restart();
  EXPECT_EQ(redis.port(), port);
  EXPECT_EQ(redis.command({"GET", "durable"}).text, "value");
}

TEST(FixtureServer, WithoutPersistenceRestartStartsEmpty) {
  redis_server redis;
  ASSERT_EQ(redis.command({"SET", "volatile", "value"}).text, "OK");
  redis.restart();
  EXPECT_TRUE(redis.command({"GET", "volatile"}).is_nil);
}

TEST(FixtureServer, KillLeavesNoProcessAndTheDirIsStillRemoved) {
  fs::path dir;
  {
    redis_server redis;
    dir = redis.dir();
    const pid_t pid = redis.pid();
    ASSERT_GT(pid, 0);
    redis.kill();
    EXPECT_FALSE(pid_exists(pid));
    EXPECT_EQ(redis.pid(), -1);
    EXPECT_FALSE(redis.running());
    EXPECT_TRUE(fs::exists(dir));
  }
  if (!keeping_dirs()) {
    EXPECT_FALSE(fs::exists(dir));
  }
}

TEST(FixtureServer, RestartAfterKill) {
  redis_server redis;
  redis.kill();
  redis.restart();
  EXPECT_TRUE(redis.running());
  EXPECT_EQ(redis.command({"PING"}).text, "PONG");
}

TEST(FixtureServer, PauseStopsAnsweringAndResumeContinues) {
  redis_server redis;
  redis.pause();
  EXPECT_EQ(process_state(redis.pid()), 'T');
  // A stopped process accepts connections in the kernel but never answers:
  // the oracle's deadline turns that into a timeout, not a hang.
  auto target = redis.process().admin();
  target.timeout = std::chrono::milliseconds(200);
  EXPECT_EQ(admin_command(target, {"PING"}).error(), rcache::error::timeout);
  redis.resume();
  EXPECT_NE(process_state(redis.pid()), 'T');
  EXPECT_EQ(redis.command({"PING"}).text, "PONG");
}

TEST(FixtureServer, StopIsACleanShutdown) {
  redis_server redis;
  const pid_t pid = redis.pid();
  redis.stop();
  EXPECT_FALSE(pid_exists(pid));
  const auto status = redis.process().last_wait_status();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

TEST(FixtureAuth, RequirepassRejectsUnauthenticatedCommands) {
  redis_server redis({.requirepass = "s3cret with space"});
  auto target = tcp_target(redis.port());
  const auto unauthenticated = admin_command(target, {"PING"});
  ASSERT_TRUE(unauthenticated) << unauthenticated.error().message();
  EXPECT_TRUE(unauthenticated->is_error);
  EXPECT_EQ(unauthenticated->text.rfind("NOAUTH", 0), 0u) << unauthenticated->text;

  target.password = "wrong";
  EXPECT_EQ(admin_command(target, {"PING"}).error(), rcache::error::auth_failed);
  target.password = "s3cret with space";
  EXPECT_EQ(admin_command(target, {"PING"}).value().text, "PONG");
  EXPECT_EQ(redis.command({"PING"}).text, "PONG");  // the oracle AUTHs itself
}

TEST(FixtureAuth, AclUserCanAuthenticate) {
  redis_server redis({.user = acl_user{"alice", "wonder land"}});
  auto target = tcp_target(redis.port());
  target.username = "alice";
  target.password = "wonder land";
  EXPECT_EQ(admin_command(target, {"ACL", "WHOAMI"}).value().text, "alice");
  target.password = "wrong";
  EXPECT_EQ(admin_command(target, {"PING"}).error(), rcache::error::auth_failed);
  EXPECT_EQ(redis.command({"ACL", "WHOAMI"}).text, "default");
}

TEST(FixtureAuth, AclUserRulesApply) {
  redis_server redis({.user = acl_user{"reader", "pw", "on ~* +get +ping"}});
  auto target = tcp_target(redis.port());
  target.username = "reader";
  target.password = "pw";
  EXPECT_EQ(admin_command(target, {"GET", "k"}).value().text, "(nil)");
  const auto denied = admin_command(target, {"SET", "k", "v"}).value();
  EXPECT_TRUE(denied.is_error);
  EXPECT_EQ(denied.text.rfind("NOPERM", 0), 0u) << denied.text;
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

TEST(FixtureTls, RedisCliPingsOverTlsOnly) {
  redis_server redis({.tcp = false, .tls = true});
  EXPECT_EQ(redis.port(), 0);
  ASSERT_GT(redis.tls_port(), 0);
  EXPECT_EQ(redis.url(), "rediss://127.0.0.1:" + std::to_string(redis.tls_port()));
  for (const auto& file : {redis.ca_cert(), redis.server_cert(), redis.server_key(),
                           redis.client_cert(), redis.client_key()}) {
    EXPECT_TRUE(fs::exists(file)) << file;
  }
  const auto cli = run_program({"redis-cli", "--tls", "--cacert", redis.ca_cert().string(), "-h",
                                "127.0.0.1", "-p", std::to_string(redis.tls_port()), "ping"});
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(cli.output, "PONG\n");
  EXPECT_EQ(redis.command({"PING"}).text, "PONG");  // the unix socket stays plain
}

TEST(FixtureTls, MutualTlsRequiresTheClientCertificate) {
  redis_server redis({.tcp = false, .tls = true, .tls_require_client_cert = true});
  const std::vector<std::string> base{
      "redis-cli", "--tls",     "--cacert", redis.ca_cert().string(),
      "-h",        "127.0.0.1", "-p",       std::to_string(redis.tls_port())};
  auto with_cert = base;
  with_cert.insert(with_cert.end(), {"--cert", redis.client_cert().string(), "--key",
                                     redis.client_key().string(), "ping"});
  const auto accepted = run_program(with_cert);
  EXPECT_EQ(accepted.exit_code, 0) << accepted.output;
  EXPECT_EQ(accepted.output, "PONG\n");

  auto without_cert = base;
  without_cert.push_back("ping");
  const auto refused = run_program(without_cert);
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_EQ(refused.output.find("PONG"), std::string::npos) << refused.output;
}

TEST(FixtureTls, PlainAndTlsPortsSideBySide) {
  redis_server redis({.tls = true});
  ASSERT_GT(redis.port(), 0);
  ASSERT_GT(redis.tls_port(), 0);
  EXPECT_NE(redis.port(), redis.tls_port());
  EXPECT_EQ(redis.url(), "redis://127.0.0.1:" + std::to_string(redis.port()));
  EXPECT_EQ(redis.tls_url(), "rediss://127.0.0.1:" + std::to_string(redis.tls_port()));
  EXPECT_EQ(admin_command(tcp_target(redis.port()), {"PING"}).value().text, "PONG");
  const auto cli = run_program({"redis-cli", "--tls", "--cacert", redis.ca_cert().string(), "-p",
                                std::to_string(redis.tls_port()), "ping"});
  EXPECT_EQ(cli.output, "PONG\n");
}

// ---------------------------------------------------------------------------
// Lifecycle: no server outlives its test
// ---------------------------------------------------------------------------

TEST(FixtureLifecycle, DestructorStopsAndReapsTheServer) {
  pid_t pid = -1;
  {
    redis_server redis;
    pid = redis.pid();
    ASSERT_TRUE(pid_exists(pid));
  }
  EXPECT_FALSE(pid_exists(pid));
}

// EXPECT_FATAL_FAILURE runs its statement without access to locals.
pid_t failing_test_pid = -1;

void start_a_server_then_fail() {
  redis_server redis;
  failing_test_pid = redis.pid();
  FAIL() << "deliberate failure while a server runs";
}

TEST(FixtureLifecycle, ServerIsStoppedWhenATestFails) {
  EXPECT_FATAL_FAILURE(start_a_server_then_fail(), "deliberate failure");
  ASSERT_GT(failing_test_pid, 0);
  EXPECT_FALSE(pid_exists(failing_test_pid));
}

TEST(FixtureLifecycle, ServerIsStoppedWhenATestThrows) {
  pid_t pid = -1;
  EXPECT_THROW(
      {
        redis_server redis;
        pid = redis.pid();
        throw std::runtime_error("deliberate");
      },
      std::runtime_error);
  ASSERT_GT(pid, 0);
  EXPECT_FALSE(pid_exists(pid));
}

// ---------------------------------------------------------------------------
// The launcher on its own
// ---------------------------------------------------------------------------

TEST(FixtureProcess, FreePortsAreDistinct) {
  const auto ports = embedded::free_ports(16).value();
  const std::set<std::uint16_t> unique(ports.begin(), ports.end());
  EXPECT_EQ(unique.size(), ports.size());
  EXPECT_EQ(unique.count(0), 0u);
  EXPECT_GT(embedded::free_port().value(), 0);

  redis_server a;
  redis_server b;
  EXPECT_NE(a.port(), b.port());
  EXPECT_NE(a.dir(), b.dir());
}

TEST(FixtureProcess, MissingExecutableNamesThePackage) {
  temp_dir dir;
  for (const auto& [exe, package] :
       {std::pair{"redis-server-not-installed", "apt-get install redis-server"},
        std::pair{"/nonexistent/redis-sentinel", "apt-get install redis-sentinel"}}) {
    process_options options;
    options.executable = exe;
    options.dir = dir.path();
    redis_process process(options);
    try {
      process.start();
      ADD_FAILURE() << exe << " started";
    } catch (const start_error& e) {
      EXPECT_EQ(e.why(), start_error::reason::executable_not_found);
      EXPECT_NE(std::string(e.what()).find(package), std::string::npos) << e.what();
    }
  }
}

TEST(FixtureProcess, BadConfigReportsTheLogTail) {
  temp_dir dir;
  process_options options;
  options.dir = dir.path();
  options.config = {{"no-such-directive", "1"}};
  redis_process process(options);
  try {
    process.start();
    ADD_FAILURE() << "started with a bad config";
  } catch (const start_error& e) {
    EXPECT_EQ(e.why(), start_error::reason::exited);
    EXPECT_NE(std::string(e.what()).find("no-such-directive"), std::string::npos) << e.what();
  }
  EXPECT_EQ(process.pid(), -1);
}

TEST(FixtureProcess, MissingAdminCredentialsFailFast) {
  temp_dir dir;
  process_options options;
  options.dir = dir.path();
  options.config = {{"requirepass", "secret"}};
  redis_process process(options);
  try {
    process.start();
    ADD_FAILURE() << "started without the admin password";
  } catch (const start_error& e) {
    EXPECT_EQ(e.why(), start_error::reason::auth_failed) << e.what();
  }
  EXPECT_EQ(process.pid(), -1);
}

TEST(FixtureProcess, PortInUseIsReportedAsSuch) {
  // Hold a listening socket on the port, so the server's bind must fail.
  const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &length), 0);

  temp_dir dir;
  process_options options;
  options.dir = dir.path();
  options.port = ntohs(addr.sin_port);
  redis_process process(options);
  try {
    process.start();
    ADD_FAILURE() << "started on a port in use";
  } catch (const start_error& e) {
    EXPECT_EQ(e.why(), start_error::reason::address_in_use) << e.what();
  }
  ::close(holder);
}

TEST(FixtureProcess, StartsASentinelThatKeepsItsStateAcrossRestarts) {
  redis_server master;
  temp_dir dir("sentinel");
  process_options options;
  options.executable = "redis-sentinel";
  options.dir = dir.path();
  options.config_file = "sentinel.conf";
  options.port = embedded::free_port().value();
  options.config = {
      {"sentinel", "monitor mymaster 127.0.0.1 " + std::to_string(master.port()) + " 1"}};
  redis_process sentinel(options);
  sentinel.start();
  const std::vector<std::string> expected{"127.0.0.1", std::to_string(master.port())};
  EXPECT_EQ(sentinel.command({"SENTINEL", "get-master-addr-by-name", "mymaster"}).value().elements,
            expected);
  sentinel.restart();
  EXPECT_EQ(sentinel.command({"SENTINEL", "get-master-addr-by-name", "mymaster"}).value().elements,
            expected);
}

TEST(FixtureProcess, StartsAClusterNodeThatKeepsItsIdAcrossRestarts) {
  temp_dir dir("cluster");
  // cluster-port names the bus port: the default (port + 10000) can exceed
  // 65535 for ports from the ephemeral range.
  const auto ports = embedded::free_ports(2).value();
  process_options options;
  options.dir = dir.path();
  options.port = ports[0];
  options.config = {{"cluster-enabled", "yes"},
                    {"cluster-port", std::to_string(ports[1])},
                    {"save", ""},
                    {"appendonly", "no"}};
  redis_process node(options);
  node.start();
  const auto id = node.command({"CLUSTER", "MYID"}).value().text;
  EXPECT_EQ(id.size(), 40u) << id;
  node.restart();
  EXPECT_EQ(node.command({"CLUSTER", "MYID"}).value().text, id);
}

}  // namespace
}  // namespace rcache::test
