// Network partitions for fault tests: the test moves itself into a private
// network namespace (loopback only), where nftables rules touch nobody else
// on the machine, and cuts servers off by dropping every TCP packet to or
// from their listening ports.
//
//   if (auto why = rcache::test::enter_private_network(); !why.empty()) FAIL() << why;
//   rcache::test::sentinel_topology t;          // its processes inherit the namespace
//   rcache::test::network_partition cut;
//   cut.isolate({t.master_port()});              // clients, replicas, sentinels lose it
//   cut.isolate({c.port(i), c.bus_port(i)}, {c.source_address(i)});  // a cluster node
//   ...
//   cut.heal();
//
// What a cut does: connections to the ports (clients, replicas, sentinels,
// cluster-bus peers connecting in) lose every packet, both ways; established
// ones hang rather than reset, as in a real partition. Connections the
// server opens itself (a cluster node's outbound bus links, a replica's link
// to its master) come from ephemeral ports: they are cut only when the
// server binds them to an address of its own (bind-source-addr), given as
// `addresses` — the cluster fixture does that for every node.
//
// Needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_ADMIN for nft) and
// the nft and ip programs (nftables, iproute2; scripts/install-deps.sh).
//
// Threading: enter_private_network() moves the calling thread (and what it
// starts afterwards: threads, child processes); call it first in the test,
// before any fixture starts a process or a thread. network_partition is
// driven from that thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rcache::test {

/// unshare(CLONE_NEWNET) + `ip link set lo up`. Returns "" on success, else
/// why it could not (not root, no ip / nft), for the test's failure message.
[[nodiscard]] std::string enter_private_network();

class network_partition {
 public:
  /// Creates an empty nftables table of its own in the current namespace.
  /// Throws std::runtime_error with nft's output when nft fails.
  network_partition();
  /// Heals (deletes the table).
  ~network_partition();
  network_partition(const network_partition&) = delete;
  network_partition& operator=(const network_partition&) = delete;

  /// Drops every TCP packet to or from these ports, and every packet from
  /// or to these addresses (127.0.0.x source addresses), from now on.
  void isolate(const std::vector<std::uint16_t>& ports,
               const std::vector<std::string>& addresses = {});
  /// Removes every rule: traffic flows again.
  void heal();

 private:
  void nft(const std::vector<std::string>& args) const;
  std::string table_;
};

}  // namespace rcache::test
