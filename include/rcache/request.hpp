// rcache::request — one or more Redis commands sent together.
//
// A request is serialized as it is built (RESP arrays of bulk strings), so
// handing it to the client costs no further encoding. All commands of one
// request are written contiguously: no other caller's command lands between
// them, which is what MULTI / EXEC needs. The reply holds one value per
// command, in order; an error reply is a value and fails only its command.
//
// Pub/sub commands (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UN- forms)
// are answered in RESP3 by push confirmations: the client counts them, and
// the command's reply is the last confirmation (or the error). Messages are
// delivered to the client's push handler.
//
// Threading: a request is a plain value; build it on one thread, then move
// or copy it into the client.
#pragma once

#include <rcache/detail/resp_command.hpp>
#include <rcache/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rcache {

/// The replies of one request: one value per command, in order.
using response = std::vector<value>;

class request {
 public:
  struct options {
    /// Deadline for the whole request, from submission to the last reply.
    /// Zero means the client's default (client_config::command_timeout).
    std::chrono::milliseconds timeout{};
    /// If false, the request fails at once with error::not_connected while
    /// the client is disconnected, instead of waiting for a reconnect
    /// within its deadline.
    bool wait_for_connection = true;
    /// Whether the request may be sent again after the connection dropped
    /// before its replies arrived. Unset: only if every command is a
    /// read-only command (GET, MGET, EXISTS, TTL, ...).
    std::optional<bool> retry_on_connection_lost{};
    /// Redis Cluster: send the whole request to this master ("host:port",
    /// from client::masters()) instead of routing it by key; redirections
    /// are not followed. For commands that act per node (SCAN, DBSIZE).
    /// Ignored by a single-server or Sentinel client.
    std::string node{};
  };

  request() = default;
  explicit request(options o) : options_(o) {}

  /// Appends a command. Arguments may be string-like or arithmetic.
  template <class... Args>
  request& push(std::string_view name, const Args&... args) {
    resp::append_command(payload_, name, args...);
    note_command(name, sizeof...(Args));
    return *this;
  }

  /// Appends a command whose arguments come from a range of string-likes,
  /// after the optional leading arguments `head`.
  template <class Range>
  request& push_range(std::string_view name, const Range& args,
                      std::initializer_list<std::string_view> head = {}) {
    std::size_t n = head.size();
    std::size_t bytes = 23 + resp::arg_bytes(name);
    for (auto h : head) bytes += resp::arg_bytes(h);
    for (const auto& a : args) {
      ++n;
      bytes += resp::arg_bytes(a);
    }
    payload_.reserve(payload_.size() + bytes);
    resp::append_array_header(payload_, 1 + n);
    resp::append_bulk(payload_, name);
    for (auto h : head) resp::append_bulk(payload_, h);
    for (const auto& a : args) resp::append_arg(payload_, a);
    note_command(name, n);
    return *this;
  }

  /// Appends every command of `other`, in order (a request built
  /// elsewhere, inside MULTI ... EXEC for instance).
  request& append(const request& other);

  /// Number of commands (and so of replies).
  [[nodiscard]] std::size_t size() const noexcept { return commands_; }
  [[nodiscard]] bool empty() const noexcept { return commands_ == 0; }
  /// The serialized commands, as they go on the wire.
  [[nodiscard]] const std::string& payload() const noexcept { return payload_; }
  /// True when every command is known to be read-only.
  [[nodiscard]] bool read_only() const noexcept { return read_only_; }
  /// Moves the serialized commands out, leaving the request empty.
  [[nodiscard]] std::string take_payload() && noexcept {
    commands_ = 0;
    return std::move(payload_);
  }
  [[nodiscard]] options& opts() noexcept { return options_; }
  [[nodiscard]] const options& opts() const noexcept { return options_; }

  /// How a command is answered. `normal`: one reply. `subscribe`: one push
  /// confirmation per channel argument. `unsubscribe_all` (UNSUBSCRIBE,
  /// PUNSUBSCRIBE or SUNSUBSCRIBE without arguments): one per channel of
  /// that kind currently subscribed (at least one), known only when it runs.
  enum class reply_kind : std::uint8_t { normal, subscribe, unsubscribe_all };
  struct command_info {
    reply_kind kind = reply_kind::normal;
    std::uint32_t confirmations = 0;  // for subscribe
    /// The first element of the push that confirms it ("subscribe",
    /// "punsubscribe", ...; static storage), empty for normal commands.
    std::string_view confirmed_by{};
  };
  /// Per-command reply information; empty when every command is `normal`.
  [[nodiscard]] const std::vector<command_info>& commands_info() const noexcept { return info_; }

 private:
  void note_command(std::string_view name, std::size_t nargs);

  std::string payload_;
  std::size_t commands_ = 0;
  bool read_only_ = true;
  options options_;
  std::vector<command_info> info_;
};

}  // namespace rcache
