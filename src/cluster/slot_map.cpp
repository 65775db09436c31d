// Hash slots, slot maps and redirections of Redis Cluster; see slot_map.hpp.
#include "cluster/slot_map.hpp"

#include <charconv>

#include "address/host_port.hpp"

namespace rcache::cluster {
namespace {

constexpr std::array<std::uint16_t, 256> make_crc_table() {
  std::array<std::uint16_t, 256> t{};
  for (unsigned i = 0; i < 256; ++i) {
    std::uint16_t crc = static_cast<std::uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) {
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    t[i] = crc;
  }
  return t;
}
constexpr auto crc_table = make_crc_table();

result<std::uint16_t> to_slot(const value& v) {
  if (v.type != resp_type::integer || v.integer < 0 || v.integer >= slot_count) {
    return make_error_code(error::unexpected_reply);
  }
  return static_cast<std::uint16_t>(v.integer);
}

result<std::uint16_t> to_port(const value& v) {
  std::int64_t p = v.integer;
  if (v.is_string()) {
    auto [end, ec] = std::from_chars(v.str.data(), v.str.data() + v.str.size(), p);
    if (ec != std::errc() || end != v.str.data() + v.str.size()) p = -1;
  } else if (v.type != resp_type::integer) {
    p = -1;
  }
  if (p <= 0 || p > 65535) return make_error_code(error::unexpected_reply);
  return static_cast<std::uint16_t>(p);
}

// The value of `key` in a RESP3 map or a RESP2 flat k, v, ... array.
const value* field(const value& map, std::string_view key) {
  for (std::size_t i = 0; i + 1 < map.elements.size(); i += 2) {
    if (map.elements[i].str == key) return &map.elements[i + 1];
  }
  return nullptr;
}

result<node> shard_node(const value& v) {
  if (!v.is_aggregate()) return make_error_code(error::unexpected_reply);
  node n;
  const value* ip = field(v, "ip");
  if (!ip || ip->str.empty()) ip = field(v, "endpoint");
  const value* port = field(v, "port");
  if (!port) port = field(v, "tls-port");
  if (!ip || !port) return make_error_code(error::unexpected_reply);
  auto p = to_port(*port);
  if (!p) return p.error();
  n.host = ip->str;
  n.port = *p;
  if (const auto* id = field(v, "id")) n.id = id->str;
  if (const auto* role = field(v, "role")) n.master = role->str == "master";
  if (const auto* health = field(v, "health")) n.healthy = health->str == "online";
  return n;
}

result<node> slots_node(const value& v, bool master) {
  if (v.elements.size() < 2 || !v.elements[0].is_string()) {
    return make_error_code(error::unexpected_reply);
  }
  auto p = to_port(v.elements[1]);
  if (!p) return p.error();
  node n;
  n.host = v.elements[0].str;
  n.port = *p;
  if (v.elements.size() > 2 && v.elements[2].is_string()) n.id = v.elements[2].str;
  n.master = master;
  return n;
}

}  // namespace

std::uint16_t crc16(std::string_view data) noexcept {
  std::uint16_t crc = 0;
  for (unsigned char c : data) {
    crc = static_cast<std::uint16_t>((crc << 8) ^ crc_table[((crc >> 8) ^ c) & 0xFF]);
  }
  return crc;
}

std::uint16_t key_slot(std::string_view key) noexcept {
  const auto open = key.find('{');
  if (open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return static_cast<std::uint16_t>(crc16(key) & (slot_count - 1));
}

const shard* slot_map::shard_for(std::uint16_t slot) const noexcept {
  if (slot >= slot_count || owner_[slot] == none) return nullptr;
  return &shards_[owner_[slot]];
}

const node* slot_map::master_for(std::uint16_t slot) const noexcept {
  const auto* s = shard_for(slot);
  return s ? &s->master : nullptr;
}

std::size_t slot_map::unassigned() const noexcept {
  std::size_t n = 0;
  for (auto o : owner_) n += o == none;
  return n;
}

void slot_map::add(shard s) {
  const auto index = static_cast<std::uint16_t>(shards_.size());
  for (const auto& [first, last] : s.ranges) {
    for (unsigned slot = first; slot <= last && slot < slot_count; ++slot) owner_[slot] = index;
  }
  shards_.push_back(std::move(s));
}

result<slot_map> parse_cluster_shards(const value& reply) {
  if (reply.type != resp_type::array) return make_error_code(error::unexpected_reply);
  slot_map map;
  for (const auto& entry : reply.elements) {
    if (!entry.is_aggregate()) return make_error_code(error::unexpected_reply);
    const value* slots = field(entry, "slots");
    const value* nodes = field(entry, "nodes");
    if (!slots || !nodes || slots->elements.size() % 2 != 0) {
      return make_error_code(error::unexpected_reply);
    }
    shard s;
    for (std::size_t i = 0; i < slots->elements.size(); i += 2) {
      auto first = to_slot(slots->elements[i]);
      auto last = to_slot(slots->elements[i + 1]);
      if (!first || !last || *first > *last) return make_error_code(error::unexpected_reply);
      s.ranges.emplace_back(*first, *last);
    }
    bool has_master = false;
    for (const auto& nv : nodes->elements) {
      auto n = shard_node(nv);
      if (!n) return n.error();
      if (n->master && !has_master) {
        s.master = std::move(*n);
        has_master = true;
      } else {
        s.replicas.push_back(std::move(*n));
      }
    }
    if (s.ranges.empty()) continue;  // a master without slots serves nothing
    if (!has_master) return make_error_code(error::unexpected_reply);
    map.add(std::move(s));
  }
  return map;
}

result<slot_map> parse_cluster_slots(const value& reply) {
  if (reply.type != resp_type::array) return make_error_code(error::unexpected_reply);
  slot_map map;
  for (const auto& entry : reply.elements) {
    if (entry.type != resp_type::array || entry.elements.size() < 3) {
      return make_error_code(error::unexpected_reply);
    }
    auto first = to_slot(entry.elements[0]);
    auto last = to_slot(entry.elements[1]);
    if (!first || !last || *first > *last) return make_error_code(error::unexpected_reply);
    shard s;
    s.ranges.emplace_back(*first, *last);
    auto master = slots_node(entry.elements[2], true);
    if (!master) return master.error();
    s.master = std::move(*master);
    for (std::size_t i = 3; i < entry.elements.size(); ++i) {
      auto replica = slots_node(entry.elements[i], false);
      if (!replica) return replica.error();
      s.replicas.push_back(std::move(*replica));
    }
    map.add(std::move(s));
  }
  return map;
}

std::optional<redirect> parse_redirect(std::string_view text) {
  redirect r;
  if (text.starts_with("MOVED ")) {
    r.type = redirect::kind::moved;
    text.remove_prefix(6);
  } else if (text.starts_with("ASK ")) {
    r.type = redirect::kind::ask;
    text.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto slot_text = text.substr(0, space);
  unsigned slot = 0;
  auto [send, sec] = std::from_chars(slot_text.data(), slot_text.data() + slot_text.size(), slot);
  if (sec != std::errc() || send != slot_text.data() + slot_text.size() || slot >= slot_count) {
    return std::nullopt;
  }
  r.slot = static_cast<std::uint16_t>(slot);
  // An empty or "?" host: the node that answered (its address unknown to
  // itself).
  auto ep =
      detail::parse_host_port(text.substr(space + 1), {.bare_ipv6 = true, .empty_host = true});
  if (!ep) return std::nullopt;
  r.host = ep->host == "?" ? std::string() : std::move(ep->host);
  r.port = ep->port;
  return r;
}

}  // namespace rcache::cluster
