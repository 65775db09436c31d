// The rules for what a session may hold — user ids and data fields — in
// one place: the session store enforces them (error codes) and the gateway
// checks them first (HTTP answers with a message), without I/O or Asio.
//
// Threading: pure functions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rcache::session_detail {

enum class user_id_problem : std::uint8_t { none, empty, too_long, control_character };

/// A user id is 1..max_length bytes without control characters (they would
/// end up in logs and keys).
[[nodiscard]] inline user_id_problem check_user_id(std::string_view user,
                                                   std::size_t max_length) noexcept {
  if (user.empty()) return user_id_problem::empty;
  if (user.size() > max_length) return user_id_problem::too_long;
  const bool control =
      std::any_of(user.begin(), user.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
  return control ? user_id_problem::control_character : user_id_problem::none;
}

enum class field_problem : std::uint8_t { none, empty_name, name_too_long, value_too_long };

/// A data field has a name of 1..max_name bytes and a value of at most
/// max_value bytes.
[[nodiscard]] inline field_problem check_field(std::string_view name, std::string_view value,
                                               std::size_t max_name,
                                               std::size_t max_value) noexcept {
  if (name.empty()) return field_problem::empty_name;
  if (name.size() > max_name) return field_problem::name_too_long;
  if (value.size() > max_value) return field_problem::value_too_long;
  return field_problem::none;
}

}  // namespace rcache::session_detail
