// Tag names, keys, versions and the tag section (tags.hpp).
#include "cache/tags.hpp"

#include <algorithm>
#include <charconv>
#include <random>

namespace rcache::cache_detail {

result<std::vector<std::string>> normalize_tags(std::vector<std::string> tags) {
  if (!std::all_of(tags.begin(), tags.end(), [](const std::string& t) { return valid_tag(t); })) {
    return make_error_code(error::invalid_argument);
  }
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  if (tags.size() > max_tags) return make_error_code(error::invalid_argument);
  return tags;
}

std::optional<std::uint64_t> parse_version(std::string_view text) noexcept {
  if (text.empty() || text.size() > 20 || text.front() == '-' || text.front() == '+') {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc{} || p != end) return std::nullopt;
  return v;
}

std::uint64_t initial_version() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_int_distribution<std::uint64_t>(1, (std::uint64_t{1} << 62) - 1)(rng);
}

std::string wrap(std::span<const tag_version> tags, std::string_view value) {
  std::string out;
  std::size_t size = 1 + value.size();
  for (const auto& t : tags) size += 1 + t.tag.size() + 8;
  out.reserve(size);
  out.push_back(static_cast<char>(tags.size()));
  for (const auto& t : tags) {
    out.push_back(static_cast<char>(t.tag.size()));
    out.append(t.tag);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((t.version >> shift) & 0xFF));
    }
  }
  out.append(value);
  return out;
}

result<unwrapped> unwrap(std::string_view plain) {
  const auto corrupt = make_error_code(error::value_corrupt);
  if (plain.empty()) return corrupt;
  const std::size_t count = static_cast<unsigned char>(plain[0]);
  if (count == 0 || count > max_tags) return corrupt;
  unwrapped u;
  u.tags.reserve(count);
  std::size_t at = 1;
  for (std::size_t i = 0; i < count; ++i) {
    if (at >= plain.size()) return corrupt;
    const std::size_t len = static_cast<unsigned char>(plain[at++]);
    if (len == 0 || len > max_tag_size || plain.size() - at < len + 8) return corrupt;
    tag_version t{std::string(plain.substr(at, len)), 0};
    at += len;
    for (int b = 0; b < 8; ++b)
      t.version = (t.version << 8) | static_cast<unsigned char>(plain[at++]);
    u.tags.push_back(std::move(t));
  }
  u.value.assign(plain.substr(at));
  return u;
}

bool versions_hold(std::span<const tag_version> recorded,
                   std::span<const std::optional<std::uint64_t>> current) noexcept {
  if (recorded.size() != current.size()) return false;
  for (std::size_t i = 0; i < recorded.size(); ++i) {
    if (!current[i] || *current[i] != recorded[i].version) return false;
  }
  return true;
}

}  // namespace rcache::cache_detail
