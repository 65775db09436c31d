// Reading the session scripts' replies and the event streams into the
// public types: pure functions over rcache::value, unit-tested without a
// server.
//
// A session hash holds the metadata fields user, device_id, user_agent, ip,
// created, last_seen, idle_ms, expires_abs (ms since the epoch), version,
// and each data field as "data:<name>" (so no data name can clash with
// metadata). docs/sessions.md shows the layout.
//
// Threading: pure functions.
#pragma once

#include <rcache/session.hpp>
#include <rcache/value.hpp>

#include <optional>
#include <string>
#include <vector>

namespace rcache::session_detail {

inline constexpr std::string_view data_prefix = "data:";

/// The session in a hash's field list (HGETALL order), under `id`; nullopt
/// when the list is not a session (a missing metadata field, a bad number).
[[nodiscard]] std::optional<session> session_from_fields(std::string id, const value& flat);

/// The sessions of list_script's reply (without data), the most recently
/// seen first; entries that do not parse are skipped.
[[nodiscard]] std::vector<session> sessions_from_list(std::string_view user, const value& rows);

/// The event of one stream entry ([id, [field, value, ...]]); nullopt for
/// an entry that is not a session event.
[[nodiscard]] std::optional<session_event> event_from_entry(const value& entry);

/// "created" -> kind::created, ...; nullopt for anything else.
[[nodiscard]] std::optional<session_event::kind> event_kind_of(std::string_view text) noexcept;

}  // namespace rcache::session_detail
