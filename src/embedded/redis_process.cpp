// The redis-server / redis-sentinel launcher: config file, fork/exec,
// readiness, and the signal-based lifecycle.
//
// The child is started with fork() + execv() rather than posix_spawn() for
// one reason: PR_SET_PDEATHSIG, which must be set in the child before exec,
// so a test process that crashes or is killed takes its servers with it.
// Between fork and exec the child only makes async-signal-safe calls; all
// strings and file descriptors are prepared before the fork.
//
// Waiting (readiness, stop, pause) polls a condition with a short
// exponential backoff under a deadline; nothing sleeps for a fixed time.
//
// Threading: see redis_process.hpp; the object is driven by one owner.
#include "embedded/redis_process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <sstream>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace rcache::embedded {
namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------
namespace {

constexpr const char* socket_name = "redis.sock";
constexpr const char* log_name = "redis.log";
constexpr auto max_backoff = std::chrono::milliseconds(100);

// Owns a file descriptor in the parent while the child is being prepared.
class unique_fd {
 public:
  explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Sleeps for the next step of an exponential backoff, never past `deadline`.
void backoff_sleep(std::chrono::milliseconds& step, clock::time_point deadline) {
  const auto left = deadline - clock::now();
  if (left > clock::duration::zero()) {
    std::this_thread::sleep_for(std::min<clock::duration>(step, left));
  }
  step = std::min(step * 2, max_backoff);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::sigabbrev_np(WTERMSIG(status));
    return "signal " + std::to_string(WTERMSIG(status)) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "status " + std::to_string(status);
}

// The Debian package that ships `executable`, for the "not found" message.
std::string package_for(std::string_view executable) {
  const auto name = fs::path(executable).filename().string();
  if (name == "redis-sentinel") return "redis-sentinel";
  if (name == "redis-cli" || name == "redis-benchmark") return "redis-tools";
  return "redis-server";
}

bool is_executable_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

// The whole child side of fork(): async-signal-safe calls only.
[[noreturn]] void exec_child(char* const* argv, const char* dir, int null_fd, int log_fd,
                             int error_fd, pid_t parent, bool die_with_parent, long max_fd) {
  if (die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  }
  // Signal state survives exec: undo blocked or ignored signals (an ignored
  // SIGTERM would make stop() always end in SIGKILL).
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  if (::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 ||
      ::dup2(log_fd, STDERR_FILENO) < 0) {
    const int e = errno;
    (void)!::write(error_fd, &e, sizeof e);
    ::_exit(127);
  }
  // The server must not inherit the parent's sockets and files.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (long fd = 3; fd < max_fd; ++fd) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  }
  if (::chdir(dir) == 0) ::execv(argv[0], argv);
  const int e = errno;  // only reached when chdir or execv failed
  (void)!::write(error_fd, &e, sizeof e);
  ::_exit(127);
}

}  // namespace

std::string config_quote(std::string_view arg) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char ch : arg) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

std::optional<fs::path> find_executable(std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string_view::npos) {
    fs::path p(name);
    if (!is_executable_file(p)) return std::nullopt;
    return fs::absolute(p);
  }
  const char* env = std::getenv("PATH");
  const std::string path = env && *env ? env : "/usr/local/bin:/usr/bin:/bin";
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;  // "" means the current directory: not for a launcher
    fs::path candidate = fs::path(dir) / name;
    if (is_executable_file(candidate)) return fs::absolute(candidate);
  }
  return std::nullopt;
}

start_error::start_error(reason why, const std::string& message)
    : std::runtime_error(message), why_(why) {}

// ---------------------------------------------------------------------------
// Construction and moves
// ---------------------------------------------------------------------------

redis_process::redis_process(process_options options) : options_(std::move(options)) {
  if (!options_.dir.empty()) options_.dir = fs::absolute(options_.dir).lexically_normal();
}

redis_process::~redis_process() {
  stop();
}

redis_process::redis_process(redis_process&& other) noexcept
    : options_(std::move(other.options_)),
      pid_(std::exchange(other.pid_, -1)),
      config_written_(other.config_written_),
      last_status_(other.last_status_),
      paused_(std::exchange(other.paused_, false)),
      log_offset_(other.log_offset_) {}

redis_process& redis_process::operator=(redis_process&& other) noexcept {
  if (this != &other) {
    stop();
    options_ = std::move(other.options_);
    pid_ = std::exchange(other.pid_, -1);
    config_written_ = other.config_written_;
    last_status_ = other.last_status_;
    log_offset_ = other.log_offset_;
    paused_ = std::exchange(other.paused_, false);
  }
  return *this;
}

fs::path redis_process::config_path() const {
  return options_.dir / options_.config_file;
}
fs::path redis_process::log_path() const {
  return options_.dir / log_name;
}
fs::path redis_process::unix_socket_path() const {
  return options_.dir / socket_name;
}

// ---------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------

void redis_process::start() {
  if (pid_ >= 0 && running()) throw std::logic_error("redis_process::start: already running");
  using reason = start_error::reason;
  if (options_.dir.empty()) throw start_error(reason::bad_options, "redis_process: no dir given");
  if (!options_.unix_socket && options_.port == 0) {
    throw start_error(reason::bad_options,
                      "redis_process: neither a unix socket nor a TCP port: no admin channel");
  }
  std::error_code ec;
  // Ours: created here, or the data directory of an earlier run (it holds
  // the config). Another existing directory, maybe shared, keeps its mode.
  const bool ours = !fs::exists(options_.dir, ec) || fs::exists(config_path(), ec);
  fs::create_directories(options_.dir, ec);
  if (ec) {
    throw start_error(reason::bad_options, "redis_process: cannot create " + options_.dir.string() +
                                               ": " + ec.message());
  }
  // The directory holds the config (with any requirepass), the socket and
  // the data: the owner's alone.
  if (ours) fs::permissions(options_.dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) {
    throw start_error(reason::bad_options, "redis_process: cannot make " + options_.dir.string() +
                                               " private (mode 0700): " + ec.message());
  }
  // sun_path holds 108 bytes including the terminating NUL.
  if (options_.unix_socket && unix_socket_path().native().size() > 107) {
    throw start_error(reason::bad_options,
                      "redis_process: unix socket path " + unix_socket_path().string() +
                          " is longer than 107 bytes; use a shorter directory (TMPDIR)");
  }
  const auto executable = find_executable(options_.executable);
  if (!executable) {
    const char* path = std::getenv("PATH");
    throw start_error(reason::executable_not_found, options_.executable +
                                                        " not found (PATH=" + (path ? path : "") +
                                                        "); install it with `apt-get install " +
                                                        package_for(options_.executable) + "`");
  }
  if (!config_written_ || !fs::exists(config_path())) write_config();
  fs::remove(unix_socket_path(), ec);  // a stale socket from a killed run would answer ECONNREFUSED
  log_offset_ = fs::exists(log_path(), ec) ? fs::file_size(log_path(), ec) : 0;
  if (ec) log_offset_ = 0;
  spawn(*executable);
  wait_ready();
}

void redis_process::restart() {
  stop();
  start();
}

void redis_process::write_config() {
  // Mode 0600 before a byte is written: the file may hold a password. An
  // older file of another mode is narrowed too.
  {
    unique_fd fd(::open(config_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0 || ::fchmod(fd.get(), 0600) != 0) {
      throw start_error(
          start_error::reason::bad_options,
          "redis_process: cannot create " + config_path().string() + ": " + std::strerror(errno));
    }
  }
  std::ofstream out(config_path(), std::ios::trunc);
  out << "# Written by rcache::embedded::redis_process; directives after the launcher's own.\n"
      << "daemonize no\n"
      << "bind 127.0.0.1\n"
      << "port " << options_.port << '\n';
  if (options_.unix_socket) {
    out << "unixsocket " << config_quote(unix_socket_path().string()) << '\n'
        << "unixsocketperm 700\n";
  }
  out << "dir " << config_quote(options_.dir.string()) << '\n'
      << "logfile " << config_quote(log_path().string()) << '\n';
  for (const auto& line : options_.config) {
    out << line.key << ' ' << (line.value.empty() ? std::string("\"\"") : line.value) << '\n';
  }
  out.close();
  if (!out) {
    throw start_error(start_error::reason::bad_options,
                      "redis_process: cannot write " + config_path().string());
  }
  config_written_ = true;
}

void redis_process::spawn(const fs::path& executable) {
  using reason = start_error::reason;
  // Everything the child needs exists before fork(): it may not allocate.
  std::string exe = executable.string();
  std::string conf = config_path().string();
  std::string dir = options_.dir.string();
  std::vector<char*> argv{exe.data(), conf.data(), nullptr};

  unique_fd log_fd(::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  unique_fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (log_fd.get() < 0 || null_fd.get() < 0) {
    throw start_error(reason::spawn_failed, "redis_process: cannot open " + log_path().string() +
                                                " or /dev/null: " + std::strerror(errno));
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw start_error(reason::spawn_failed,
                      std::string("redis_process: pipe2: ") + std::strerror(errno));
  }
  unique_fd error_read(pipe_fds[0]);
  unique_fd error_write(pipe_fds[1]);
  const pid_t parent = ::getpid();
  // Only for kernels without close_range(); capped because containers can
  // report an open-file limit of a billion.
  const long max_fd = std::clamp(::sysconf(_SC_OPEN_MAX), 1024L, 65536L);

  const pid_t child = ::fork();
  if (child == 0) {
    exec_child(argv.data(), dir.c_str(), null_fd.get(), log_fd.get(), error_write.get(), parent,
               options_.die_with_parent, max_fd);
  }
  if (child < 0) {
    throw start_error(reason::spawn_failed,
                      std::string("redis_process: fork: ") + std::strerror(errno));
  }
  error_write.reset();  // so the read below ends at exec (CLOEXEC) or the child's exit
  int child_errno = 0;
  ssize_t n = 0;
  do {
    n = ::read(error_read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  pid_ = child;
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    reap_blocking();
    throw start_error(reason::spawn_failed,
                      "redis_process: cannot exec " + exe + ": " + std::strerror(child_errno));
  }
}

void redis_process::wait_ready() {
  const auto deadline = clock::now() + options_.start_timeout;
  auto step = std::chrono::milliseconds(1);
  auto target = admin();
  std::string last_problem = "no answer yet";
  for (;;) {
    const pid_t started = pid_;
    if (reap_if_exited()) {
      const auto tail = log_tail();
      const bool in_use = tail.find("Address already in use") != std::string::npos;
      throw start_error(
          in_use ? start_error::reason::address_in_use : start_error::reason::exited,
          options_.executable + " (pid " + std::to_string(started) + ") exited during start-up (" +
              (last_status_ ? describe_status(*last_status_) : "status unknown") +
              (in_use ? "; port " + std::to_string(options_.port) + " is in use" : "") +
              "); config " + config_path().string() + "; log:\n" + tail);
    }
    const auto left = deadline - clock::now();
    if (left <= clock::duration::zero()) {
      fail_start(start_error::reason::timeout, "no PONG within " +
                                                   std::to_string(options_.start_timeout.count()) +
                                                   " ms (last: " + last_problem + ")");
    }
    target.timeout =
        std::min(options_.admin_timeout, std::chrono::ceil<std::chrono::milliseconds>(left));
    auto reply = admin_command(target, {"PING"});
    if (reply && !reply->is_error && reply->text == "PONG") return;
    // Without (the right) credentials PING gets NOAUTH: waiting will not help.
    const bool refused = reply ? reply->is_error && (reply->text.starts_with("NOAUTH") ||
                                                     reply->text.starts_with("WRONGPASS"))
                               : reply.error() == rcache::error::auth_failed;
    if (refused) {
      fail_start(start_error::reason::auth_failed,
                 "the server refused the admin credentials (set admin_username / admin_password)");
    }
    // ENOENT / ECONNREFUSED (not listening yet) and -LOADING mean "not yet".
    last_problem = reply ? "reply " + reply->text : reply.error().message();
    backoff_sleep(step, deadline);
  }
}

void redis_process::fail_start(start_error::reason why, const std::string& message) {
  const pid_t started = pid_;
  kill();
  throw start_error(why, options_.executable + " (pid " + std::to_string(started) +
                             ") failed to start: " + message + "; config " +
                             config_path().string() + "; log:\n" + log_tail());
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

bool redis_process::reap_if_exited() noexcept {
  if (pid_ < 0) return true;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return false;
    if (r < 0 && errno == EINTR) continue;
    // r == pid_: reaped. ECHILD: someone else reaped it (SIGCHLD ignored).
    if (r == pid_) last_status_ = status;
    pid_ = -1;
    paused_ = false;
    return true;
  }
}

void redis_process::reap_blocking() noexcept {
  if (pid_ < 0) return;
  int status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) last_status_ = status;
  pid_ = -1;
  paused_ = false;
}

bool redis_process::running() noexcept {
  return !reap_if_exited();
}

bool redis_process::stop() noexcept {
  if (pid_ < 0) return false;
  ::kill(pid_, SIGTERM);
  ::kill(pid_, SIGCONT);  // a paused server handles SIGTERM only once it runs
  const auto deadline = clock::now() + options_.stop_timeout;
  auto step = std::chrono::milliseconds(1);
  while (clock::now() < deadline) {
    if (reap_if_exited()) return true;
    backoff_sleep(step, deadline);
  }
  if (reap_if_exited()) return true;
  kill();
  return false;
}

void redis_process::kill() noexcept {
  if (pid_ < 0) return;
  ::kill(pid_, SIGKILL);
  reap_blocking();
}

bool redis_process::pause() noexcept {
  if (!running()) return false;
  if (paused_) return true;
  ::kill(pid_, SIGSTOP);
  // WUNTRACED reports the stop itself, so on return the child really is stopped.
  const auto deadline = clock::now() + options_.stop_timeout;
  auto step = std::chrono::milliseconds(1);
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG | WUNTRACED);
    if (r < 0 && errno == EINTR) continue;
    if (r == pid_ && WIFSTOPPED(status)) {
      paused_ = true;
      return true;
    }
    if (r != 0) {  // it exited instead (or was reaped elsewhere)
      if (r == pid_) last_status_ = status;
      pid_ = -1;
      return false;
    }
    if (clock::now() >= deadline) return false;
    backoff_sleep(step, deadline);
  }
}

bool redis_process::resume() noexcept {
  if (!running()) return false;
  ::kill(pid_, SIGCONT);
  if (!paused_) return true;
  const auto deadline = clock::now() + options_.stop_timeout;
  auto step = std::chrono::milliseconds(1);
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG | WCONTINUED);
    if (r < 0 && errno == EINTR) continue;
    if (r == pid_ && WIFCONTINUED(status)) {
      paused_ = false;
      return true;
    }
    if (r != 0) {
      if (r == pid_) last_status_ = status;
      pid_ = -1;
      paused_ = false;
      return false;
    }
    if (clock::now() >= deadline) return false;
    backoff_sleep(step, deadline);
  }
}

// ---------------------------------------------------------------------------
// Admin channel and log
// ---------------------------------------------------------------------------

admin_target redis_process::admin() const {
  admin_target target;
  if (options_.unix_socket) {
    target.unix_socket = unix_socket_path();
  } else {
    target.port = options_.port;
  }
  target.username = options_.admin_username;
  target.password = options_.admin_password;
  target.timeout = options_.admin_timeout;
  return target;
}

rcache::result<admin_reply> redis_process::command(
    std::initializer_list<std::string_view> args) const {
  return admin_command(admin(), args);
}

rcache::result<admin_reply> redis_process::command(std::span<const std::string> args) const {
  return admin_command(admin(), args);
}

std::string redis_process::log_tail(std::size_t max_lines) const {
  constexpr std::uintmax_t max_bytes = 16 * 1024;
  std::ifstream in(log_path(), std::ios::binary);
  if (!in) return "(no log at " + log_path().string() + ")";
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::uintmax_t>(in.tellg());
  auto from = size > max_bytes ? std::max(log_offset_, size - max_bytes) : log_offset_;
  if (from > size) from = 0;  // the log was replaced
  in.seekg(static_cast<std::streamoff>(from));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    const auto nl = std::min(text.find('\n', pos), text.size());
    lines.emplace_back(text.data() + pos, nl - pos);
    pos = nl + 1;
  }
  std::string tail;
  const auto first = lines.size() > max_lines ? lines.size() - max_lines : 0;
  for (auto i = first; i < lines.size(); ++i) {
    tail += lines[i];
    tail += '\n';
  }
  return tail;
}

}  // namespace rcache::embedded
