// redis_cluster: node config, start-up with port retries, creation with
// redis-cli, and the polling waits that decide when the cluster is ok, has
// failed over, or agrees on moved slots.
//
// Every wait polls its condition with a short, growing pause between polls
// under one deadline, and asks only nodes that can answer (running and not
// SIGSTOPped), each with a short admin timeout. Slot owners are compared as
// whole 16384-entry maps built from each node's CLUSTER SLOTS, so "the
// nodes agree" means exactly that.
//
// Threading: see redis_cluster.hpp.
#include "redis_cluster.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <thread>

#include "embedded/free_port.hpp"
#include "process_poll.hpp"
#include "run_program.hpp"

namespace rcache::test {
namespace {

using clock = std::chrono::steady_clock;
using embedded::admin_reply;
using embedded::redis_process;
// The owner of every slot by port; 0 for an unassigned slot.
using slot_map = std::vector<std::uint16_t>;

const std::string loopback = "127.0.0.1";

// Keys moved per MIGRATE by finish_slot_migration().
constexpr int migrate_batch = 100;

using poll::can_answer;
using poll::info_field;
using poll::lines;
using poll::parse_number;
using poll::parse_port;
using poll::text_or_error;
using poll::until;

// The node's view of the slot owners (CLUSTER SLOTS); nullopt when it does
// not answer. Each element renders as "start\nend\nip\nport\nid\n..." with
// the master first.
std::optional<slot_map> read_slot_map(const redis_process& process) {
  const auto reply = poll::command(process, {"CLUSTER", "SLOTS"});
  if (!reply || reply->is_error) return std::nullopt;
  slot_map owners(redis_cluster::slot_count, 0);
  for (const auto& element : reply->elements) {
    const auto fields = lines(element);
    if (fields.size() < 4) return std::nullopt;
    const auto first = parse_number(fields[0]);
    const auto last = parse_number(fields[1]);
    const auto port = parse_port(fields[3]);
    if (!first || !last || !port || *first < 0 || *last >= redis_cluster::slot_count ||
        *first > *last) {
      return std::nullopt;
    }
    std::fill(owners.begin() + *first, owners.begin() + *last + 1, *port);
  }
  return owners;
}

// ROLE: the role, a replica's master port and link state, and the
// replication offset (a master's own; what a replica has processed).
struct role_view {
  cluster_role role = cluster_role::unknown;
  std::uint16_t master_port = 0;
  bool link_up = false;
  long offset = -1;
};

role_view read_role(const redis_process& process) {
  role_view view;
  const auto reply = poll::command(process, {"ROLE"});
  if (!reply || reply->is_error || reply->elements.empty()) return view;
  // master: "master", offset, replicas; slave: "slave", host, port, state, offset.
  if (reply->elements[0] == "master" && reply->elements.size() >= 2) {
    view.role = cluster_role::master;
    view.offset = parse_number(reply->elements[1]).value_or(-1);
  } else if (reply->elements[0] == "slave" && reply->elements.size() >= 5) {
    view.role = cluster_role::replica;
    view.master_port = parse_port(reply->elements[2]).value_or(0);
    view.link_up = reply->elements[3] == "connected";
    view.offset = parse_number(reply->elements[4]).value_or(-1);
  }
  return view;
}

void expect_ok(const admin_reply& reply, std::string_view what) {
  if (reply.is_error || reply.text != "OK") {
    throw std::runtime_error("redis_cluster: " + std::string(what) + ": " + reply.text);
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Start-up and teardown
// ---------------------------------------------------------------------------

redis_cluster::redis_cluster(redis_cluster_options options)
    : options_(std::move(options)), dir_("cluster") {
  if (options_.masters < 3) {
    throw std::invalid_argument("redis_cluster: at least 3 masters (redis-cli refuses fewer)");
  }
  const auto n = options_.masters * (1 + options_.replicas_per_master);
  const auto ports = embedded::free_ports(2 * n).value();
  nodes_.resize(n);
  bus_ports_.resize(n);
  master_of_.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    bus_ports_[i] = ports[2 * i + 1];
    nodes_[i].emplace(node_process_options(i, ports[2 * i], bus_ports_[i]));
    start_with_retries(i);
  }
  create();
  for (std::size_t i = 0; i < n; ++i) {
    const auto id = command(i, {"CLUSTER", "MYID"});
    if (id.is_error || id.text.size() != 40) {
      throw std::runtime_error("redis_cluster: CLUSTER MYID on node " + std::to_string(i) + ": " +
                               id.text);
    }
    ids_.push_back(id.text);
  }
  wait_until_ok(options_.ready_timeout);
}

redis_cluster::~redis_cluster() {
  for (auto& node : nodes_) {
    if (node) node->kill();
  }
}

std::string redis_cluster::source_address(std::size_t i) const {
  return "127.0.0." + std::to_string(10 + i);
}

embedded::process_options redis_cluster::node_process_options(std::size_t i, std::uint16_t port,
                                                              std::uint16_t bus) const {
  auto p = poll::replicated_server_options(dir_.path() / ("node-" + std::to_string(i)), port,
                                           options_.password);
  auto& c = p.config;
  c.push_back({"cluster-enabled", "yes"});
  // The default bus port (port + 10000) can exceed 65535 for ephemeral ports.
  c.push_back({"cluster-port", std::to_string(bus)});
  c.push_back({"cluster-config-file", "nodes.conf"});  // relative to dir
  c.push_back({"cluster-node-timeout", std::to_string(options_.node_timeout.count())});
  // The node's own connections (bus links, replication) come from an
  // address of its own, so network_partition can cut them off too; it
  // listens, and announces itself, on 127.0.0.1 only.
  c.push_back({"bind-source-addr", source_address(i)});
  // Peers would otherwise learn the node's address from the source of its
  // bus connections, where nothing listens.
  c.push_back({"cluster-announce-ip", "127.0.0.1"});
  // Protected mode counts only 127.0.0.1 as loopback and would refuse the
  // peers' connections from 127.0.0.1x; the node listens on 127.0.0.1 only.
  c.push_back({"protected-mode", "no"});
  c.insert(c.end(), options_.extra_config.begin(), options_.extra_config.end());
  return p;
}

void redis_cluster::start_with_retries(std::size_t i) {
  poll::start_with_port_retries(
      [&] { nodes_[i]->start(); },
      [&] {
        // The client or the bus port was taken: replace both.
        std::set<std::uint16_t> taken(bus_ports_.begin(), bus_ports_.end());
        for (const auto& node : nodes_) {
          if (node) taken.insert(node->options().port);
        }
        const auto client_port = poll::fresh_port(taken);
        bus_ports_[i] = poll::fresh_port(taken);
        nodes_[i].emplace(node_process_options(i, client_port, bus_ports_[i]));
      });
}

std::vector<std::string> redis_cluster::auth_args() const {
  if (!options_.password) return {};
  return {"-a", *options_.password, "--no-auth-warning"};
}

void redis_cluster::create() {
  std::vector<std::string> argv{"redis-cli"};
  const auto auth = auth_args();
  argv.insert(argv.end(), auth.begin(), auth.end());
  argv.insert(argv.end(), {"--cluster", "create"});
  for (std::size_t i = 0; i < size(); ++i) argv.push_back(loopback + ":" + std::to_string(port(i)));
  argv.insert(argv.end(), {"--cluster-replicas", std::to_string(options_.replicas_per_master),
                           "--cluster-yes"});
  const auto result = run_program(argv, options_.ready_timeout);
  if (result.exit_code != 0 ||
      result.output.find("[OK] All 16384 slots covered") == std::string::npos) {
    throw std::runtime_error("redis_cluster: redis-cli --cluster create failed (exit " +
                             std::to_string(result.exit_code) +
                             (result.timed_out ? ", timed out" : "") + "):\n" + result.output +
                             "\nlogs:\n" + logs_tail());
  }
}

std::string redis_cluster::logs_tail() const {
  constexpr std::size_t lines_per_node = 12;
  std::string out;
  for (std::size_t i = 0; i < size(); ++i) {
    out += "--- node " + std::to_string(i) + " (port " + std::to_string(port(i)) + ") ---\n" +
           nodes_[i]->log_tail(lines_per_node);
  }
  return out;
}

const std::string& redis_cluster::host() const noexcept {
  return loopback;
}

// ---------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------

std::uint16_t redis_cluster::port(std::size_t i) const {
  return nodes_.at(i)->options().port;
}

std::uint16_t redis_cluster::bus_port(std::size_t i) const {
  return bus_ports_.at(i);
}

const std::string& redis_cluster::node_id(std::size_t i) const {
  return ids_.at(i);
}

pid_t redis_cluster::pid(std::size_t i) const {
  return nodes_.at(i)->pid();
}

std::size_t redis_cluster::index_of(std::uint16_t node_port) const {
  for (std::size_t i = 0; i < size(); ++i) {
    if (port(i) == node_port) return i;
  }
  throw std::out_of_range("redis_cluster: no node on port " + std::to_string(node_port));
}

std::string redis_cluster::seed_list() const {
  std::string out;
  for (std::size_t i = 0; i < size(); ++i) {
    if (i != 0) out += ',';
    out += loopback + ":" + std::to_string(port(i));
  }
  return out;
}

std::vector<cluster_node> redis_cluster::nodes() const {
  std::vector<cluster_node> out;
  for (std::size_t i = 0; i < size(); ++i) {
    const auto view = read_role(*nodes_[i]);
    out.push_back({i, port(i), pid(i), ids_.at(i), view.role, view.master_port});
  }
  return out;
}

std::vector<std::uint16_t> redis_cluster::master_ports() const {
  std::vector<std::uint16_t> out;
  for (const auto& n : nodes()) {
    if (n.role == cluster_role::master) out.push_back(n.port);
  }
  return out;
}

redis_process& redis_cluster::node(std::size_t i) {
  return *nodes_.at(i);
}

admin_reply redis_cluster::command(std::size_t i,
                                   std::initializer_list<std::string_view> args) const {
  return poll::reply_or_throw(nodes_.at(i)->command(args), who(i),
                              args.size() ? *args.begin() : "");
}

admin_reply redis_cluster::command(std::size_t i, const std::vector<std::string>& args) const {
  return poll::reply_or_throw(nodes_.at(i)->command(std::span<const std::string>(args)), who(i),
                              args.empty() ? "" : args.front());
}

void redis_cluster::kill(std::size_t i) {
  nodes_.at(i)->kill();
}

void redis_cluster::pause(std::size_t i) {
  poll::pause_or_throw(*nodes_.at(i), who(i));
}

void redis_cluster::resume(std::size_t i) {
  poll::resume_or_throw(*nodes_.at(i), who(i));
}

std::string redis_cluster::who(std::size_t i) {
  return "redis_cluster: node " + std::to_string(i);
}

void redis_cluster::restart(std::size_t i) {
  nodes_.at(i)->restart();
}

// ---------------------------------------------------------------------------
// Slots
// ---------------------------------------------------------------------------

int redis_cluster::key_slot(std::string_view key) const {
  for (const auto& node : nodes_) {
    const auto reply = poll::command(*node, {"CLUSTER", "KEYSLOT", key});
    if (!reply || reply->is_error) continue;
    if (const auto slot = parse_number(reply->text)) return static_cast<int>(*slot);
  }
  throw std::runtime_error("redis_cluster::key_slot: no node answers");
}

std::uint16_t redis_cluster::slot_owner(int slot) const {
  if (slot < 0 || slot >= slot_count) {
    throw std::out_of_range("redis_cluster: slot " + std::to_string(slot));
  }
  for (const auto& node : nodes_) {
    const auto owners = read_slot_map(*node);
    if (!owners) continue;
    const auto owner = (*owners)[static_cast<std::size_t>(slot)];
    if (owner == 0) {
      throw std::runtime_error("redis_cluster: slot " + std::to_string(slot) + " is unassigned");
    }
    return owner;
  }
  throw std::runtime_error("redis_cluster::slot_owner: no node answers");
}

std::uint16_t redis_cluster::key_owner(std::string_view key) const {
  return slot_owner(key_slot(key));
}

std::vector<int> redis_cluster::slots_of(std::uint16_t master_port) const {
  for (const auto& node : nodes_) {
    const auto owners = read_slot_map(*node);
    if (!owners) continue;
    std::vector<int> out;
    for (int slot = 0; slot < slot_count; ++slot) {
      if ((*owners)[static_cast<std::size_t>(slot)] == master_port) out.push_back(slot);
    }
    return out;
  }
  throw std::runtime_error("redis_cluster::slots_of: no node answers");
}

// ---------------------------------------------------------------------------
// Waits and topology changes
// ---------------------------------------------------------------------------

std::optional<std::string> redis_cluster::settled_complaint(std::uint16_t ignored_port) {
  const auto known = std::to_string(size());
  std::optional<slot_map> agreed;
  std::vector<std::pair<std::size_t, role_view>> roles;
  for (std::size_t i = 0; i < size(); ++i) {
    if (port(i) == ignored_port || !can_answer(*nodes_[i])) continue;
    const auto who = "node " + std::to_string(i) + " (port " + std::to_string(port(i)) + "): ";
    const auto info = poll::command(*nodes_[i], {"CLUSTER", "INFO"});
    if (!info || info->is_error) return who + text_or_error(info);
    if (info_field(info->text, "cluster_state") != "ok") return who + "cluster_state not ok";
    if (info_field(info->text, "cluster_slots_assigned") != std::to_string(slot_count)) {
      return who + info_field(info->text, "cluster_slots_assigned") + " slots assigned";
    }
    if (info_field(info->text, "cluster_known_nodes") != known) {
      return who + "knows " + info_field(info->text, "cluster_known_nodes") + " nodes";
    }
    const auto owners = read_slot_map(*nodes_[i]);
    if (!owners) return who + "no CLUSTER SLOTS";
    if (ignored_port != 0 && std::count(owners->begin(), owners->end(), ignored_port) != 0) {
      return who + "still names port " + std::to_string(ignored_port) + " as a slot owner";
    }
    if (!agreed) {
      agreed = *owners;
    } else if (*agreed != *owners) {
      return who + "sees other slot owners than its peers";
    }
    const auto view = read_role(*nodes_[i]);
    if (view.role == cluster_role::unknown) return who + "no ROLE";
    if (view.role == cluster_role::replica && !view.link_up) {
      return who + "replica link to port " + std::to_string(view.master_port) + " is down";
    }
    roles.emplace_back(i, view);
  }
  if (roles.empty()) return "no node answers";
  for (const auto& [i, view] : roles) master_of_[i] = view.master_port;
  return std::nullopt;
}

void redis_cluster::wait_until_ok(std::chrono::milliseconds timeout) {
  const auto complaint = until(timeout, [&] { return settled_complaint(0); });
  if (complaint) {
    throw std::runtime_error("redis_cluster: not ok within " + std::to_string(timeout.count()) +
                             " ms (last: " + *complaint + "); logs:\n" + logs_tail());
  }
}

void redis_cluster::wait_for_replication(std::uint16_t master_port, std::size_t replicas,
                                         std::chrono::milliseconds timeout) {
  const auto master = read_role(*nodes_.at(index_of(master_port)));
  if (master.role != cluster_role::master || master.offset < 0) {
    throw std::runtime_error("redis_cluster: port " + std::to_string(master_port) +
                             " is not an answering master");
  }
  const auto complaint = until(timeout, [&]() -> std::optional<std::string> {
    std::size_t caught_up = 0;
    for (const auto& node : nodes_) {
      const auto view = read_role(*node);
      if (view.role == cluster_role::replica && view.master_port == master_port && view.link_up &&
          view.offset >= master.offset) {
        ++caught_up;
      }
    }
    if (caught_up >= replicas) return std::nullopt;
    return std::to_string(caught_up) + " replicas at offset " + std::to_string(master.offset);
  });
  if (complaint) {
    throw std::runtime_error("redis_cluster: replication from port " + std::to_string(master_port) +
                             " not done within " + std::to_string(timeout.count()) +
                             " ms (last: " + *complaint + "); logs:\n" + logs_tail());
  }
}

std::uint16_t redis_cluster::wait_for_failover(std::uint16_t dead_master_port,
                                               std::chrono::milliseconds timeout) {
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < size(); ++i) {
    if (master_of_[i] == dead_master_port) candidates.push_back(i);
  }
  if (candidates.empty()) {
    throw std::invalid_argument("redis_cluster::wait_for_failover: port " +
                                std::to_string(dead_master_port) + " had no replica");
  }
  std::uint16_t promoted = 0;
  const auto complaint = until(timeout, [&]() -> std::optional<std::string> {
    promoted = 0;
    for (const auto i : candidates) {
      if (read_role(*nodes_[i]).role == cluster_role::master) promoted = port(i);
    }
    if (promoted == 0) return "no replica of the dead master is a master yet";
    return settled_complaint(dead_master_port);
  });
  if (complaint) {
    throw std::runtime_error("redis_cluster: no failover away from port " +
                             std::to_string(dead_master_port) + " within " +
                             std::to_string(timeout.count()) + " ms (last: " + *complaint +
                             "); logs:\n" + logs_tail());
  }
  return promoted;
}

std::optional<std::string> redis_cluster::owners_agree(const std::vector<int>& slots,
                                                       std::uint16_t owner) const {
  bool answered = false;
  for (std::size_t i = 0; i < size(); ++i) {
    if (!can_answer(*nodes_[i])) continue;
    const auto owners = read_slot_map(*nodes_[i]);
    if (!owners) return "node " + std::to_string(i) + ": no CLUSTER SLOTS";
    answered = true;
    for (const auto slot : slots) {
      if ((*owners)[static_cast<std::size_t>(slot)] != owner) {
        return "node " + std::to_string(i) + " sees slot " + std::to_string(slot) + " on port " +
               std::to_string((*owners)[static_cast<std::size_t>(slot)]);
      }
    }
  }
  if (!answered) return "no node answers";
  return std::nullopt;
}

std::vector<int> redis_cluster::reshard(std::uint16_t from_port, std::uint16_t to_port, int count,
                                        std::chrono::milliseconds timeout) {
  const auto from = index_of(from_port);
  const auto to = index_of(to_port);
  const auto before = slots_of(from_port);
  if (count <= 0 || static_cast<std::size_t>(count) > before.size()) {
    throw std::invalid_argument("redis_cluster::reshard: port " + std::to_string(from_port) +
                                " serves " + std::to_string(before.size()) + " slots, not " +
                                std::to_string(count));
  }
  std::vector<std::string> argv{"redis-cli"};
  const auto auth = auth_args();
  argv.insert(argv.end(), auth.begin(), auth.end());
  argv.insert(argv.end(), {"--cluster", "reshard", loopback + ":" + std::to_string(to_port),
                           "--cluster-from", ids_.at(from), "--cluster-to", ids_.at(to),
                           "--cluster-slots", std::to_string(count), "--cluster-yes"});
  const auto result = run_program(argv, timeout);
  if (result.exit_code != 0 || result.output.find("[ERR]") != std::string::npos) {
    throw std::runtime_error("redis_cluster: redis-cli --cluster reshard failed (exit " +
                             std::to_string(result.exit_code) +
                             (result.timed_out ? ", timed out" : "") + "):\n" + result.output);
  }
  std::vector<int> moved;
  const auto complaint = until(timeout, [&]() -> std::optional<std::string> {
    if (auto c = settled_complaint(0)) return c;
    // Settled: every answering node holds the same map, so any one will do.
    std::optional<slot_map> owners;
    for (std::size_t i = 0; i < size() && !owners; ++i) owners = read_slot_map(*nodes_[i]);
    if (!owners) return "no node answers";
    moved.clear();
    for (const auto slot : before) {
      if ((*owners)[static_cast<std::size_t>(slot)] == to_port) moved.push_back(slot);
    }
    if (moved.size() != static_cast<std::size_t>(count)) {
      return std::to_string(moved.size()) + " of " + std::to_string(count) + " slots moved";
    }
    return std::nullopt;
  });
  if (complaint) {
    throw std::runtime_error("redis_cluster: reshard not agreed within " +
                             std::to_string(timeout.count()) + " ms (last: " + *complaint +
                             "); redis-cli said:\n" + result.output + "\nlogs:\n" + logs_tail());
  }
  return moved;
}

void redis_cluster::begin_slot_migration(int slot, std::uint16_t to_port) {
  const auto from = index_of(slot_owner(slot));
  const auto to = index_of(to_port);
  if (from == to) {
    throw std::invalid_argument("redis_cluster: slot " + std::to_string(slot) +
                                " is already served by port " + std::to_string(to_port));
  }
  const auto s = std::to_string(slot);
  // The target first: once the source says MIGRATING it sends clients -ASK
  // to the target, which must then accept them.
  expect_ok(command(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", ids_.at(from)}),
            "SETSLOT IMPORTING");
  expect_ok(command(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", ids_.at(to)}),
            "SETSLOT MIGRATING");
}

void redis_cluster::finish_slot_migration(int slot, std::uint16_t to_port,
                                          std::chrono::milliseconds timeout) {
  const auto from = index_of(slot_owner(slot));
  const auto to = index_of(to_port);
  const auto s = std::to_string(slot);
  for (;;) {
    const auto keys = command(from, {"CLUSTER", "GETKEYSINSLOT", s, std::to_string(migrate_batch)});
    if (keys.is_error) throw std::runtime_error("redis_cluster: GETKEYSINSLOT: " + keys.text);
    if (keys.elements.empty()) break;
    std::vector<std::string> migrate{"MIGRATE", loopback, std::to_string(to_port), "", "0", "5000"};
    if (options_.password) migrate.insert(migrate.end(), {"AUTH", *options_.password});
    migrate.push_back("KEYS");
    migrate.insert(migrate.end(), keys.elements.begin(), keys.elements.end());
    const auto reply = command(from, migrate);
    if (reply.is_error) throw std::runtime_error("redis_cluster: MIGRATE: " + reply.text);
  }
  // The target first, so it serves the slot before the source stops
  // redirecting to it; then every other master, so no stale owner lingers.
  expect_ok(command(to, {"CLUSTER", "SETSLOT", s, "NODE", ids_.at(to)}), "SETSLOT NODE (target)");
  expect_ok(command(from, {"CLUSTER", "SETSLOT", s, "NODE", ids_.at(to)}), "SETSLOT NODE (source)");
  for (std::size_t i = 0; i < size(); ++i) {
    if (i == from || i == to || read_role(*nodes_[i]).role != cluster_role::master) continue;
    expect_ok(command(i, {"CLUSTER", "SETSLOT", s, "NODE", ids_.at(to)}), "SETSLOT NODE");
  }
  const auto complaint = until(timeout, [&] { return owners_agree({slot}, to_port); });
  if (complaint) {
    throw std::runtime_error(
        "redis_cluster: slot " + s + " not agreed on port " + std::to_string(to_port) + " within " +
        std::to_string(timeout.count()) + " ms (last: " + *complaint + "); logs:\n" + logs_tail());
  }
}

void redis_cluster::migrate_slot(int slot, std::uint16_t to_port,
                                 std::chrono::milliseconds timeout) {
  begin_slot_migration(slot, to_port);
  finish_slot_migration(slot, to_port, timeout);
}

}  // namespace rcache::test
