// Helpers shared by the process fixtures (redis_server, sentinel_topology,
// redis_cluster): starting with fresh ports when one was taken meanwhile; asking a Redis process
// something only when it can answer (running, not SIGSTOPped), with a short deadline, and waiting
// for a condition under one overall deadline with a growing pause between polls. Also the small
// parsers of INFO / CLUSTER / ROLE replies they need.
//
// Threading: free functions, no shared state.
#pragma once

#include <rcache/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "embedded/admin_command.hpp"
#include "embedded/redis_process.hpp"

namespace rcache::test::poll {

/// The admin deadline of one command while polling: long enough for a busy
/// machine, short enough that a wedged process does not stall the wait.
inline constexpr auto command_timeout = std::chrono::milliseconds(1000);
inline constexpr auto max_interval = std::chrono::milliseconds(100);

/// Whether the process is stopped by a signal (state 'T' in
/// /proc/<pid>/stat): its kernel accepts connections it never answers.
[[nodiscard]] bool is_stopped(pid_t pid);

/// Whether the process may answer a command now.
[[nodiscard]] bool can_answer(const embedded::redis_process& process);

/// One command with the poll deadline; connection_lost when the process
/// cannot answer.
[[nodiscard]] rcache::result<embedded::admin_reply> command(
    const embedded::redis_process& process, std::initializer_list<std::string_view> args);

/// A whole decimal number, or nullopt.
[[nodiscard]] std::optional<long long> parse_number(std::string_view text);
/// A port (1..65535), or nullopt.
[[nodiscard]] std::optional<std::uint16_t> parse_port(std::string_view text);

/// The value of `key:value` in INFO / CLUSTER INFO output; empty when absent.
[[nodiscard]] std::string info_field(std::string_view info, std::string_view key);

/// The lines of `text` (split at '\n'), as the admin reply renders aggregates.
[[nodiscard]] std::vector<std::string> lines(std::string_view text);

/// The reply's text, or the error in parentheses, for messages.
[[nodiscard]] std::string text_or_error(const rcache::result<embedded::admin_reply>& reply);

/// Runs `start`; when it fails because a port was taken meanwhile (rare
/// between free_port() and the bind; a few fresh tries make it vanishingly so)
/// (embedded::start_error::reason::address_in_use), runs `reassign` (fresh
/// ports, a new process object) and tries again, `attempts` times in all.
/// Other failures, and the last one, are rethrown.
void start_with_port_retries(const std::function<void()>& start,
                             const std::function<void()>& reassign, int attempts = 5);

/// The fixtures' must-succeed forms, `who` naming the process in the
/// message ("redis_cluster: node 2"): the reply of `command` (a Redis error
/// reply is a value), or std::runtime_error on a transport failure;
/// SIGSTOP / SIGCONT, or std::runtime_error when the process is not running.
embedded::admin_reply reply_or_throw(rcache::result<embedded::admin_reply> reply,
                                     const std::string& who, std::string_view command);
void pause_or_throw(embedded::redis_process& p, const std::string& who);
void resume_or_throw(embedded::redis_process& p, const std::string& who);

/// A redis-server of a replicated topology (Sentinel or Cluster) in `dir`
/// on `port`: no persistence, no diskless-sync delay, DEBUG from loopback,
/// and `password` as requirepass, masterauth (any server may become a
/// replica of any other after a failover) and the admin channel's AUTH.
[[nodiscard]] embedded::process_options replicated_server_options(
    std::filesystem::path dir, std::uint16_t port, const std::optional<std::string>& password);

/// A free loopback port that is not in `taken`; added to it.
[[nodiscard]] std::uint16_t fresh_port(std::set<std::uint16_t>& taken);

/// Calls `check` until it returns no complaint or `timeout` passes; returns
/// the last complaint on timeout, std::nullopt once satisfied.
template <class Check>
std::optional<std::string> until(std::chrono::milliseconds timeout, Check check) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  auto interval = std::chrono::milliseconds(10);
  for (;;) {
    auto complaint = check();
    if (!complaint) return std::nullopt;
    const auto left = deadline - clock::now();
    if (left <= clock::duration::zero()) return complaint;
    std::this_thread::sleep_for(std::min<clock::duration>(interval, left));
    interval = std::min(interval * 2, max_interval);
  }
}

}  // namespace rcache::test::poll
