// Network partitions with nftables in a private network namespace; see
// network_partition.hpp.
#include "network_partition.hpp"

#include <cerrno>
#include <cstring>
#include <sched.h>
#include <stdexcept>
#include <type_traits>
#include <unistd.h>

#include "run_program.hpp"

namespace rcache::test {

std::string enter_private_network() {
  if (::geteuid() != 0) return "network partitions need root (a private network namespace)";
  if (::unshare(CLONE_NEWNET) != 0) {
    return std::string("unshare(CLONE_NEWNET) failed: ") + std::strerror(errno);
  }
  try {
    auto up = run_program({"ip", "link", "set", "lo", "up"});
    if (up.exit_code != 0) return "ip link set lo up failed: " + up.output;
    auto nft = run_program({"nft", "--version"});
    if (nft.exit_code != 0) return "nft does not run: " + nft.output;
  } catch (const std::exception& e) {
    return std::string(e.what()) + " (scripts/install-deps.sh installs iproute2 and nftables)";
  }
  return {};
}

network_partition::network_partition() : table_("rcache_partition") {
  nft({"add", "table", "inet", table_});
  // Loopback traffic passes the output hook once per packet, in both
  // directions of a connection: one chain sees it all.
  nft({"add", "chain", "inet", table_, "out",
       "{ type filter hook output priority 0 ; policy accept ; }"});
}

network_partition::~network_partition() {
  try {
    nft({"delete", "table", "inet", table_});
  } catch (...) {  // a destructor must not throw; the namespace dies with the test anyway
  }
}

void network_partition::isolate(const std::vector<std::uint16_t>& ports,
                                const std::vector<std::string>& addresses) {
  auto set_of = [](const auto& items) {
    std::string set = "{ ";
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) set += ", ";
      if constexpr (std::is_integral_v<std::decay_t<decltype(items[i])>>) {
        set += std::to_string(items[i]);
      } else {
        set += items[i];
      }
    }
    return set + " }";
  };
  if (!ports.empty()) {
    nft({"add", "rule", "inet", table_, "out", "tcp", "dport", set_of(ports), "drop"});
    nft({"add", "rule", "inet", table_, "out", "tcp", "sport", set_of(ports), "drop"});
  }
  if (!addresses.empty()) {
    nft({"add", "rule", "inet", table_, "out", "ip", "saddr", set_of(addresses), "drop"});
    nft({"add", "rule", "inet", table_, "out", "ip", "daddr", set_of(addresses), "drop"});
  }
}

void network_partition::heal() {
  nft({"flush", "chain", "inet", table_, "out"});
}

void network_partition::nft(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"nft"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_program(argv);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error("network_partition: " + cmd + "failed: " + r.output);
  }
}

}  // namespace rcache::test
