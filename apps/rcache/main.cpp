// The rcache binary: parses the command line, builds a configuration and
// calls the library. Subcommands:
//   rcache version
//   rcache ping [--url URL] [--count N]
// Exceptions are caught once here and turned into a message and exit code.
#include <rcache/blocking_client.hpp>
#include <rcache/version.hpp>

#include <CLI/CLI.hpp>
#include <boost/version.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <openssl/opensslv.h>
#include <optional>

#include "embedded/redis_process.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A private redis-server in a fresh temporary directory, removed afterwards:
// what `rcache ping` talks to when no Redis is configured.
class private_server {
 public:
  private_server() {
    std::string tmpl = (fs::temp_directory_path() / "rcache-ping-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory");
    dir_ = tmpl;
    rcache::embedded::process_options opts;
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
  std::string url() const { return "unix://" + process_->unix_socket_path().string(); }
  pid_t pid() const { return process_->pid(); }

 private:
  fs::path dir_;
  std::optional<rcache::embedded::redis_process> process_;
};

int run_version() {
  std::cout << "rcache " << rcache::version_string << " (Boost " << BOOST_VERSION / 100000 << "."
            << BOOST_VERSION / 100 % 1000 << "." << BOOST_VERSION % 100 << ", "
            << OPENSSL_VERSION_TEXT << ")\n";
  return 0;
}

std::string hello_field(const rcache::value& hello, std::string_view key) {
  for (std::size_t i = 0; i + 1 < hello.elements.size(); i += 2) {
    if (hello.elements[i].str == key) {
      const auto& v = hello.elements[i + 1];
      return v.type == rcache::resp_type::integer ? std::to_string(v.integer) : v.str;
    }
  }
  return "?";
}

int run_ping(std::string url, int count) {
  std::optional<private_server> embedded;
  if (url.empty()) {
    embedded.emplace();
    url = embedded->url();
    std::cout << "started a private redis-server (pid " << embedded->pid() << ") at " << url
              << "\n";
  }
  auto cfg = rcache::parse_url(url);
  if (!cfg) {
    std::cerr << "rcache ping: invalid Redis URL (expected redis://, rediss:// or unix://)\n";
    return 2;
  }
  cfg->client_name = "rcache-ping";
  rcache::blocking_client client(*cfg);
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto reply = client.command("PING");
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (!reply) {
      auto [ec, message] = client.async().last_error();
      std::cerr << "rcache ping: " << rcache::redacted_url(*cfg) << ": " << reply.error().message();
      if (!message.empty()) std::cerr << " (" << message << ")";
      std::cerr << "\n";
      ++failures;
      break;
    }
    if (reply->is_error()) {
      std::cerr << "rcache ping: " << reply->str << "\n";
      ++failures;
      break;
    }
    if (i == 0) {
      const auto hello = client.async().server_hello();
      std::cout << "connected to " << rcache::redacted_url(*cfg) << ": redis "
                << hello_field(hello, "version") << ", role " << hello_field(hello, "role")
                << ", protocol " << hello_field(hello, "proto") << "\n";
    }
    std::cout << reply->str << " " << us / 1000.0 << " ms\n";
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rcache — Redis cache infrastructure"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("rcache ") + rcache::version_string);

  app.add_subcommand("version", "Print the version and the libraries it was built with");

  auto* ping = app.add_subcommand("ping", "Connect to Redis and send PING");
  std::string url;
  int count = 1;
  ping->add_option("--url", url,
                   "redis://[user:pass@]host:port/db, rediss://... or unix:///path; default: "
                   "$REDIS_URL, else a private redis-server started for the occasion")
      ->envname("REDIS_URL");
  ping->add_option("-c,--count", count, "Number of PINGs")->check(CLI::Range(1, 1000000));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (app.got_subcommand("version")) return run_version();
    if (app.got_subcommand("ping")) return run_ping(url, count);
  } catch (const std::exception& e) {
    std::cerr << "rcache: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
