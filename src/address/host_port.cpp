// host:port in its forms; see host_port.hpp.
#include "address/host_port.hpp"

#include <charconv>

namespace rcache::detail {
namespace {

host_port_fault bad_host(std::string_view part) {
  return {host_port_fault::part::host, part};
}

}  // namespace

std::optional<std::uint16_t> parse_port(std::string_view text, bool zero) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port > 65535 ||
      (port == 0 && !zero)) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(port);
}

boost::system::result<endpoint, host_port_fault> parse_host_port(std::string_view text,
                                                                 const host_port_form& form) {
  std::string_view host;
  std::optional<std::string_view> port;  // nullopt: the text has none
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad_host(text);
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return bad_host(text.substr(0, close + 1));
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const auto colon = text.rfind(':');
    host = text.substr(0, colon);
    if (colon != std::string_view::npos) port = text.substr(colon + 1);
    if (!form.bare_ipv6 && host.find(':') != std::string_view::npos) {
      return bad_host(host);  // IPv6 needs [...]
    }
  }
  if (host.empty() && !form.empty_host) return bad_host(host);
  const auto p = port ? parse_port(*port, form.port_zero) : form.default_port;
  if (!p) return host_port_fault{host_port_fault::part::port, port.value_or(std::string_view{})};
  endpoint ep;
  ep.host = std::string(host);
  ep.port = *p;
  return ep;
}

std::optional<std::vector<endpoint>> parse_host_list(std::string_view list,
                                                     std::optional<std::uint16_t> default_port,
                                                     std::string_view* bad) {
  const host_port_form form{.default_port = default_port};
  std::vector<endpoint> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    auto ep = parse_host_port(item, form);
    if (!ep) {
      if (bad) *bad = item;
      return std::nullopt;
    }
    out.push_back(std::move(*ep));
  }
  return out;
}

}  // namespace rcache::detail
