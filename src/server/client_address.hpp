// Which address a request comes from, for the records that keep it (a
// session's IP): the peer's own address, unless the peer is a trusted
// proxy (server.trusted_proxies), in which case X-Forwarded-For is read from
// the right — each proxy appends the address it got the request from — and
// the first address that is not itself a trusted proxy is the client's.
// Addresses left of it were written by whoever sent the request and prove
// nothing. An X-Forwarded-For from a peer that is not trusted is ignored.
//
// Threading: trusted_proxies is immutable after parse(); pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rcache::server {

class trusted_proxies {
 public:
  /// Parses a comma-separated list of IP addresses and CIDR networks
  /// ("10.0.0.0/8, 127.0.0.1, ::1, fd00::/8"); empty: none trusted. On
  /// failure: why ("'10.0.0.0/33' is not an IP address or CIDR network").
  [[nodiscard]] static std::variant<trusted_proxies, std::string> parse(std::string_view list);

  /// Whether `ip` (v4, v6, or v4-mapped v6) is in one of the networks.
  [[nodiscard]] bool contains(std::string_view ip) const;
  [[nodiscard]] bool empty() const noexcept { return networks_.empty(); }

 private:
  struct network {
    std::array<std::uint8_t, 16> bytes{};  // v4 as v4-mapped v6
    unsigned prefix = 0;                   // of 128
  };
  std::vector<network> networks_;
};

/// The client's address for a request from `peer` carrying `forwarded_for`
/// (X-Forwarded-For lines joined with ','; empty when absent).
[[nodiscard]] std::string client_address(std::string_view peer, std::string_view forwarded_for,
                                         const trusted_proxies& trusted);

}  // namespace rcache::server
