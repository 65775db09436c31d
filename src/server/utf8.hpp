// UTF-8 checks for what the gateway writes into JSON: Boost.JSON copies
// bytes as they are, so text that is not UTF-8 must be caught first.
//
// Threading: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace rcache::server {

[[nodiscard]] bool is_utf8(std::string_view s) noexcept;

/// `s` as UTF-8 text for JSON: unchanged when valid, else each byte that
/// does not start a valid sequence becomes U+FFFD (also a multi-byte
/// character cut by a prefix: utf8_text(s.substr(0, 64))).
[[nodiscard]] std::string utf8_text(std::string_view s);

}  // namespace rcache::server
