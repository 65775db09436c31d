// The Redis Cluster test fixture: 3 masters and 3 replicas, all real
// redis-server processes on free loopback ports in one temp dir.
//
// redis_cluster starts the nodes (cluster-enabled yes, cluster-node-timeout
// 1000, nodes.conf in each node's own directory, an explicit cluster bus
// port because port + 10000 can exceed 65535), joins them with
// `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`, and
// returns once every node says cluster_state:ok with all 16384 slots
// assigned, every node sees the same slot owners, and every replica's link to
// its master is up.
//
// Nodes keep their index (and node id) for life; their roles change with
// failovers. Slot ownership is read from the nodes themselves (CLUSTER
// SLOTS over the admin channel), never computed by the fixture, so it can
// serve as an oracle for a cluster client.
//
//   rcache::test::redis_cluster cluster;
//   const auto owner = cluster.key_owner("user:{42}");
//   cluster.kill(cluster.index_of(owner));
//   const auto promoted = cluster.wait_for_failover(owner);
//
// Every node is killed and reaped when the object is destroyed; the temp dir
// is then removed unless RCACHE_KEEP_TEST_DIRS is set. Nodes get SIGKILL if
// the thread that started them exits (PR_SET_PDEATHSIG): construct the
// fixture, and restart its nodes, from the test's own thread.
//
// Errors: the constructor and the helpers throw std::runtime_error (with the
// output of redis-cli or the tail of the nodes' logs) when their condition
// does not hold within the bound; start-up failures are
// embedded::start_error.
//
// Threading: one test thread owns and drives the fixture. command(),
// key_slot(), slot_owner() and key_owner() only read immutable state and may
// be called from other threads while the owner keeps the nodes alive.
#pragma once

#include <chrono>
#include <cstddef>
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

namespace rcache::test {

struct redis_cluster_options {
  /// At least 3 (redis-cli refuses fewer).
  std::size_t masters = 3;
  std::size_t replicas_per_master = 1;
  std::chrono::milliseconds node_timeout{1000};
  /// requirepass and masterauth on every node; the fixture and redis-cli AUTH.
  std::optional<std::string> password{};
  /// Directives appended to every node's config.
  std::vector<embedded::config_line> extra_config{};
  /// How long the constructor waits for the processes, redis-cli and the
  /// cluster to become ok.
  std::chrono::milliseconds ready_timeout{30000};
};

enum class cluster_role { master, replica, unknown };

/// One node as it describes itself now (ROLE).
struct cluster_node {
  std::size_t index = 0;
  std::uint16_t port = 0;
  pid_t pid = -1;                             // -1 when not running
  std::string id{};                           // CLUSTER MYID, fixed at creation
  cluster_role role = cluster_role::unknown;  // unknown: not running, paused or not answering
  std::uint16_t master_port = 0;              // a replica's master; 0 otherwise
};

class redis_cluster {
 public:
  static constexpr int slot_count = 16384;

  /// Starts the nodes, creates the cluster and waits until it is ok (see the
  /// file comment). Throws embedded::start_error when a node does not start
  /// (after retries with fresh ports on address_in_use), std::runtime_error
  /// when redis-cli fails or the cluster is not ok within ready_timeout. On
  /// failure every node already started is stopped.
  explicit redis_cluster(redis_cluster_options options = {});

  /// Kills (SIGKILL) and reaps every node, then removes the temp dir.
  ~redis_cluster();

  redis_cluster(const redis_cluster&) = delete;
  redis_cluster& operator=(const redis_cluster&) = delete;
  redis_cluster(redis_cluster&&) = delete;
  redis_cluster& operator=(redis_cluster&&) = delete;

  /// "127.0.0.1": every node listens on loopback only.
  [[nodiscard]] const std::string& host() const noexcept;
  [[nodiscard]] const redis_cluster_options& options() const noexcept { return options_; }
  /// The temp dir; node i lives in node-<i>/ (config, log, nodes.conf).
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }

  // --- Nodes ------------------------------------------------------------------

  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  [[nodiscard]] std::uint16_t port(std::size_t i) const;
  [[nodiscard]] std::uint16_t bus_port(std::size_t i) const;
  /// The address node i's own connections (cluster bus links, replication)
  /// come from: 127.0.0.<10 + i> (bind-source-addr), for network_partition.
  [[nodiscard]] std::string source_address(std::size_t i) const;
  [[nodiscard]] const std::string& node_id(std::size_t i) const;
  [[nodiscard]] pid_t pid(std::size_t i) const;
  /// The index of the node listening on `port`; throws std::out_of_range.
  [[nodiscard]] std::size_t index_of(std::uint16_t port) const;
  /// "127.0.0.1:<p0>,127.0.0.1:<p1>,..." (the REDIS_CLUSTER_NODES form).
  [[nodiscard]] std::string seed_list() const;
  /// Every node as it describes itself now (one ROLE each).
  [[nodiscard]] std::vector<cluster_node> nodes() const;
  /// The ports of the nodes that say ROLE master now, in index order.
  [[nodiscard]] std::vector<std::uint16_t> master_ports() const;
  /// The process, for what the helpers below do not offer (log_tail()).
  [[nodiscard]] embedded::redis_process& node(std::size_t i);

  /// One command to node i over its admin channel. A Redis error reply is a
  /// value; a transport failure throws std::runtime_error.
  embedded::admin_reply command(std::size_t i, std::initializer_list<std::string_view> args) const;
  embedded::admin_reply command(std::size_t i, const std::vector<std::string>& args) const;

  /// SIGKILL by pid, and reap: a crash.
  void kill(std::size_t i);
  /// SIGSTOP / SIGCONT; each returns once the state change is observed.
  /// Throws std::runtime_error when the node is not running. A paused node
  /// is left out of every wait below.
  void pause(std::size_t i);
  void resume(std::size_t i);
  /// Starts node i again on its ports with its nodes.conf, so it rejoins
  /// under its id (a former master comes back as a replica of its successor
  /// once the others tell it; see wait_until_ok()).
  void restart(std::size_t i);

  // --- Slots -------------------------------------------------------------------

  /// CLUSTER KEYSLOT, asked of the first node that answers.
  [[nodiscard]] int key_slot(std::string_view key) const;
  /// The port of the master serving `slot` per CLUSTER SLOTS of the first
  /// node that answers; throws std::runtime_error when none answers or the
  /// slot is unassigned.
  [[nodiscard]] std::uint16_t slot_owner(int slot) const;
  [[nodiscard]] std::uint16_t key_owner(std::string_view key) const;
  /// The slots `master_port` serves, ascending, per the first node that answers.
  [[nodiscard]] std::vector<int> slots_of(std::uint16_t master_port) const;

  // --- Waits and topology changes ------------------------------------------------

  /// Polls until every running, unpaused node says cluster_state:ok with all
  /// slots assigned and all nodes known, they all report the same slot
  /// owners, and every replica among them has its master link up. Throws
  /// std::runtime_error with the logs' tails after `timeout`.
  void wait_until_ok(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Polls until at least `replicas` nodes are linked replicas of the master
  /// on `master_port` and have processed its replication stream up to the
  /// offset the master reports at the call: WAIT for the admin channel, on
  /// which WAIT itself proves nothing (every command there runs on a fresh
  /// connection, which has written nothing). Throws std::runtime_error after
  /// `timeout`.
  void wait_for_replication(std::uint16_t master_port, std::size_t replicas = 1,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// After the master on `dead_master_port` was killed or paused: polls until
  /// one of its replicas (as last seen by wait_until_ok() or the
  /// constructor) says ROLE master, no answering node names the dead port as
  /// a slot owner, and wait_until_ok()'s condition holds for the other
  /// nodes. Returns the promoted replica's port. Throws std::invalid_argument
  /// when `dead_master_port` had no replica, std::runtime_error on timeout.
  std::uint16_t wait_for_failover(std::uint16_t dead_master_port,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Moves `count` slots from one master to another with
  /// `redis-cli --cluster reshard ... --cluster-yes` (keys included, by
  /// MIGRATE), then waits until every answering node agrees. Returns the
  /// slots moved, ascending. Throws std::runtime_error when redis-cli fails
  /// (its output in the message) or the nodes do not agree within `timeout`.
  std::vector<int> reshard(std::uint16_t from_port, std::uint16_t to_port, int count,
                           std::chrono::milliseconds timeout = std::chrono::seconds(60));

  /// The manual migration of one slot, in two halves so a test can run
  /// traffic in between (where clients get -ASK): begin marks the slot
  /// IMPORTING on `to_port` and MIGRATING on its current owner; finish moves
  /// its keys with MIGRATE, assigns the slot to `to_port` on every master
  /// (CLUSTER SETSLOT ... NODE) and waits until every answering node agrees.
  /// migrate_slot() does both. Throw std::runtime_error on an error reply.
  void begin_slot_migration(int slot, std::uint16_t to_port);
  void finish_slot_migration(int slot, std::uint16_t to_port,
                             std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void migrate_slot(int slot, std::uint16_t to_port,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  embedded::process_options node_process_options(std::size_t i, std::uint16_t port,
                                                 std::uint16_t bus) const;
  void start_with_retries(std::size_t i);
  static std::string who(std::size_t i);  // "redis_cluster: node <i>", for messages
  void create();
  // What keeps the cluster from being settled now (nullopt when it is),
  // ignoring the node on `ignored_port`; refreshes master_of_ when settled.
  std::optional<std::string> settled_complaint(std::uint16_t ignored_port);
  // What keeps some answering node from reporting `owner` for each of
  // `slots` (nullopt when none does).
  std::optional<std::string> owners_agree(const std::vector<int>& slots, std::uint16_t owner) const;
  std::vector<std::string> auth_args() const;
  std::string logs_tail() const;

  redis_cluster_options options_;
  // Declaration order is teardown order reversed: nodes die before the
  // directory goes.
  temp_dir dir_;
  std::vector<std::optional<embedded::redis_process>> nodes_;
  std::vector<std::uint16_t> bus_ports_;
  std::vector<std::string> ids_;
  // For each node, its master's port when last seen as a replica by a
  // successful wait (0 when last seen as a master): wait_for_failover() needs
  // the replicas of a master that can no longer be asked.
  std::vector<std::uint16_t> master_of_;
};

}  // namespace rcache::test
