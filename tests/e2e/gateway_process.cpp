// Running the rcache binary for end-to-end tests; see gateway_process.hpp.
#include "gateway_process.hpp"

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "embedded/free_port.hpp"
#include "http_client.hpp"

extern char** environ;

namespace rcache::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool hermetic_drop(std::string_view name) {
  for (std::string_view p : {"REDIS_", "CACHE_", "RCACHE_", "MONITORING_", "ALERT_"}) {
    if (name.starts_with(p)) return true;
  }
  return false;
}

std::vector<std::string> environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (!hermetic_drop(kv.substr(0, kv.find('=')))) out.emplace_back(kv);
  }
  for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

// Spawns RCACHE_BINARY with `args` in `dir`, output appended to `log`.
pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const fs::path& dir, const fs::path& log) {
  std::vector<std::string> argv_s{RCACHE_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto env_s = environment(env);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addchdir_np(&fa, dir.c_str());
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error(std::string("cannot spawn ") + RCACHE_BINARY);
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

gateway_process::gateway_process(gateway_options options) {
  if (options.dir) {
    dir_ = *options.dir;
  } else {
    own_dir_.emplace("gateway");
    dir_ = own_dir_->path();
  }
  // free_port.hpp: between finding the port and the server's bind another
  // process may take it; a start that failed for that alone is retried with
  // a fresh port.
  for (int attempt = 0;; ++attempt) {
    auto port = embedded::free_port();
    if (!port) throw std::runtime_error("no free port");
    port_ = *port;
    std::vector<std::string> args{"serve", "--listen", "127.0.0.1:" + std::to_string(port_)};
    args.insert(args.end(), options.args.begin(), options.args.end());
    std::error_code ignored;
    fs::remove(dir_ / "rcache.log", ignored);  // each attempt's log starts afresh
    pid_ = spawn(args, options.env, dir_, dir_ / "rcache.log");
    if (!options.wait_ready) return;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    bool port_taken = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!running()) {
        const auto text = log();
        port_taken = text.find("cannot listen") != std::string::npos &&
                     text.find("in use") != std::string::npos;
        if (port_taken && attempt < 5) break;
        throw std::runtime_error("rcache serve exited with " + std::to_string(*exit_code_) + ":\n" +
                                 text);
      }
      try {
        if (auto r = http_request(port_, "GET", "/healthz"); r && r->status == 200) return;
      } catch (const std::system_error&) {
        // not listening yet
      }
      std::this_thread::sleep_for(10ms);
    }
    if (port_taken) continue;
    stop(SIGKILL);
    throw std::runtime_error("rcache serve did not answer /healthz within 20 s:\n" + log());
  }
}

gateway_process::~gateway_process() {
  if (running()) stop(SIGKILL);
}

void gateway_process::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool gateway_process::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_status(status);
    pid_ = -1;
    return false;
  }
  return true;
}

std::optional<int> gateway_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
  return exit_code_;
}

int gateway_process::stop(int sig) {
  if (!running()) return exit_code_.value_or(-1);
  signal(sig);
  if (auto code = wait_exit(30s)) return *code;
  signal(SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  exit_code_ = decode_status(status);
  return *exit_code_;
}

std::string gateway_process::log() const {
  return read_file(dir_ / "rcache.log");
}

rcache_run run_rcache(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env) {
  temp_dir dir("rcache-run");
  const auto log = dir.path() / "out.log";
  const pid_t pid = spawn(args, env, dir.path(), log);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {decode_status(status), read_file(log)};
}

}  // namespace rcache::test
