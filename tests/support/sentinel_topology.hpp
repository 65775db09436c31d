// The Sentinel test fixture: 1 master, 2 replicas and 3 sentinels, all real
// processes on free loopback ports in one temp dir.
//
// sentinel_topology starts three redis-server processes (server 0 as the
// master, servers 1 and 2 with `replicaof` it) and three redis-sentinel
// processes that monitor the master under one name with quorum 2,
// down-after-milliseconds 1000 and parallel-syncs 1. The constructor returns
// only once the replicas' links are up and every sentinel knows the master,
// both replicas and the other two sentinels, so a test can kill the master
// straight away and expect a failover.
//
// Servers keep their index for life; their roles change with failovers
// (after one, server 0 may be a replica). master_port() and
// wait_for_failover() report the master the way a client would learn it:
// from the sentinels.
//
//   rcache::test::sentinel_topology topology;
//   const auto old_master = topology.master_port();
//   topology.kill_server(topology.server_index(old_master));
//   const auto new_master = topology.wait_for_failover(old_master);
//
// Every process runs in its own subdirectory of the temp dir (config, log,
// unix socket) and is killed and reaped, sentinels first, when the object is
// destroyed; the temp dir is then removed unless RCACHE_KEEP_TEST_DIRS is set.
// Processes get SIGKILL if the thread that constructed the fixture exits
// (PR_SET_PDEATHSIG), so construct it, and restart its processes, from the
// test's own thread.
//
// Errors: the constructor and the waiting helpers throw std::runtime_error
// (with the tail of the relevant logs) when their condition does not hold
// within the bound; start-up failures are embedded::start_error.
//
// Threading: one test thread owns and drives the fixture. The *_command()
// helpers only read immutable state and may be called from other threads
// while the owner keeps the processes alive.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "embedded/redis_process.hpp"
#include "temp_dir.hpp"

namespace rcache::test {

struct sentinel_topology_options {
  /// The name the sentinels monitor the master under.
  std::string master_name = "mymaster";
  /// requirepass and masterauth on every redis-server, and `sentinel
  /// auth-pass` on the sentinels; the fixture's own admin channel AUTHs too.
  std::optional<std::string> server_password{};
  /// requirepass on every sentinel, and `sentinel sentinel-pass` so the
  /// sentinels can talk to each other: what a client must send to a sentinel.
  std::optional<std::string> sentinel_password{};
  /// Sentinel timing, per master.
  std::chrono::milliseconds down_after{1000};
  std::chrono::milliseconds failover_timeout{10000};
  /// `SENTINEL DEBUG ping-period`, sent to every sentinel after each of its
  /// starts; 0 keeps Sentinel's default (1000 ms). Why not the default: after
  /// a switch-master a sentinel reconnects to the new master no sooner than
  /// one ping period after its last (failed) attempt at the old one, while
  /// the down-after clock already runs; with both at 1000 ms a sentinel can
  /// flag the new master down before its first PONG, and stale down votes
  /// from the failover just finished make that an immediate second failover
  /// (seen under load). 500 ms leaves half of down-after as margin and
  /// changes detection by at most one ping period.
  std::chrono::milliseconds ping_period{500};
  /// Further `SENTINEL DEBUG <name> <value>` pairs sent after ping_period on
  /// each start (they are not persisted), e.g. {"info-period", "1000"}.
  std::vector<std::pair<std::string, std::string>> sentinel_debug{};
  /// Directives appended to every server's / sentinel's config.
  std::vector<embedded::config_line> extra_server_config{};
  std::vector<embedded::config_line> extra_sentinel_config{};
  /// How long the constructor waits for the topology to settle.
  std::chrono::milliseconds ready_timeout{30000};
};

class sentinel_topology {
 public:
  static constexpr std::size_t server_count = 3;    // index 0 starts as the master
  static constexpr std::size_t sentinel_count = 3;  // quorum 2

  struct address {
    std::string host;
    std::uint16_t port = 0;
  };

  /// Starts every process and waits until the topology has settled (see the
  /// file comment). Throws embedded::start_error when a process does not
  /// start (after retries with fresh ports on address_in_use), or
  /// std::runtime_error with the logs' tails on timeout. On failure every
  /// process already started is stopped.
  explicit sentinel_topology(sentinel_topology_options options = {});

  /// Kills (SIGKILL) and reaps the sentinels, then the servers, then removes
  /// the temp dir. Nothing is persisted, so nothing is lost by not asking.
  ~sentinel_topology();

  sentinel_topology(const sentinel_topology&) = delete;
  sentinel_topology& operator=(const sentinel_topology&) = delete;
  sentinel_topology(sentinel_topology&&) = delete;
  sentinel_topology& operator=(sentinel_topology&&) = delete;

  [[nodiscard]] const std::string& master_name() const noexcept { return options_.master_name; }
  /// "127.0.0.1": every process listens on loopback only.
  [[nodiscard]] const std::string& host() const noexcept;
  [[nodiscard]] const sentinel_topology_options& options() const noexcept { return options_; }
  /// The temp dir; server i lives in server-<i>/, sentinel i in sentinel-<i>/.
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }

  // --- Sentinels -----------------------------------------------------------

  /// The sentinels' addresses, in index order.
  [[nodiscard]] std::vector<address> sentinel_addresses() const;
  /// "127.0.0.1:<p0>,127.0.0.1:<p1>,127.0.0.1:<p2>" (the REDIS_SENTINELS form).
  [[nodiscard]] std::string sentinel_list() const;
  [[nodiscard]] std::uint16_t sentinel_port(std::size_t i) const;
  /// The process, for what the helpers below do not offer (pid(), log_tail()).
  [[nodiscard]] embedded::redis_process& sentinel(std::size_t i);

  /// One command to sentinel i over its admin channel (AUTHed with
  /// sentinel_password). A Redis error reply is a value; a transport failure
  /// throws std::runtime_error.
  embedded::admin_reply sentinel_command(std::size_t i,
                                         std::initializer_list<std::string_view> args) const;

  /// The master's port as sentinel i reports it (SENTINEL
  /// GET-MASTER-ADDR-BY-NAME); std::nullopt when it does not answer or knows
  /// no such master.
  [[nodiscard]] std::optional<std::uint16_t> master_port_from(std::size_t i) const;
  /// The master's port all answering sentinels agree on. Throws
  /// std::runtime_error when none answers or they disagree (mid-failover).
  [[nodiscard]] std::uint16_t master_port() const;
  /// Polls the sentinels until every answering one (at least a quorum)
  /// reports the same master on a port other than `old_master_port` and that
  /// server says ROLE master; returns its port. Throws std::runtime_error
  /// with the sentinels' log tails after `timeout`.
  std::uint16_t wait_for_failover(std::uint16_t old_master_port,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Sends `SENTINEL DEBUG <name> <value>` to every running sentinel and
  /// adds it to options().sentinel_debug, so restarted sentinels get it too.
  /// E.g. publish-period 500 and info-period 1000 make a returning old
  /// master a replica within ~3 s instead of ~11 s (Sentinel waits four
  /// publish periods of a stable role, and polls replicas' INFO every info
  /// period). Throws std::runtime_error on an error reply.
  void set_sentinel_debug(const std::string& name, const std::string& value);

  /// Stop / restart a sentinel; restart re-applies options().sentinel_debug.
  void kill_sentinel(std::size_t i);
  void restart_sentinel(std::size_t i);

  // --- Servers ---------------------------------------------------------------

  [[nodiscard]] std::uint16_t server_port(std::size_t i) const;
  /// The index of the server listening on `port`; throws std::out_of_range.
  [[nodiscard]] std::size_t server_index(std::uint16_t port) const;
  /// The process, for what the helpers below do not offer (log_tail()).
  [[nodiscard]] embedded::redis_process& server(std::size_t i);
  [[nodiscard]] pid_t server_pid(std::size_t i) const noexcept;

  /// SIGKILL by pid, and reap: a crash.
  void kill_server(std::size_t i);
  /// SIGSTOP / SIGCONT; each returns once the state change is observed.
  /// Throws std::runtime_error when the server is not running.
  void pause_server(std::size_t i);
  void resume_server(std::size_t i);
  /// Starts server i again on its port with its config as last written
  /// (Sentinel rewrites a replica's `replicaof`). A former master comes back
  /// as a master until the sentinels reconfigure it; see wait_until_replica().
  void restart_server(std::size_t i);

  /// One command to server i over its admin channel; as sentinel_command().
  embedded::admin_reply server_command(std::size_t i,
                                       std::initializer_list<std::string_view> args) const;

  /// Polls until at least `replicas` servers are linked replicas of server
  /// `master` and have processed its replication stream up to the offset
  /// the master reports at the call: WAIT for the admin channel, on which
  /// WAIT itself proves nothing (every command there runs on a fresh
  /// connection, which has written nothing). Throws std::runtime_error after
  /// `timeout`.
  void wait_for_replication(std::size_t master, std::size_t replicas,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Polls until server i is a replica of the server on `master_port` with
  /// its link up (INFO replication). Throws std::runtime_error after
  /// `timeout`, with the server's and the sentinels' log tails.
  void wait_until_replica(std::size_t i, std::uint16_t master_port,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  embedded::process_options server_process_options(std::size_t i, std::uint16_t port) const;
  embedded::process_options sentinel_process_options(std::size_t i, std::uint16_t port) const;
  // Starts `process`, re-creating it on a fresh port while the port is taken.
  void start_with_retries(std::optional<embedded::redis_process>& process, bool is_sentinel,
                          std::size_t i);
  void apply_sentinel_debug(std::size_t i);
  void wait_until_settled();
  std::string logs_tail() const;

  sentinel_topology_options options_;
  // Declaration order is teardown order reversed: processes die before the
  // directory goes, sentinels before servers (so no failover starts while
  // the servers are being stopped).
  temp_dir dir_;
  std::array<std::optional<embedded::redis_process>, server_count> servers_;
  std::array<std::optional<embedded::redis_process>, sentinel_count> sentinels_;
};

}  // namespace rcache::test
