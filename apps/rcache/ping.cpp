// `rcache ping`: connect to Redis (a URL, or a private redis-server started
// for the occasion), send PING and print the round trip.
#include <rcache/blocking_client.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "command.hpp"
#include "embedded/redis_process.hpp"

namespace rcache::app {
namespace {

namespace fs = std::filesystem;

// A private redis-server in a fresh temporary directory, removed afterwards:
// what `rcache ping` talks to when no Redis is configured.
class private_server {
 public:
  private_server() {
    std::string tmpl = (fs::temp_directory_path() / "rcache-ping-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory");
    dir_ = tmpl;
    embedded::process_options opts;
    opts.dir = dir_;
    opts.config = {{"save", ""}, {"appendonly", "no"}};
    process_.emplace(std::move(opts));
    process_->start();
  }
  ~private_server() {
    process_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  private_server(const private_server&) = delete;
  private_server& operator=(const private_server&) = delete;
  std::string url() const { return "unix://" + process_->unix_socket_path().string(); }
  pid_t pid() const { return process_->pid(); }

 private:
  fs::path dir_;
  std::optional<embedded::redis_process> process_;
};

std::string hello_field(const value& hello, std::string_view key) {
  for (std::size_t i = 0; i + 1 < hello.elements.size(); i += 2) {
    if (hello.elements[i].str == key) {
      const auto& v = hello.elements[i + 1];
      return v.type == resp_type::integer ? std::to_string(v.integer) : v.str;
    }
  }
  return "?";
}

struct ping_options {
  std::string url;
  int count = 1;
};

int run_ping(const ping_options& o) {
  std::optional<private_server> embedded;
  std::string url = o.url;
  if (url.empty()) {
    embedded.emplace();
    url = embedded->url();
    std::cout << "started a private redis-server (pid " << embedded->pid() << ") at " << url
              << "\n";
  }
  auto cfg = parse_url(url);
  if (!cfg) {
    std::cerr << "rcache ping: invalid Redis URL: " << describe_url_error(url) << "\n";
    return 2;
  }
  cfg->client_name = "rcache-ping";
  blocking_client client(*cfg);
  for (int i = 0; i < o.count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto reply = client.command("PING");
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (!reply) {
      auto [ec, message] = client.async().last_error();
      std::cerr << "rcache ping: " << redacted_url(*cfg) << ": " << reply.error().message();
      if (!message.empty()) std::cerr << " (" << message << ")";
      std::cerr << "\n";
      return 1;
    }
    if (reply->is_error()) {
      std::cerr << "rcache ping: " << reply->str << "\n";
      return 1;
    }
    if (i == 0) {
      const auto hello = client.async().server_hello();
      std::cout << "connected to " << redacted_url(*cfg) << ": redis "
                << hello_field(hello, "version") << ", role " << hello_field(hello, "role")
                << ", protocol " << hello_field(hello, "proto") << "\n";
    }
    std::cout << reply->str << " " << us / 1000.0 << " ms\n";
  }
  return 0;
}

}  // namespace

command add_ping(CLI::App& app) {
  auto options = std::make_shared<ping_options>();
  auto* cli = app.add_subcommand("ping", "Connect to Redis and send PING");
  cli->add_option("--url", options->url,
                  "redis://[user:pass@]host:port/db, rediss://... or unix:///path; default: "
                  "$REDIS_URL, else a private redis-server started for the occasion")
      ->envname("REDIS_URL");
  cli->add_option("-c,--count", options->count, "Number of PINGs")->check(CLI::Range(1, 1000000));
  return {cli, [options] { return run_ping(*options); }};
}

}  // namespace rcache::app
