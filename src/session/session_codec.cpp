// Session hashes, list rows and stream entries into the public types.
#include "session/session_codec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

namespace rcache::session_detail {
namespace {

constexpr std::array<std::string_view, 6> kind_names{"created",   "rotated", "touched",
                                                     "destroyed", "expired", "evicted"};

bool is_text(const value& v) noexcept {
  return v.type == resp_type::bulk_string || v.type == resp_type::simple_string ||
         v.type == resp_type::verbatim_string;
}

template <class T>
std::optional<T> number(const value& v) noexcept {
  if (v.type == resp_type::integer) return static_cast<T>(v.integer);
  if (!is_text(v)) return std::nullopt;
  T out{};
  const auto* end = v.str.data() + v.str.size();
  const auto [p, ec] = std::from_chars(v.str.data(), end, out);
  if (ec != std::errc{} || p != end) return std::nullopt;
  return out;
}

session_time at_ms(std::int64_t ms) {
  return session_time(std::chrono::milliseconds(ms));
}

// The expiries of a session from its stored times (the sum saturates:
// stored numbers are not trusted to be in range).
void set_expiries(session& s, std::int64_t idle_ms, std::int64_t abs_ms) {
  s.absolute_expiry = at_ms(abs_ms);
  std::int64_t idle_end = 0;
  if (__builtin_add_overflow(s.last_seen.time_since_epoch().count(), idle_ms, &idle_end)) {
    idle_end = idle_ms > 0 ? std::numeric_limits<std::int64_t>::max()
                           : std::numeric_limits<std::int64_t>::min();
  }
  s.expires = std::min(at_ms(idle_end), s.absolute_expiry);
}

}  // namespace

std::optional<session> session_from_fields(std::string id, const value& flat) {
  if (!flat.is_aggregate() || flat.elements.size() % 2 != 0) return std::nullopt;
  session s;
  s.id = std::move(id);
  std::optional<std::int64_t> created, last_seen, idle, abs;
  std::optional<std::uint64_t> version;
  bool has_user = false;
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    const auto& name = flat.elements[i];
    const auto& v = flat.elements[i + 1];
    if (!is_text(name)) return std::nullopt;
    const std::string_view n = name.str;
    if (n.starts_with(data_prefix)) {
      s.data.emplace(n.substr(data_prefix.size()), v.str);
    } else if (n == "user") {
      s.user = v.str;
      has_user = true;
    } else if (n == "device_id") {
      s.device.id = v.str;
    } else if (n == "user_agent") {
      s.device.user_agent = v.str;
    } else if (n == "ip") {
      s.device.ip = v.str;
    } else if (n == "created") {
      created = number<std::int64_t>(v);
    } else if (n == "last_seen") {
      last_seen = number<std::int64_t>(v);
    } else if (n == "idle_ms") {
      idle = number<std::int64_t>(v);
    } else if (n == "expires_abs") {
      abs = number<std::int64_t>(v);
    } else if (n == "version") {
      version = number<std::uint64_t>(v);
    }
  }
  if (!has_user || !created || !last_seen || !idle || !abs || !version) return std::nullopt;
  s.created = at_ms(*created);
  s.last_seen = at_ms(*last_seen);
  s.version = *version;
  set_expiries(s, *idle, *abs);
  return s;
}

std::vector<session> sessions_from_list(std::string_view user, const value& rows) {
  std::vector<session> out;
  if (!rows.is_aggregate()) return out;
  out.reserve(rows.elements.size());
  for (const auto& row : rows.elements) {
    if (!row.is_aggregate() || row.elements.size() != 9) continue;
    const auto& e = row.elements;
    const auto created = number<std::int64_t>(e[4]);
    const auto last_seen = number<std::int64_t>(e[5]);
    const auto idle = number<std::int64_t>(e[6]);
    const auto abs = number<std::int64_t>(e[7]);
    const auto version = number<std::uint64_t>(e[8]);
    if (!created || !last_seen || !idle || !abs || !version) continue;
    session s;
    s.id = e[0].str;
    s.user = std::string(user);
    s.device = {e[1].str, e[2].str, e[3].str};
    s.created = at_ms(*created);
    s.last_seen = at_ms(*last_seen);
    s.version = *version;
    set_expiries(s, *idle, *abs);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const session& a, const session& b) {
    return a.last_seen != b.last_seen ? a.last_seen > b.last_seen : a.id < b.id;
  });
  return out;
}

std::optional<session_event::kind> event_kind_of(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kind_names.size(); ++i) {
    if (kind_names[i] == text) return static_cast<session_event::kind>(i);
  }
  return std::nullopt;
}

std::optional<session_event> event_from_entry(const value& entry) {
  if (!entry.is_aggregate() || entry.elements.size() != 2) return std::nullopt;
  const auto& fields = entry.elements[1];
  if (!is_text(entry.elements[0]) || !fields.is_aggregate()) return std::nullopt;
  session_event ev;
  ev.stream_id = entry.elements[0].str;
  std::optional<session_event::kind> kind;
  std::optional<std::int64_t> at;
  for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    const std::string_view n = fields.elements[i].str;
    const auto& v = fields.elements[i + 1];
    if (n == "kind") {
      kind = event_kind_of(v.str);
    } else if (n == "id") {
      ev.id = v.str;
    } else if (n == "user") {
      ev.user = v.str;
    } else if (n == "at") {
      at = number<std::int64_t>(v);
    } else if (n == "from") {
      ev.from = v.str;
    }
  }
  if (!kind || !at || ev.id.empty()) return std::nullopt;
  ev.what = *kind;
  ev.at = at_ms(*at);
  return ev;
}

}  // namespace rcache::session_detail

namespace rcache {

std::string_view to_string(session_event::kind k) noexcept {
  const auto i = static_cast<std::size_t>(k);
  return i < session_detail::kind_names.size() ? session_detail::kind_names[i] : "unknown";
}

}  // namespace rcache
