// run_program: posix_spawn with one output pipe, read under a deadline.
//
// Threading: no shared state; the pipe is created close-on-exec so a
// program spawned concurrently by another thread cannot inherit it.
#include "run_program.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "embedded/redis_process.hpp"

namespace rcache::test {
namespace {

using clock = std::chrono::steady_clock;

// posix_spawn's attribute and file-action objects, destroyed on every path.
struct spawn_setup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;

  explicit spawn_setup(int output_fd) {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&actions, output_fd, STDOUT_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, output_fd, STDERR_FILENO);
    ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    // Default dispositions and no blocked signals, whatever the test runner set.
    sigset_t none;
    sigset_t all;
    ::sigemptyset(&none);
    ::sigfillset(&all);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setsigdefault(&attr, &all);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
  ~spawn_setup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
};

int milliseconds_left(clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
  return static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0));
}

}  // namespace

program_result run_program(const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout) {
  if (argv.empty()) throw std::invalid_argument("run_program: empty argv");
  const auto exe = embedded::find_executable(argv[0]);
  if (!exe) throw std::runtime_error("run_program: " + argv[0] + " not found on PATH");

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("run_program: pipe2: ") + std::strerror(errno));
  }
  std::vector<char*> cargv;
  std::vector<std::string> storage(argv);
  for (auto& arg : storage) cargv.push_back(arg.data());
  cargv.push_back(nullptr);

  pid_t pid = -1;
  int rc = 0;
  {
    spawn_setup setup(fds[1]);
    rc = ::posix_spawn(&pid, exe->c_str(), &setup.actions, &setup.attr, cargv.data(), environ);
  }
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("run_program: cannot spawn " + exe->string() + ": " +
                             std::strerror(rc));
  }

  program_result result;
  const auto deadline = clock::now() + timeout;
  char chunk[4096];
  for (;;) {
    pollfd pfd{fds[0], POLLIN, 0};
    const int ready = ::poll(&pfd, 1, milliseconds_left(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      result.timed_out = true;
      break;
    }
    const auto n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the program (and anything it forked) closed its output
    result.output.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);

  // The output is closed; the program should be exiting. Give it until the
  // deadline, then kill it by its pid.
  if (result.timed_out) ::kill(pid, SIGKILL);
  auto step = std::chrono::milliseconds(1);
  int status = 0;
  bool reaped = false;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, result.timed_out ? 0 : WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r != 0) {
      reaped = r == pid;
      break;
    }
    if (clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      continue;  // the next waitpid blocks until it is reaped
    }
    std::this_thread::sleep_for(step);
    step = std::min(step * 2, std::chrono::milliseconds(50));
  }
  if (reaped && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace rcache::test
