// Redis-style glob matching; see glob.hpp.
#include "cache/glob.hpp"

#include <cstddef>
#include <utility>

namespace rcache::cache_detail {
namespace {

// Matches one character class starting at pattern[p] == '['. Returns the
// index just past the closing ']' and whether `c` is in the class; an
// unterminated class runs to the end of the pattern, as in Redis.
std::size_t match_class(std::string_view pattern, std::size_t p, char c, bool& matched) {
  ++p;  // past '['
  bool negate = false;
  if (p < pattern.size() && pattern[p] == '^') {
    negate = true;
    ++p;
  }
  matched = false;
  while (p < pattern.size() && pattern[p] != ']') {
    if (pattern[p] == '\\' && p + 1 < pattern.size()) {
      ++p;
      if (pattern[p] == c) matched = true;
      ++p;
    } else if (p + 2 < pattern.size() && pattern[p + 1] == '-' && pattern[p + 2] != ']') {
      char lo = pattern[p], hi = pattern[p + 2];
      if (lo > hi) std::swap(lo, hi);
      if (c >= lo && c <= hi) matched = true;
      p += 3;
    } else {
      if (pattern[p] == c) matched = true;
      ++p;
    }
  }
  if (p < pattern.size()) ++p;  // past ']'
  if (negate) matched = !matched;
  return p;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0;
  std::size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') ++p;  // collapse runs
        if (p == pattern.size()) return true;
        star_p = p;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        bool in = false;
        const std::size_t next = match_class(pattern, p, text[t], in);
        if (in) {
          p = next;
          ++t;
          continue;
        }
      } else {
        const bool escaped = pc == '\\' && p + 1 < pattern.size();
        const char want = escaped ? pattern[p + 1] : pc;
        if (want == text[t]) {
          p += escaped ? 2 : 1;
          ++t;
          continue;
        }
      }
    }
    // Mismatch: let the last `*` swallow one more character, if there was one.
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace rcache::cache_detail
