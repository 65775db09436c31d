// The integration-test fixture: one real redis-server in a fresh temp dir.
//
// redis_server wraps embedded::redis_process with what tests want: free
// loopback ports (retrying with fresh ones when another process took one
// first), persistence on or off, requirepass, an ACL user, TLS with
// generated certificates (optionally mutual), and an admin oracle that reads
// the server over its plain unix socket without rcache's client. The server
// is stopped and reaped, and the temp dir removed (unless
// RCACHE_KEEP_TEST_DIRS is set), when the object is destroyed, including
// when the test fails or throws.
//
//   rcache::test::redis_server redis({.persistence = true});
//   redis.command({"SET", "k", "v"});
//   redis.restart();
//   EXPECT_EQ(redis.command({"GET", "k"}).text, "v");
//
// Threading: one test thread owns a redis_server. command() may also be
// called from other threads while the owner keeps the server alive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "embedded/redis_process.hpp"
#include "temp_dir.hpp"
#include "test_certs.hpp"

namespace rcache::test {

/// An ACL user created in the config file: `user <name> <rules> ><password>`.
struct acl_user {
  std::string name{};
  std::string password{};
  std::string rules = "on ~* &* +@all";
};

struct redis_server_options {
  /// Listen on a plain TCP port. With tls and without tcp, TCP is TLS-only.
  bool tcp = true;
  /// Listen on a TLS port with a generated CA and server certificate.
  bool tls = false;
  /// tls-auth-clients yes: TLS clients must present client_cert().
  bool tls_require_client_cert = false;
  /// The default user's password; the oracle AUTHs with it.
  std::optional<std::string> requirepass{};
  /// An additional ACL user.
  std::optional<acl_user> user{};
  /// appendonly yes + RDB save points; otherwise save "" and appendonly no.
  bool persistence = false;
  /// Directives written last, so they override the fixture's.
  std::vector<embedded::config_line> extra_config{};
  /// redis-server unless a test needs another build.
  std::string executable = "redis-server";
};

class redis_server {
 public:
  /// Creates the temp dir (and certificates), starts the server and waits
  /// until it answers PING. Throws embedded::start_error (after a few
  /// retries with fresh ports on address_in_use) or std::runtime_error.
  explicit redis_server(redis_server_options options = {});

  /// Stops the server (SIGTERM, then SIGKILL), then removes the temp dir.
  ~redis_server();

  redis_server(redis_server&&) noexcept = default;
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;
  redis_server& operator=(redis_server&&) = delete;

  /// "127.0.0.1".
  [[nodiscard]] const std::string& host() const noexcept;
  /// The plain TCP port; 0 when options().tcp is false.
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// The TLS port; 0 when options().tls is false.
  [[nodiscard]] std::uint16_t tls_port() const noexcept { return tls_port_; }
  /// The plain unix socket (always on; the oracle uses it).
  [[nodiscard]] std::filesystem::path unix_socket() const;
  /// The temp dir: config, log, RDB/AOF files, certificates.
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }

  /// PEM files; empty paths when options().tls is false.
  [[nodiscard]] std::filesystem::path ca_cert() const;
  [[nodiscard]] std::filesystem::path client_cert() const;
  [[nodiscard]] std::filesystem::path client_key() const;
  [[nodiscard]] std::filesystem::path server_cert() const;
  [[nodiscard]] std::filesystem::path server_key() const;

  /// "redis://127.0.0.1:<port>", or the TLS form when there is no plain TCP
  /// port. No credentials in it.
  [[nodiscard]] std::string url() const;
  /// "rediss://127.0.0.1:<tls_port>"; empty when options().tls is false.
  [[nodiscard]] std::string tls_url() const;

  /// The server's pid; -1 after stop() or kill().
  [[nodiscard]] pid_t pid() const noexcept;
  /// Whether the server process is alive (reaps it if not).
  [[nodiscard]] bool running() noexcept;
  /// SIGKILL and reap: a crash. restart() brings it back.
  void kill() noexcept;
  /// SIGTERM (a clean shutdown that writes RDB/AOF), SIGKILL after a deadline.
  void stop() noexcept;
  /// Stops if running, then starts again on the same ports in the same dir.
  /// Throws embedded::start_error (address_in_use if a port was taken).
  void restart();
  /// SIGSTOP / SIGCONT; each returns once the state change is observed.
  void pause();
  void resume();

  /// The admin oracle: one command over the unix socket, AUTHed with
  /// requirepass when set. A Redis error reply is returned (is_error);
  /// a transport failure (timeout, refused) throws std::runtime_error.
  embedded::admin_reply command(std::initializer_list<std::string_view> args) const;
  embedded::admin_reply command(const std::vector<std::string>& args) const;

  [[nodiscard]] const redis_server_options& options() const noexcept { return options_; }
  /// The launcher, for what this wrapper does not offer (log_tail(), admin()).
  [[nodiscard]] embedded::redis_process& process() noexcept { return *process_; }
  [[nodiscard]] const embedded::redis_process& process() const noexcept { return *process_; }

 private:
  embedded::process_options make_process_options() const;

  // Declaration order is teardown order reversed: the process stops before
  // the directory it lives in is removed.
  redis_server_options options_;
  temp_dir dir_;
  std::optional<tls_files> tls_;
  std::uint16_t port_ = 0;
  std::uint16_t tls_port_ = 0;
  std::optional<embedded::redis_process> process_;
};

}  // namespace rcache::test
