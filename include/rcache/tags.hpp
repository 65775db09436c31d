// The rules for tag names (cache tags, docs/tags.md), in one place for the
// cache and for every edge that takes tags from outside (the gateway's
// query strings and JSON bodies).
//
// Threading: constant data and pure functions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace rcache {

/// At most this many tags per entry (set_options::tags) or per
/// invalidate_tags call.
inline constexpr std::size_t max_tags = 32;
/// A tag name's length in bytes, at most.
inline constexpr std::size_t max_tag_size = 128;

/// Tag names: 1..max_tag_size bytes of letters, digits and `_ - . : / @ =`
/// (they become parts of Redis keys and of URLs).
[[nodiscard]] constexpr bool valid_tag(std::string_view tag) noexcept {
  if (tag.empty() || tag.size() > max_tag_size) return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_-.:/@=").find(c) != std::string_view::npos;
  });
}

}  // namespace rcache
