// Redis-style glob matching (the KEYS / SCAN MATCH syntax): `*`, `?`,
// `[abc]`, `[^a-z]`, and `\` to escape. Used for per-namespace TTL rules.
//
// Threading: a pure function.
#pragma once

#include <string_view>

namespace rcache::cache_detail {

/// True when `text` matches `pattern` as Redis' stringmatchlen() would.
/// Iterative, with one backtracking point: linear in practice, never
/// exponential, whatever the pattern.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text) noexcept;

}  // namespace rcache::cache_detail
