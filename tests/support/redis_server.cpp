// redis_server: options -> config lines, port selection with retries, and
// thin forwarding to embedded::redis_process.
//
// Threading: see redis_server.hpp.
#include "redis_server.hpp"

#include <stdexcept>
#include <utility>

#include "embedded/free_port.hpp"
#include "process_poll.hpp"

namespace rcache::test {
namespace {

const std::string loopback = "127.0.0.1";

}  // namespace

redis_server::redis_server(redis_server_options options)
    : options_(std::move(options)), dir_("redis") {
  if (!options_.tcp && !options_.tls) {
    throw std::invalid_argument("redis_server: neither tcp nor tls: nothing for a client to use");
  }
  if (options_.tls) tls_ = write_test_certs(dir_.path());
  auto pick_ports = [&] {
    const std::size_t wanted = (options_.tcp ? 1 : 0) + (options_.tls ? 1 : 0);
    const auto ports = embedded::free_ports(wanted).value();
    port_ = options_.tcp ? ports.front() : 0;
    tls_port_ = options_.tls ? ports.back() : 0;
    process_.emplace(make_process_options());
  };
  pick_ports();
  poll::start_with_port_retries([&] { process_->start(); }, pick_ports);
}

redis_server::~redis_server() = default;

embedded::process_options redis_server::make_process_options() const {
  using embedded::config_quote;
  embedded::process_options p;
  p.executable = options_.executable;
  p.dir = dir_.path();
  p.port = port_;
  p.unix_socket = true;
  p.admin_password = options_.requirepass;
  auto& c = p.config;
  if (options_.persistence) {
    c.push_back({"save", "3600 1 300 100 60 10000"});
    c.push_back({"appendonly", "yes"});
  } else {
    c.push_back({"save", ""});
    c.push_back({"appendonly", "no"});
  }
  // DEBUG SLEEP / DEBUG SEGFAULT let fault tests wedge or crash the server;
  // "local" keeps them to loopback and unix socket connections.
  c.push_back({"enable-debug-command", "local"});
  if (options_.requirepass) c.push_back({"requirepass", config_quote(*options_.requirepass)});
  if (options_.user) {
    const auto& u = *options_.user;
    c.push_back({"user", u.name + " " + u.rules + " " + config_quote(">" + u.password)});
  }
  if (tls_) {
    c.push_back({"tls-port", std::to_string(tls_port_)});
    c.push_back({"tls-cert-file", config_quote(tls_->server_cert.string())});
    c.push_back({"tls-key-file", config_quote(tls_->server_key.string())});
    c.push_back({"tls-ca-cert-file", config_quote(tls_->ca_cert.string())});
    c.push_back({"tls-auth-clients", options_.tls_require_client_cert ? "yes" : "no"});
  }
  c.insert(c.end(), options_.extra_config.begin(), options_.extra_config.end());
  return p;
}

const std::string& redis_server::host() const noexcept {
  return loopback;
}

std::filesystem::path redis_server::unix_socket() const {
  return process_->unix_socket_path();
}

std::filesystem::path redis_server::ca_cert() const {
  return tls_ ? tls_->ca_cert : "";
}
std::filesystem::path redis_server::client_cert() const {
  return tls_ ? tls_->client_cert : "";
}
std::filesystem::path redis_server::client_key() const {
  return tls_ ? tls_->client_key : "";
}
std::filesystem::path redis_server::server_cert() const {
  return tls_ ? tls_->server_cert : "";
}
std::filesystem::path redis_server::server_key() const {
  return tls_ ? tls_->server_key : "";
}

std::string redis_server::url() const {
  return options_.tcp ? "redis://" + loopback + ":" + std::to_string(port_) : tls_url();
}

std::string redis_server::tls_url() const {
  return tls_ ? "rediss://" + loopback + ":" + std::to_string(tls_port_) : "";
}

pid_t redis_server::pid() const noexcept {
  return process_->pid();
}
bool redis_server::running() noexcept {
  return process_->running();
}
void redis_server::kill() noexcept {
  process_->kill();
}
void redis_server::stop() noexcept {
  process_->stop();
}
void redis_server::restart() {
  process_->restart();
}

void redis_server::pause() {
  if (!process_->pause()) {
    throw std::runtime_error("redis_server::pause: the server is not running");
  }
}

void redis_server::resume() {
  if (!process_->resume()) {
    throw std::runtime_error("redis_server::resume: the server is not running");
  }
}

embedded::admin_reply redis_server::command(std::initializer_list<std::string_view> args) const {
  auto reply = process_->command(args);
  if (!reply) {
    throw std::runtime_error(
        "redis_server::command: " + std::string(args.size() ? *args.begin() : "") + ": " +
        reply.error().message());
  }
  return std::move(*reply);
}

embedded::admin_reply redis_server::command(const std::vector<std::string>& args) const {
  auto reply = process_->command(std::span<const std::string>(args));
  if (!reply) {
    throw std::runtime_error("redis_server::command: " + (args.empty() ? "" : args.front()) + ": " +
                             reply.error().message());
  }
  return std::move(*reply);
}

}  // namespace rcache::test
