// Trusted proxies and X-Forwarded-For; see client_address.hpp.
#include "server/client_address.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>

namespace rcache::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// An address as 16 bytes (v4 mapped into v6) and whether it was v4.
std::optional<std::pair<std::array<std::uint8_t, 16>, bool>> address_bytes(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  std::array<std::uint8_t, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return std::pair{out, true};
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return std::pair{out, false};
  }
  return std::nullopt;
}

bool within(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& net,
            unsigned prefix) {
  for (unsigned i = 0; i < 16 && prefix > 0; ++i) {
    const unsigned bits = prefix >= 8 ? 8 : prefix;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (net[i] & mask)) return false;
    prefix -= bits;
  }
  return true;
}

}  // namespace

std::variant<trusted_proxies, std::string> trusted_proxies::parse(std::string_view list) {
  trusted_proxies t;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (item.empty()) continue;
    const auto slash = item.find('/');
    const auto addr = address_bytes(item.substr(0, slash));
    const auto bad = "'" + std::string(item) + "' is not an IP address or CIDR network";
    if (!addr) return bad;
    network n{addr->first, 128};
    if (slash != std::string_view::npos) {
      const auto bits = item.substr(slash + 1);
      unsigned p = 0;
      const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), p);
      if (ec != std::errc{} || end != bits.data() + bits.size() ||
          p > (addr->second ? 32u : 128u)) {
        return bad;
      }
      n.prefix = addr->second ? 96 + p : p;
    }
    t.networks_.push_back(n);
  }
  return t;
}

bool trusted_proxies::contains(std::string_view ip) const {
  const auto a = address_bytes(ip);
  if (!a) return false;
  for (const auto& n : networks_) {
    if (within(a->first, n.bytes, n.prefix)) return true;
  }
  return false;
}

std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const trusted_proxies& trusted) {
  if (forwarded_for.empty() || !trusted.contains(peer)) return std::string(peer);
  // From the right: the nearest hop first.
  while (!forwarded_for.empty()) {
    const auto comma = forwarded_for.rfind(',');
    const auto hop =
        trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
    forwarded_for =
        comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
    if (!address_bytes(hop)) return std::string(peer);  // garbage: trust nothing left of it
    if (!trusted.contains(hop)) return std::string(hop);
  }
  return std::string(peer);  // every hop is one of our proxies: none names a client
}

}  // namespace rcache::server
