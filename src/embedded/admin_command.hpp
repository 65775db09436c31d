// Blocking one-shot admin commands to a Redis process.
//
// The launcher needs to ask a freshly started redis-server whether it is
// ready (PING), and tests need an oracle that reads what is really in Redis
// (GET, CONFIG GET, SENTINEL ..., ACL WHOAMI) without going through rcache's
// own async client, which is the thing under test. admin_command() opens a
// fresh blocking connection (unix socket or TCP on loopback), AUTHs when
// credentials are given, sends one command as a RESP array of bulk strings,
// reads exactly one reply and closes. One overall deadline covers the whole
// exchange: before every send and receive the socket's SO_SNDTIMEO /
// SO_RCVTIMEO is set to the time left, so a paused or wedged server yields
// rcache::error::timeout instead of a hang.
//
// Replies are rendered as text, roughly the way redis-cli prints them, rather
// than as rcache::value: the oracle stays independent of the parser under
// test. The tiny reply parser works on a byte buffer (no I/O) so it can be
// tested on its own.
//
// Threading: free functions with no shared state; safe from any thread.
#pragma once

#include <rcache/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::embedded {

/// One reply, rendered as text.
///
///   +OK -> "OK"      :5 -> "5"      $3 foo -> "foo"      $-1, *-1, _ -> "(nil)"
///   -ERR x -> "ERR x" with is_error    #t -> "true"    =txt:abc -> "abc"
///   aggregates (arrays, sets, pushes, maps flattened key, value, ...) -> their
///   elements' texts joined by '\n', and each top-level element in `elements`.
struct admin_reply {
  std::string text{};
  bool is_error = false;                // the top-level reply is a simple or bulk error
  bool is_nil = false;                  // the top-level reply is a null
  std::vector<std::string> elements{};  // top-level aggregate elements; empty otherwise
};

/// Where admin_command() connects and how it authenticates.
struct admin_target {
  std::filesystem::path unix_socket{};  // used when non-empty (instead of host:port)
  std::string host = "127.0.0.1";       // numeric IPv4 address
  std::uint16_t port = 0;
  std::optional<std::string> username{};    // AUTH <username> <password> when both are set
  std::optional<std::string> password{};    // AUTH <password> when only this is set
  std::chrono::milliseconds timeout{5000};  // the whole exchange: connect, AUTH, command
};

/// Sends one command and returns its reply. A Redis error reply is a value
/// (is_error), not a failure. Fails with: a system error_code from connect()
/// (e.g. ENOENT / ECONNREFUSED while the server is not listening yet);
/// rcache::error::timeout when the deadline passes; connection_lost when the
/// server closes the connection first; auth_failed when AUTH is refused;
/// resp_* when the reply does not parse; empty_request for no arguments;
/// invalid_argument for a bad host or a unix path longer than sun_path.
/// `args` are borrowed for the duration of the call only.
[[nodiscard]] rcache::result<admin_reply> admin_command(const admin_target& target,
                                                        std::span<const std::string_view> args);
[[nodiscard]] rcache::result<admin_reply> admin_command(
    const admin_target& target, std::initializer_list<std::string_view> args);
[[nodiscard]] rcache::result<admin_reply> admin_command(const admin_target& target,
                                                        std::span<const std::string> args);

/// Limits of parse_admin_reply(): a reply beyond them is rejected, not buffered.
inline constexpr std::size_t max_admin_reply_bytes = 64u * 1024 * 1024;
inline constexpr std::size_t max_admin_reply_depth = 32;

/// Parses one complete reply at the start of `in` (sans I/O). Returns the
/// reply and sets `consumed` to its length; returns std::nullopt with `ec`
/// clear when `in` holds only a prefix of a reply (feed more bytes and call
/// again from the start), or std::nullopt with `ec` set to one of the
/// rcache::error::resp_* values when the bytes are not RESP2/RESP3 or exceed
/// the limits above.
[[nodiscard]] std::optional<admin_reply> parse_admin_reply(std::string_view in,
                                                           std::size_t& consumed,
                                                           boost::system::error_code& ec);

}  // namespace rcache::embedded
