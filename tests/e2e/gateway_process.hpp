// The real `rcache` binary as a child process, for the end-to-end tests.
//
// gateway_process starts `rcache serve` (or any rcache subcommand) in its
// own temp directory (the working directory, so the embedded Redis's
// default data directory lands there too), with an environment stripped of
// every REDIS_*, CACHE_*, RCACHE_*, MONITORING_* and ALERT_* variable plus
// the ones a test gives. stdout and stderr go to a log file the test can
// read. It is stopped by its pid: SIGTERM (or a chosen signal), then SIGKILL
// if it does not exit within 30 s.
//
// Threading: one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "temp_dir.hpp"

namespace rcache::test {

struct gateway_options {
  std::vector<std::string> args{};             // after "serve --listen 127.0.0.1:<port>"
  std::map<std::string, std::string> env{};    // added to the cleaned environment
  bool wait_ready = true;                      // wait until /healthz answers 200
  std::optional<std::filesystem::path> dir{};  // working directory; default: a fresh temp dir
};

class gateway_process {
 public:
  /// Starts `rcache serve` on a free port; with wait_ready, returns once
  /// /healthz answers, or throws std::runtime_error (with the log) when
  /// the process exits or does not answer within 20 s.
  explicit gateway_process(gateway_options options = {});
  ~gateway_process();
  gateway_process(const gateway_process&) = delete;
  gateway_process& operator=(const gateway_process&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }

  /// Sends `sig` and waits for the exit; returns the exit code, or 128 + the
  /// signal when it was killed by one.
  int stop(int sig = 15 /* SIGTERM */);
  /// Sends a signal and returns at once.
  void signal(int sig) const;
  /// Whether it still runs (reaps it if it exited).
  bool running();
  /// Waits up to `timeout` for the process to exit by itself; its exit code,
  /// or nullopt if it still runs.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  /// Everything it printed so far.
  [[nodiscard]] std::string log() const;

 private:
  std::optional<temp_dir> own_dir_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

/// Runs `rcache <args>` to completion with the cleaned environment plus
/// `env`; returns the exit code and output.
struct rcache_run {
  int exit_code = -1;
  std::string output;
};
rcache_run run_rcache(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {});

}  // namespace rcache::test
