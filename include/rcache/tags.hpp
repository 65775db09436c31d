// The rules for tag names (cache tags, docs/tags.md), in one place for the
// cache and for every edge that takes tags from outside (the gateway's
// query strings and JSON bodies).
//
// Threading: constant data and pure functions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace rcache {

/// At most this many tags per entry (set_options::tags) or per
/// invalidate_tags call.
inline constexpr std::size_t max_tags = 32;
/// A tag name's length in bytes, at most.
inline constexpr std::size_t max_tag_size = 128;

/// Tag names: 1..max_tag_size bytes of letters, digits and `_ - . : / @ = { }`
/// (they become parts of Redis keys and of URLs). A name holding a hash tag
/// (`{...}`) puts its version key in that hash tag's slot, as a Redis key's
/// would be; the geo index (rcache/geo.hpp) keeps cells beside their set so.
[[nodiscard]] constexpr bool valid_tag(std::string_view tag) noexcept {
  if (tag.empty() || tag.size() > max_tag_size) return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_-.:/@={}").find(c) != std::string_view::npos;
  });
}

/// The Redis key holding the version of `tag` in namespace `ns`:
/// "rcache:tag:<ns>/<tag>". Namespace names cannot hold '/', so no two
/// (ns, tag) pairs share a key; tags without a hash tag spread over a
/// cluster's slots, a tag "{s}..." has the slot of "{s}".
[[nodiscard]] inline std::string tag_version_key(std::string_view ns, std::string_view tag) {
  std::string k;
  k.reserve(11 + ns.size() + 1 + tag.size());
  k.append("rcache:tag:").append(ns).append("/").append(tag);
  return k;
}

}  // namespace rcache
