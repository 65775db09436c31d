// The key ring: storage of AES-256 keys by id and the parser of its
// configuration form. See key_ring.hpp for the contract.
//
// Threading: as key_ring.hpp says; nothing here has shared state.
#include "codec/key_ring.hpp"

#include <algorithm>
#include <charconv>
#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace rcache::codec {
namespace {

using key_bytes = std::array<std::uint8_t, key_ring::key_size>;

// 4 * ceil(32 / 3): 43 data characters and one '='.
constexpr std::size_t base64_key_chars = 44;

[[nodiscard]] std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A decimal u32 with nothing else around it (no sign, no blanks, no "0x").
[[nodiscard]] std::optional<std::uint32_t> parse_id(std::string_view s) noexcept {
  if (s.empty() || s.size() > 10) return std::nullopt;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Wipes a buffer that held key material when it goes out of scope.
template <class Buffer>
struct wipe_on_exit {
  Buffer& b;
  ~wipe_on_exit() { OPENSSL_cleanse(b.data(), b.size()); }
};
// clang 14 has no class template argument deduction for aggregates yet.
template <class Buffer>
wipe_on_exit(Buffer&) -> wipe_on_exit<Buffer>;

// Decodes one key from canonical standard base64. EVP_DecodeBlock alone is
// too lenient for a secret's configuration: it skips surrounding
// whitespace, decodes '=' anywhere as zero bits and counts padding as
// output bytes. So the input must be exactly 44 characters (the one '='
// may be omitted) and must re-encode to itself, which rejects padding in
// the middle, stray characters and non-zero spare bits alike. Every buffer
// that held key material is wiped before returning.
[[nodiscard]] bool decode_key(std::string_view text, key_bytes& out) noexcept {
  std::array<unsigned char, base64_key_chars> in{};
  wipe_on_exit wipe_in{in};
  if (text.size() == base64_key_chars - 1) {
    std::copy(text.begin(), text.end(), in.begin());
    in.back() = '=';
  } else if (text.size() == base64_key_chars) {
    std::copy(text.begin(), text.end(), in.begin());
  } else {
    return false;
  }

  // EVP_DecodeBlock writes 3 bytes per 4 characters, padding included.
  std::array<unsigned char, base64_key_chars / 4 * 3> decoded{};
  wipe_on_exit wipe_decoded{decoded};
  const int n = EVP_DecodeBlock(decoded.data(), in.data(), static_cast<int>(in.size()));
  if (n != static_cast<int>(decoded.size())) return false;

  // EVP_EncodeBlock NUL-terminates its output.
  std::array<unsigned char, base64_key_chars + 1> again{};
  wipe_on_exit wipe_again{again};
  const int m = EVP_EncodeBlock(again.data(), decoded.data(), static_cast<int>(key_ring::key_size));
  if (m != static_cast<int>(base64_key_chars) || !std::equal(in.begin(), in.end(), again.begin())) {
    return false;
  }
  std::copy_n(decoded.begin(), key_ring::key_size, out.begin());
  return true;
}

[[nodiscard]] result<key_ring> fail(std::string* detail, std::string why) {
  if (detail) *detail = std::move(why);
  return make_error_code(error::invalid_argument);
}

}  // namespace

key_ring::entry::~entry() {
  OPENSSL_cleanse(key.data(), key.size());
}

result<void> key_ring::add(std::uint32_t id, std::span<const std::uint8_t> key) {
  if (key.size() != key_size || contains(id)) return make_error_code(error::invalid_argument);
  entry e;
  e.id = id;
  std::copy(key.begin(), key.end(), e.key.begin());
  entries_.push_back(e);
  return {};
}

result<void> key_ring::set_current(std::uint32_t id) {
  if (!contains(id)) return make_error_code(error::invalid_argument);
  current_ = id;
  return {};
}

std::optional<std::uint32_t> key_ring::current_id() const noexcept {
  return current_;
}

const std::array<std::uint8_t, key_ring::key_size>* key_ring::find(
    std::uint32_t id) const noexcept {
  // A ring holds a handful of keys: a linear scan beats any index.
  for (const auto& e : entries_) {
    if (e.id == id) return &e.key;
  }
  return nullptr;
}

result<key_ring> key_ring::from_spec(std::string_view spec, std::string* detail) {
  // Split off the options: "<entries>[;<option>...]".
  const std::size_t semi = spec.find(';');
  const std::string_view list = trim(spec.substr(0, semi));
  std::optional<std::uint32_t> current;
  if (semi != std::string_view::npos) {
    std::string_view options = spec.substr(semi + 1);
    while (true) {
      const std::size_t next = options.find(';');
      const std::string_view opt = trim(options.substr(0, next));
      const std::size_t eq = opt.find('=');
      const std::string_view name = trim(opt.substr(0, eq));
      if (eq == std::string_view::npos || name != "current") {
        return fail(detail, "key ring: unknown option (only current=<id> is accepted)");
      }
      if (current) return fail(detail, "key ring: current= given twice");
      current = parse_id(trim(opt.substr(eq + 1)));
      if (!current) return fail(detail, "key ring: current= is not a decimal key id");
      if (next == std::string_view::npos) break;
      options.remove_prefix(next + 1);
    }
  }
  if (list.empty()) return fail(detail, "key ring: no keys");

  key_ring ring;
  std::string_view rest = list;
  for (std::size_t position = 1;; ++position) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    const std::string where = "key ring entry " + std::to_string(position);
    const std::size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      return fail(detail, where + ": expected <id>:<base64 key>");
    }
    const auto id = parse_id(trim(item.substr(0, colon)));
    if (!id) return fail(detail, where + ": the id is not a decimal number 0..4294967295");
    const std::string named = where + " (id " + std::to_string(*id) + ")";
    if (ring.contains(*id)) return fail(detail, named + ": duplicate id");
    key_bytes key{};
    wipe_on_exit wipe_key{key};
    if (!decode_key(trim(item.substr(colon + 1)), key)) {
      return fail(detail, named + ": the key is not 32 bytes of standard base64 (44 characters)");
    }
    if (!ring.add(*id, key)) return fail(detail, named + ": rejected");
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }

  if (!current) {
    if (ring.size() != 1) {
      return fail(detail, "key ring: several keys and no current=<id> to say which encrypts");
    }
    current = ring.entries_.front().id;
  }
  if (!ring.set_current(*current)) {
    return fail(detail, "key ring: current=" + std::to_string(*current) + " is not in the ring");
  }
  return ring;
}

}  // namespace rcache::codec
