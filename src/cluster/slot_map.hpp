// Redis Cluster without I/O: which slot a key belongs to, who serves each
// slot, and what a MOVED / ASK redirection says. The cluster client (issue
// 5) drives these from its connections; keeping them sans-I/O lets unit
// tests pin them to the Cluster specification and lets the integration
// tests compare them with a real cluster.
//
//   key_slot("{user1000}.following") == key_slot("{user1000}.followers")
//   auto map = parse_cluster_shards(reply);   // CLUSTER SHARDS (Redis 7)
//   if (!map) map = parse_cluster_slots(reply2);  // CLUSTER SLOTS (older)
//   const node* owner = map->master_for(key_slot(key));
//
// Threading: pure functions and plain values.
#pragma once

#include <rcache/error.hpp>
#include <rcache/value.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::cluster {

inline constexpr std::uint16_t slot_count = 16384;

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum
/// the Cluster specification uses.
[[nodiscard]] std::uint16_t crc16(std::string_view data) noexcept;

/// The hash slot of `key`: CRC16 mod 16384 of the key, or of its hash tag —
/// the bytes between the first '{' and the first '}' after it, when that is
/// not empty.
[[nodiscard]] std::uint16_t key_slot(std::string_view key) noexcept;

/// One cluster node as the slot map knows it.
struct node {
  std::string id{};  // empty when the reply did not carry it
  std::string host{};
  std::uint16_t port = 0;
  bool master = false;
  bool healthy = true;  // CLUSTER SHARDS "health": "online"
  friend bool operator==(const node&, const node&) = default;
};

/// A master and its replicas, and the slot ranges they serve.
struct shard {
  std::vector<std::pair<std::uint16_t, std::uint16_t>> ranges{};  // inclusive
  node master{};
  std::vector<node> replicas{};
};

/// Who serves each slot.
class slot_map {
 public:
  /// The shards; a slot's shard is found through master_for / shard_for.
  [[nodiscard]] const std::vector<shard>& shards() const noexcept { return shards_; }
  /// The shard serving `slot`, or nullptr when no shard claims it.
  [[nodiscard]] const shard* shard_for(std::uint16_t slot) const noexcept;
  /// Its master, or nullptr.
  [[nodiscard]] const node* master_for(std::uint16_t slot) const noexcept;
  /// Slots no shard claims (0 in a healthy cluster).
  [[nodiscard]] std::size_t unassigned() const noexcept;

  /// Adds a shard; its ranges override earlier claims. Ranges must be
  /// within 0..16383 (checked by the parsers).
  void add(shard s);

 private:
  static constexpr std::uint16_t none = 0xFFFF;
  std::vector<shard> shards_;
  std::array<std::uint16_t, slot_count> owner_ = make_unowned();
  static std::array<std::uint16_t, slot_count> make_unowned() {
    std::array<std::uint16_t, slot_count> a{};
    a.fill(none);
    return a;
  }
};

/// Parses a CLUSTER SHARDS reply (RESP3 maps or RESP2 flat arrays). Shards
/// without slots (a master that lost all of them) are left out; a node's
/// address is its "ip" (or "endpoint" when "ip" is absent). Errors:
/// error::unexpected_reply for a reply of another shape.
[[nodiscard]] result<slot_map> parse_cluster_shards(const value& reply);

/// Parses a CLUSTER SLOTS reply: [start, end, [ip, port, id, ...], replicas...].
[[nodiscard]] result<slot_map> parse_cluster_slots(const value& reply);

/// A MOVED or ASK error reply.
struct redirect {
  enum class kind : std::uint8_t { moved, ask };
  kind type = kind::moved;
  std::uint16_t slot = 0;
  std::string host{};  // empty: the node that answered (an unknown endpoint, "?")
  std::uint16_t port = 0;
  friend bool operator==(const redirect&, const redirect&) = default;
};

/// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 [::1]:6381"; nullopt for any
/// other error text.
[[nodiscard]] std::optional<redirect> parse_redirect(std::string_view error_text);

}  // namespace rcache::cluster
