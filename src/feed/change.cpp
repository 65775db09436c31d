// Change records and positions; see change.hpp.
#include "feed/change.hpp"

#include <charconv>

namespace rcache::feed {
namespace {

std::optional<std::uint64_t> parse_u64(std::string_view s) noexcept {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> parse_i64(std::string_view s) noexcept {
  std::int64_t v = 0;
  if (s.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string stream_id::text() const {
  return std::to_string(ms) + "-" + std::to_string(seq);
}

std::optional<stream_id> stream_id::parse(std::string_view s) noexcept {
  const auto dash = s.find('-');
  auto ms = parse_u64(s.substr(0, dash));
  if (!ms) return std::nullopt;
  if (dash == std::string_view::npos) return stream_id{*ms, 0};
  auto seq = parse_u64(s.substr(dash + 1));
  if (!seq) return std::nullopt;
  return stream_id{*ms, *seq};
}

std::string_view op_name(write_event::kind k) noexcept {
  switch (k) {
    case write_event::kind::set:
      return "set";
    case write_event::kind::del:
      return "del";
    case write_event::kind::expire:
      return "expire";
    case write_event::kind::touch:
      return "touch";
    case write_event::kind::invalidate:
      return "invalidate";
    case write_event::kind::invalidate_tag:
      return "invalidate_tag";
    case write_event::kind::geo_add:
      return "geo_add";
    case write_event::kind::geo_move:
      return "geo_move";
    case write_event::kind::geo_remove:
      return "geo_remove";
  }
  return "set";
}

std::optional<write_event::kind> op_of(std::string_view name) noexcept {
  for (auto k :
       {write_event::kind::set, write_event::kind::del, write_event::kind::expire,
        write_event::kind::touch, write_event::kind::invalidate, write_event::kind::invalidate_tag,
        write_event::kind::geo_add, write_event::kind::geo_move, write_event::kind::geo_remove}) {
    if (op_name(k) == name) return k;
  }
  return std::nullopt;
}

bool carries_value(write_event::kind k) noexcept {
  return k == write_event::kind::set || k == write_event::kind::geo_add ||
         k == write_event::kind::geo_move;
}

std::vector<std::string> stream_fields(const write_event& e, std::size_t value_max_bytes) {
  std::vector<std::string> f{
      "ns",  std::string(e.ns),       "key", std::string(e.key), "op", std::string(op_name(e.what)),
      "ttl", std::to_string(e.ttl_ms)};
  if (carries_value(e.what)) {
    f.emplace_back("size");
    f.push_back(std::to_string(e.value.size()));
    if (value_max_bytes > 0 && e.value.size() <= value_max_bytes) {
      f.emplace_back("value");
      f.emplace_back(e.value);
    }
  }
  return f;
}

std::optional<change> change_of(const std::vector<std::pair<std::string, std::string>>& fields) {
  change c;
  bool ns = false;
  bool key = false;
  bool op = false;
  for (const auto& [name, v] : fields) {
    if (name == "ns") {
      c.ns = v;
      ns = true;
    } else if (name == "key") {
      c.key = v;
      key = true;
    } else if (name == "op") {
      auto k = op_of(v);
      if (!k) return std::nullopt;
      c.op = *k;
      op = true;
    } else if (name == "ttl") {
      auto t = parse_i64(v);
      if (!t) return std::nullopt;
      c.ttl_ms = *t;
    } else if (name == "size") {
      auto n = parse_u64(v);
      if (!n) return std::nullopt;
      c.size = *n;
    } else if (name == "value") {
      c.value = v;
    }
  }
  if (!ns || !key || !op) return std::nullopt;
  return c;
}

std::string position::offset() const {
  return std::to_string(shard) + ":" + id.text();
}

std::optional<position> position::parse(std::string_view epoch, std::string_view offset) noexcept {
  const auto colon = offset.find(':');
  if (colon == std::string_view::npos || epoch.empty() || epoch.size() > 64) return std::nullopt;
  auto shard = parse_u64(offset.substr(0, colon));
  auto id = stream_id::parse(offset.substr(colon + 1));
  if (!shard || !id || *shard > 1023) return std::nullopt;
  return position{static_cast<unsigned>(*shard), std::string(epoch), *id};
}

bool resumable(stream_id at, std::optional<stream_id> first, stream_id last,
               bool complete) noexcept {
  if (complete || at >= last) return true;   // nothing removed, or nothing after it added
  return first.has_value() && *first <= at;  // it is still in the stream: so is all after it
}

}  // namespace rcache::feed
