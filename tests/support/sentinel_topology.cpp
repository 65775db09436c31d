// sentinel_topology: config for the servers and sentinels, start-up with
// port retries, and the polling waits that decide when the topology has
// settled or failed over.
//
// Every wait polls its condition with a short, growing pause between polls
// under one deadline, and asks only processes that can answer (running and
// not SIGSTOPped), each with a short admin timeout, so a dead or paused
// process costs one skipped answer rather than a stalled poll.
//
// Threading: see sentinel_topology.hpp.
#include "sentinel_topology.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

#include "embedded/free_port.hpp"
#include "process_poll.hpp"

namespace rcache::test {
namespace {

using clock = std::chrono::steady_clock;
using embedded::admin_reply;
using embedded::config_quote;
using embedded::redis_process;

const std::string loopback = "127.0.0.1";

// A RESP2 "map" (k0 v0 k1 v1 ...) given as lines: the rendering of one
// element of SENTINEL REPLICAS, or the elements of SENTINEL MASTER.
std::map<std::string, std::string> pairs(const std::vector<std::string>& flat) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

using poll::can_answer;
using poll::info_field;
using poll::lines;
using poll::parse_number;
using poll::parse_port;
using poll::text_or_error;
using poll::until;

}  // namespace

// ---------------------------------------------------------------------------
// Start-up and teardown
// ---------------------------------------------------------------------------

sentinel_topology::sentinel_topology(sentinel_topology_options options)
    : options_(std::move(options)), dir_("sentinel") {
  const auto ports = embedded::free_ports(server_count + sentinel_count).value();
  for (std::size_t i = 0; i < server_count; ++i) {
    servers_[i].emplace(server_process_options(i, ports[i]));
    start_with_retries(servers_[i], false, i);
  }
  for (std::size_t i = 0; i < sentinel_count; ++i) {
    sentinels_[i].emplace(sentinel_process_options(i, ports[server_count + i]));
    start_with_retries(sentinels_[i], true, i);
    apply_sentinel_debug(i);
  }
  wait_until_settled();
}

sentinel_topology::~sentinel_topology() {
  for (auto& s : sentinels_) {
    if (s) s->kill();
  }
  for (auto& s : servers_) {
    if (s) s->kill();
  }
}

embedded::process_options sentinel_topology::server_process_options(std::size_t i,
                                                                    std::uint16_t port) const {
  auto p = poll::replicated_server_options(dir_.path() / ("server-" + std::to_string(i)), port,
                                           options_.server_password);
  auto& c = p.config;
  if (i != 0) {
    c.push_back({"replicaof", loopback + " " + std::to_string(servers_[0]->options().port)});
  }
  c.insert(c.end(), options_.extra_server_config.begin(), options_.extra_server_config.end());
  return p;
}

embedded::process_options sentinel_topology::sentinel_process_options(std::size_t i,
                                                                      std::uint16_t port) const {
  const auto& name = options_.master_name;
  embedded::process_options p;
  p.executable = "redis-sentinel";
  p.config_file = "sentinel.conf";
  p.dir = dir_.path() / ("sentinel-" + std::to_string(i));
  p.port = port;
  p.admin_password = options_.sentinel_password;
  auto& c = p.config;
  c.push_back({"sentinel", "resolve-hostnames no"});
  c.push_back({"sentinel", "announce-hostnames no"});
  c.push_back({"sentinel", "monitor " + name + " " + loopback + " " +
                               std::to_string(servers_[0]->options().port) + " 2"});
  c.push_back({"sentinel", "down-after-milliseconds " + name + " " +
                               std::to_string(options_.down_after.count())});
  c.push_back({"sentinel", "failover-timeout " + name + " " +
                               std::to_string(options_.failover_timeout.count())});
  c.push_back({"sentinel", "parallel-syncs " + name + " 1"});
  if (options_.server_password) {
    c.push_back({"sentinel", "auth-pass " + name + " " + config_quote(*options_.server_password)});
  }
  if (options_.sentinel_password) {
    c.push_back({"requirepass", config_quote(*options_.sentinel_password)});
    c.push_back({"sentinel", "sentinel-pass " + config_quote(*options_.sentinel_password)});
  }
  c.insert(c.end(), options_.extra_sentinel_config.begin(), options_.extra_sentinel_config.end());
  return p;
}

void sentinel_topology::start_with_retries(std::optional<redis_process>& process, bool is_sentinel,
                                           std::size_t i) {
  poll::start_with_port_retries([&] { process->start(); },
                                [&] {
                                  std::set<std::uint16_t> taken;
                                  for (const auto* group : {&servers_, &sentinels_}) {
                                    for (const auto& s : *group) {
                                      if (s) taken.insert(s->options().port);
                                    }
                                  }
                                  const auto port = poll::fresh_port(taken);
                                  process.emplace(is_sentinel ? sentinel_process_options(i, port)
                                                              : server_process_options(i, port));
                                });
}

void sentinel_topology::apply_sentinel_debug(std::size_t i) {
  auto debug = options_.sentinel_debug;
  if (options_.ping_period.count() > 0) {
    debug.insert(debug.begin(), {"ping-period", std::to_string(options_.ping_period.count())});
  }
  for (const auto& [name, value] : debug) {
    const auto reply = sentinel_command(i, {"SENTINEL", "DEBUG", name, value});
    if (reply.is_error) {
      throw std::runtime_error("sentinel_topology: SENTINEL DEBUG " + name + " " + value + ": " +
                               reply.text);
    }
  }
}

void sentinel_topology::set_sentinel_debug(const std::string& name, const std::string& value) {
  options_.sentinel_debug.emplace_back(name, value);
  for (std::size_t i = 0; i < sentinel_count; ++i) {
    if (!sentinels_[i]->running()) continue;
    const auto reply = sentinel_command(i, {"SENTINEL", "DEBUG", name, value});
    if (reply.is_error) {
      throw std::runtime_error("sentinel_topology: SENTINEL DEBUG " + name + " " + value + ": " +
                               reply.text);
    }
  }
}

void sentinel_topology::wait_until_settled() {
  const auto master = std::to_string(server_port(0));
  const auto others = std::to_string(sentinel_count - 1);
  const auto complaint = until(options_.ready_timeout, [&]() -> std::optional<std::string> {
    for (std::size_t i = 1; i < server_count; ++i) {
      const auto info = poll::command(*servers_[i], {"INFO", "replication"});
      if (!info) return "server " + std::to_string(i) + ": " + text_or_error(info);
      if (info_field(info->text, "master_port") != master ||
          info_field(info->text, "master_link_status") != "up") {
        return "server " + std::to_string(i) + " is not linked to the master yet";
      }
    }
    for (std::size_t i = 0; i < sentinel_count; ++i) {
      const auto who = "sentinel " + std::to_string(i) + ": ";
      const auto m = poll::command(*sentinels_[i], {"SENTINEL", "MASTER", master_name()});
      if (!m || m->is_error) return who + text_or_error(m);
      auto fields = pairs(m->elements);
      if (fields["port"] != master || fields["flags"] != "master") {
        return who + "master " + fields["port"] + " flags " + fields["flags"];
      }
      if (fields["num-other-sentinels"] != others) {
        return who + "knows " + fields["num-other-sentinels"] + " other sentinels";
      }
      const auto r = poll::command(*sentinels_[i], {"SENTINEL", "REPLICAS", master_name()});
      if (!r || r->is_error) return who + text_or_error(r);
      if (r->elements.size() != server_count - 1) {
        return who + "knows " + std::to_string(r->elements.size()) + " replicas";
      }
      for (const auto& element : r->elements) {
        auto replica = pairs(lines(element));
        if (replica["flags"] != "slave" || replica["master-link-status"] != "ok") {
          return who + "replica " + replica["name"] + " flags " + replica["flags"] + " link " +
                 replica["master-link-status"];
        }
      }
    }
    return std::nullopt;
  });
  if (complaint) {
    throw std::runtime_error("sentinel_topology: not settled within " +
                             std::to_string(options_.ready_timeout.count()) +
                             " ms (last: " + *complaint + "); logs:\n" + logs_tail());
  }
}

std::string sentinel_topology::logs_tail() const {
  constexpr std::size_t lines_per_process = 15;
  std::string out;
  for (std::size_t i = 0; i < server_count; ++i) {
    out += "--- server " + std::to_string(i) + " (port " + std::to_string(server_port(i)) +
           ") ---\n" + servers_[i]->log_tail(lines_per_process);
  }
  for (std::size_t i = 0; i < sentinel_count; ++i) {
    out += "--- sentinel " + std::to_string(i) + " (port " + std::to_string(sentinel_port(i)) +
           ") ---\n" + sentinels_[i]->log_tail(lines_per_process);
  }
  return out;
}

const std::string& sentinel_topology::host() const noexcept {
  return loopback;
}

// ---------------------------------------------------------------------------
// Sentinels
// ---------------------------------------------------------------------------

std::vector<sentinel_topology::address> sentinel_topology::sentinel_addresses() const {
  std::vector<address> out;
  for (std::size_t i = 0; i < sentinel_count; ++i) out.push_back({loopback, sentinel_port(i)});
  return out;
}

std::string sentinel_topology::sentinel_list() const {
  std::string out;
  for (std::size_t i = 0; i < sentinel_count; ++i) {
    if (i != 0) out += ',';
    out += loopback + ":" + std::to_string(sentinel_port(i));
  }
  return out;
}

std::uint16_t sentinel_topology::sentinel_port(std::size_t i) const {
  return sentinels_.at(i)->options().port;
}

redis_process& sentinel_topology::sentinel(std::size_t i) {
  return *sentinels_.at(i);
}

admin_reply sentinel_topology::sentinel_command(
    std::size_t i, std::initializer_list<std::string_view> args) const {
  return poll::reply_or_throw(sentinels_.at(i)->command(args),
                              "sentinel_topology: sentinel " + std::to_string(i),
                              args.size() ? *args.begin() : "");
}

std::optional<std::uint16_t> sentinel_topology::master_port_from(std::size_t i) const {
  const auto reply =
      poll::command(*sentinels_.at(i), {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_name()});
  if (!reply || reply->is_error || reply->elements.size() != 2) return std::nullopt;
  return parse_port(reply->elements[1]);
}

std::uint16_t sentinel_topology::master_port() const {
  std::set<std::uint16_t> reported;
  for (std::size_t i = 0; i < sentinel_count; ++i) {
    if (const auto port = master_port_from(i)) reported.insert(*port);
  }
  if (reported.size() != 1) {
    throw std::runtime_error("sentinel_topology::master_port: " + std::to_string(reported.size()) +
                             " different masters reported by the sentinels");
  }
  return *reported.begin();
}

std::uint16_t sentinel_topology::wait_for_failover(std::uint16_t old_master_port,
                                                   std::chrono::milliseconds timeout) {
  std::uint16_t found = 0;
  const auto complaint = until(timeout, [&]() -> std::optional<std::string> {
    std::set<std::uint16_t> reported;
    std::size_t answers = 0;
    for (std::size_t i = 0; i < sentinel_count; ++i) {
      if (const auto port = master_port_from(i)) {
        reported.insert(*port);
        ++answers;
      }
    }
    if (answers < 2) return std::to_string(answers) + " sentinels answer, fewer than the quorum";
    if (reported.size() != 1) return "the sentinels disagree on the master";
    const auto port = *reported.begin();
    if (port == old_master_port) return "the sentinels still report the old master";
    std::size_t index = 0;
    try {
      index = server_index(port);
    } catch (const std::out_of_range&) {
      return "the sentinels report port " + std::to_string(port) + ", not one of ours";
    }
    const auto role = poll::command(*servers_[index], {"ROLE"});
    if (!role || role->elements.empty() || role->elements[0] != "master") {
      return "server " + std::to_string(index) + " is reported as master but its ROLE is " +
             text_or_error(role);
    }
    found = port;
    return std::nullopt;
  });
  if (complaint) {
    throw std::runtime_error("sentinel_topology: no failover away from port " +
                             std::to_string(old_master_port) + " within " +
                             std::to_string(timeout.count()) + " ms (last: " + *complaint +
                             "); logs:\n" + logs_tail());
  }
  return found;
}

void sentinel_topology::kill_sentinel(std::size_t i) {
  sentinels_.at(i)->kill();
}

void sentinel_topology::restart_sentinel(std::size_t i) {
  sentinels_.at(i)->restart();
  apply_sentinel_debug(i);
}

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

std::uint16_t sentinel_topology::server_port(std::size_t i) const {
  return servers_.at(i)->options().port;
}

std::size_t sentinel_topology::server_index(std::uint16_t port) const {
  for (std::size_t i = 0; i < server_count; ++i) {
    if (server_port(i) == port) return i;
  }
  throw std::out_of_range("sentinel_topology: no server on port " + std::to_string(port));
}

redis_process& sentinel_topology::server(std::size_t i) {
  return *servers_.at(i);
}

pid_t sentinel_topology::server_pid(std::size_t i) const noexcept {
  return i < server_count ? servers_[i]->pid() : -1;
}

void sentinel_topology::kill_server(std::size_t i) {
  servers_.at(i)->kill();
}

void sentinel_topology::pause_server(std::size_t i) {
  poll::pause_or_throw(*servers_.at(i), "sentinel_topology: server " + std::to_string(i));
}

void sentinel_topology::resume_server(std::size_t i) {
  poll::resume_or_throw(*servers_.at(i), "sentinel_topology: server " + std::to_string(i));
}

void sentinel_topology::restart_server(std::size_t i) {
  servers_.at(i)->restart();
}

admin_reply sentinel_topology::server_command(std::size_t i,
                                              std::initializer_list<std::string_view> args) const {
  return poll::reply_or_throw(servers_.at(i)->command(args),
                              "sentinel_topology: server " + std::to_string(i),
                              args.size() ? *args.begin() : "");
}

void sentinel_topology::wait_for_replication(std::size_t master, std::size_t replicas,
                                             std::chrono::milliseconds timeout) {
  const auto role = server_command(master, {"ROLE"});
  const auto target = role.elements.size() >= 2 && role.elements[0] == "master"
                          ? parse_number(role.elements[1])
                          : std::nullopt;
  if (!target) {
    throw std::runtime_error("sentinel_topology: server " + std::to_string(master) +
                             " is not a master: " + role.text);
  }
  const auto master_port = std::to_string(server_port(master));
  const auto complaint = until(timeout, [&]() -> std::optional<std::string> {
    std::size_t caught_up = 0;
    for (std::size_t i = 0; i < server_count; ++i) {
      if (i == master) continue;
      // ROLE of a replica: slave, master host, master port, link state, offset.
      const auto r = poll::command(*servers_[i], {"ROLE"});
      if (!r || r->elements.size() < 5 || r->elements[0] != "slave" ||
          r->elements[2] != master_port || r->elements[3] != "connected") {
        continue;
      }
      const auto offset = parse_number(r->elements[4]);
      if (offset && *offset >= *target) ++caught_up;
    }
    if (caught_up >= replicas) return std::nullopt;
    return std::to_string(caught_up) + " replicas at offset " + std::to_string(*target);
  });
  if (complaint) {
    throw std::runtime_error("sentinel_topology: replication from server " +
                             std::to_string(master) + " not done within " +
                             std::to_string(timeout.count()) + " ms (last: " + *complaint +
                             "); logs:\n" + logs_tail());
  }
}

void sentinel_topology::wait_until_replica(std::size_t i, std::uint16_t master_port,
                                           std::chrono::milliseconds timeout) {
  const auto master = std::to_string(master_port);
  const auto complaint = until(timeout, [&]() -> std::optional<std::string> {
    const auto info = poll::command(*servers_.at(i), {"INFO", "replication"});
    if (!info) return text_or_error(info);
    const auto role = info_field(info->text, "role");
    if (role != "slave") return "role " + role;
    if (info_field(info->text, "master_port") != master) {
      return "replica of port " + info_field(info->text, "master_port");
    }
    if (info_field(info->text, "master_link_status") != "up") return "link down";
    return std::nullopt;
  });
  if (complaint) {
    throw std::runtime_error("sentinel_topology: server " + std::to_string(i) +
                             " is not a replica of port " + master + " within " +
                             std::to_string(timeout.count()) + " ms (last: " + *complaint +
                             "); logs:\n" + logs_tail());
  }
}

}  // namespace rcache::test
