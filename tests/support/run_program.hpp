// Runs a program (redis-cli, redis-benchmark, ...) to completion and
// captures what it prints, for tests that compare against reference tools.
//
// The child is started with posix_spawn: stdin is /dev/null, stdout and
// stderr go to one pipe, and it inherits no other descriptor. The parent
// reads the pipe under a deadline; a child still running at the deadline is
// killed by its pid and reaped, so a hung tool cannot hang the test.
//
// Threading: no shared state; safe from any thread.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace rcache::test {

struct program_result {
  int exit_code = -1;      // the exit code; -1 when killed by a signal or on timeout
  bool timed_out = false;  // the deadline passed and the child was killed
  std::string output;      // stdout and stderr, interleaved as written
};

/// Runs argv[0] (looked up on PATH unless it contains '/') with `argv`.
/// Throws std::runtime_error when the program cannot be found or spawned.
program_result run_program(const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace rcache::test
