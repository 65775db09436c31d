// The AES-256 key ring of the value codec: keys by 32-bit id, one of them
// current.
//
// New values are encrypted with the current key and carry its id in their
// header; a value is decrypted with whichever key its id names. Rotating is
// therefore: add the new key to every instance, then make it current, and
// retire the old key only once no stored value names it any more (values
// expire, or are rewritten; codec::inspect() tells which id a value uses).
//
// Key bytes never leave this class except to the codec's cipher calls: no
// error code or diagnostic produced here contains them, and a key ring wipes
// its key bytes (OPENSSL_cleanse) when destroyed.
//
// Threading: add() and set_current() are not synchronised; build the ring
// first, then share it read-only (the codec takes a shared_ptr<const
// key_ring>). Const members are safe to call from any number of threads at
// once.
#pragma once

#include <rcache/error.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::codec {

class key_ring {
 public:
  /// AES-256: every key is exactly this many bytes.
  static constexpr std::size_t key_size = 32;

  key_ring() = default;
  key_ring(const key_ring&) = default;
  key_ring(key_ring&&) noexcept = default;
  key_ring& operator=(const key_ring&) = default;
  key_ring& operator=(key_ring&&) noexcept = default;
  ~key_ring() = default;  // each entry wipes its own key bytes

  /// Adds a key. Errors: invalid_argument when `key` is not key_size bytes
  /// or `id` is already in the ring. The bytes are copied.
  [[nodiscard]] result<void> add(std::uint32_t id, std::span<const std::uint8_t> key);

  /// Makes `id` the key new values are encrypted with. Errors:
  /// invalid_argument when `id` is not in the ring.
  [[nodiscard]] result<void> set_current(std::uint32_t id);

  /// The current key id; nullopt until set_current() (or from_spec) chose one.
  [[nodiscard]] std::optional<std::uint32_t> current_id() const noexcept;

  /// True when `id` is in the ring.
  [[nodiscard]] bool contains(std::uint32_t id) const noexcept { return find(id) != nullptr; }

  /// Number of keys.
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

  /// The key bytes of `id`, or nullptr. For the codec's cipher calls only;
  /// never log or copy them. Valid until the ring is modified or destroyed.
  [[nodiscard]] const std::array<std::uint8_t, key_size>* find(std::uint32_t id) const noexcept;

  /// Parses a key ring from its configuration form (CACHE_ENCRYPTION_KEYS,
  /// docs/value-format.md):
  ///
  ///     <id>:<base64 key>[,<id>:<base64 key>...][;current=<id>]
  ///
  /// ids are decimal 0..4294967295; keys are 32 bytes in standard base64
  /// (RFC 4648 section 4, 44 characters with its one '=', which may be left
  /// off); ASCII blanks around tokens are ignored. `current=` may be left off
  /// only when there is one key. Errors: invalid_argument for anything else
  /// (empty spec, bad id, duplicate id, bad base64, a key that is not 32
  /// bytes, unknown option, current id not in the ring). When `detail` is
  /// not null it receives a one-line reason naming the entry by position and
  /// id, never by its key characters.
  [[nodiscard]] static result<key_ring> from_spec(std::string_view spec,
                                                  std::string* detail = nullptr);

 private:
  // Wipes its key bytes on destruction, including the moved-from copies
  // std::vector leaves behind when it grows.
  struct entry {
    std::uint32_t id = 0;
    std::array<std::uint8_t, key_size> key{};

    entry() = default;
    entry(const entry&) = default;
    entry& operator=(const entry&) = default;
    ~entry();
  };

  std::vector<entry> entries_;
  std::optional<std::uint32_t> current_;
};

}  // namespace rcache::codec
