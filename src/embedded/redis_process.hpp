// A launcher for redis-server and redis-sentinel processes.
//
// redis_process owns one child process: it writes a config file into a data
// directory, fork/execs the server with it, and waits until the server
// answers PING on its unix socket (the admin and readiness channel, plain
// even when TCP is TLS-only). It then offers the lifecycle operations tests
// and the embedded mode of `rcache serve` need: stop (SIGTERM, then SIGKILL
// after a deadline), kill, pause / resume (SIGSTOP / SIGCONT), and restart
// in the same directory with the same config and port, so persisted data
// (RDB, AOF), Sentinel state and cluster nodes.conf survive.
//
// The launcher is generic: a standalone server, a Sentinel
// (executable "redis-sentinel", config_file "sentinel.conf", config lines
// {"sentinel", "monitor mymaster 127.0.0.1 6379 2"}) and a cluster node
// ({"cluster-enabled", "yes"}) differ only in their options.
//
// Errors: start() and restart() throw start_error (a std::runtime_error with
// a reason and a message that includes the tail of the server's log);
// start-up is where the style guide allows exceptions, and a log tail does
// not fit in an error_code. The other operations do not throw; command()
// returns rcache::result.
//
// Threading: a redis_process is not thread-safe; one owner drives its
// lifecycle. command() only reads immutable options and may run on any
// thread while the owner is not moving or destroying the object.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "embedded/admin_command.hpp"

namespace rcache::embedded {

/// One directive of the config file: written as `key value`. `value` is
/// written verbatim, so it may hold several arguments
/// ({"save", "3600 1"}, {"user", "alice on >pw ~* +@all"}); quote arguments
/// that contain spaces with config_quote(). An empty value is written as "".
struct config_line {
  std::string key{};
  std::string value{};
};

/// `arg` as one double-quoted config-file argument, with \" \\ and
/// non-printable bytes escaped the way redis' config parser reads them.
[[nodiscard]] std::string config_quote(std::string_view arg);

/// The absolute path of `name`: `name` itself when it contains a '/', else
/// the first executable match in $PATH (or /usr/local/bin:/usr/bin:/bin).
/// std::nullopt when there is none.
[[nodiscard]] std::optional<std::filesystem::path> find_executable(std::string_view name);

struct process_options {
  /// A name looked up on PATH, or a path with a '/'. argv[0] is this path
  /// unresolved: redis picks Sentinel mode from argv[0] naming redis-sentinel.
  std::string executable = "redis-server";

  /// The data directory (redis' `dir`); created when missing, made absolute,
  /// and set to mode 0700 at every start when it was created here or holds
  /// the config of an earlier run (an existing directory of other use keeps
  /// its mode). The config file, which may hold a password, and the log
  /// are written 0600. Holds the config file, the unix socket, the log,
  /// and any RDB/AOF files. Required.
  std::filesystem::path dir{};

  /// The config file's name inside `dir` ("sentinel.conf" for Sentinel).
  std::string config_file = "redis.conf";

  /// Directives written after the launcher's own (daemonize, bind, port,
  /// unixsocket, dir, logfile), so they can add to or override them.
  std::vector<config_line> config{};

  /// The TCP port, bound on 127.0.0.1 only. 0: no TCP listener.
  std::uint16_t port = 0;

  /// Listen on <dir>/redis.sock (mode 700). The admin and readiness channel:
  /// without it they use TCP on `port`, which must then be plain and non-zero.
  bool unix_socket = true;

  /// The credentials the admin channel AUTHs with (requirepass, or an ACL
  /// user); none when both are empty.
  std::optional<std::string> admin_username{};
  std::optional<std::string> admin_password{};

  /// How long start() waits for PONG before it kills the child and throws.
  std::chrono::milliseconds start_timeout{15000};
  /// How long stop() waits after SIGTERM before it sends SIGKILL.
  std::chrono::milliseconds stop_timeout{10000};
  /// The deadline of one command() exchange.
  std::chrono::milliseconds admin_timeout{5000};

  /// The child gets SIGKILL when the thread that started it exits
  /// (PR_SET_PDEATHSIG), so a crashed or killed test leaves no server
  /// behind. Note: the *thread*, not the process; start servers that must
  /// outlive a worker thread from a long-lived thread, or turn this off.
  bool die_with_parent = true;
};

/// Why start() failed, with a message for humans.
class start_error : public std::runtime_error {
 public:
  enum class reason {
    bad_options,           // no dir, an unwritable dir, a unix socket path too long
    executable_not_found,  // the message says which package to apt-get install
    spawn_failed,          // fork() or exec() failed
    address_in_use,        // the server could not bind its port: pick another and retry
    exited,                // the server exited during start-up (see the log tail)
    auth_failed,           // the server refused the admin credentials
    timeout,               // no PONG within start_timeout; the child was killed
  };

  start_error(reason why, const std::string& message);

  [[nodiscard]] reason why() const noexcept { return why_; }

 private:
  reason why_;
};

class redis_process {
 public:
  /// Takes the options; starts nothing (call start()).
  explicit redis_process(process_options options);

  /// Stops the child, if any, as stop() does.
  ~redis_process();

  redis_process(redis_process&& other) noexcept;
  /// Stops this object's child first, then takes over `other`'s.
  redis_process& operator=(redis_process&& other) noexcept;
  redis_process(const redis_process&) = delete;
  redis_process& operator=(const redis_process&) = delete;

  /// Starts the server and returns once it answers PING. The first start()
  /// of this object writes the config file; later ones (after stop(), kill()
  /// or via restart()) reuse the file as the server left it, so state that
  /// Sentinel or CONFIG REWRITE wrote there survives. Throws start_error;
  /// std::logic_error when a child is already running. On failure no child
  /// is left behind.
  void start();

  /// stop() if running, then start() with the same dir, config and port.
  /// Throws as start() does (address_in_use if the port was taken meanwhile).
  void restart();

  /// SIGTERM (and SIGCONT, in case it is paused), wait up to stop_timeout,
  /// then SIGKILL; always reaps. Returns true when the server exited on its
  /// own (a clean shutdown: RDB/AOF written), false after SIGKILL or when
  /// there was no child.
  bool stop() noexcept;

  /// SIGKILL and reap: a crash, as far as the data directory can tell.
  void kill() noexcept;

  /// SIGSTOP; returns once the child is stopped (it then accepts
  /// connections in the kernel but answers nothing). False if there is no
  /// running child.
  bool pause() noexcept;

  /// SIGCONT; returns once the child runs again. False if there is no child.
  bool resume() noexcept;

  /// The child's pid, or -1 when there is none (never started, stopped,
  /// killed, or found exited by running()).
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  /// Whether the child is still alive; reaps it (and forgets its pid) if it
  /// has exited.
  [[nodiscard]] bool running() noexcept;

  /// The waitpid() status of the last child reaped, if any.
  [[nodiscard]] std::optional<int> last_wait_status() const noexcept { return last_status_; }

  /// Sends one command over the admin channel (see admin_command()), with
  /// the admin credentials and admin_timeout.
  [[nodiscard]] rcache::result<admin_reply> command(
      std::initializer_list<std::string_view> args) const;
  [[nodiscard]] rcache::result<admin_reply> command(std::span<const std::string> args) const;

  /// The target command() uses; copy it to talk to the server from elsewhere.
  [[nodiscard]] admin_target admin() const;

  [[nodiscard]] const process_options& options() const noexcept { return options_; }
  [[nodiscard]] std::filesystem::path config_path() const;
  [[nodiscard]] std::filesystem::path log_path() const;
  /// <dir>/redis.sock, whether or not options().unix_socket is set.
  [[nodiscard]] std::filesystem::path unix_socket_path() const;

  /// The last `max_lines` lines the current (or last) child wrote to its
  /// log, for error messages.
  [[nodiscard]] std::string log_tail(std::size_t max_lines = 30) const;

 private:
  void write_config();
  void spawn(const std::filesystem::path& executable);
  void wait_ready();
  // waitpid(WNOHANG): true (and pid_ = -1) if the child has exited.
  bool reap_if_exited() noexcept;
  void reap_blocking() noexcept;
  [[noreturn]] void fail_start(start_error::reason why, const std::string& message);

  process_options options_;
  pid_t pid_ = -1;
  bool config_written_ = false;
  std::optional<int> last_status_;
  // Set by pause(), cleared by resume() and reaping: resume() waits for the
  // WCONTINUED event only when there is a stop to undo.
  bool paused_ = false;
  // The log's size when the current child was spawned: its tail starts here.
  std::uintmax_t log_offset_ = 0;
};

}  // namespace rcache::embedded
