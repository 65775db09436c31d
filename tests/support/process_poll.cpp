// Polling helpers for the multi-process fixtures; see process_poll.hpp.
#include "process_poll.hpp"

#include <charconv>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "embedded/free_port.hpp"

namespace rcache::test::poll {

bool is_stopped(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'T';
}

bool can_answer(const embedded::redis_process& process) {
  return process.pid() > 0 && !is_stopped(process.pid());
}

rcache::result<embedded::admin_reply> command(const embedded::redis_process& process,
                                              std::initializer_list<std::string_view> args) {
  if (!can_answer(process)) return make_error_code(rcache::error::connection_lost);
  auto target = process.admin();
  target.timeout = std::min(target.timeout, command_timeout);
  return embedded::admin_command(target, args);
}

std::optional<long long> parse_number(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  const auto value = parse_number(text);
  if (!value || *value <= 0 || *value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*value);
}

std::string info_field(std::string_view info, std::string_view key) {
  for (std::size_t pos = 0; pos < info.size();) {
    auto end = info.find('\n', pos);
    if (end == std::string_view::npos) end = info.size();
    auto line = info.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ':') {
      return std::string(line.substr(key.size() + 1));
    }
    pos = end + 1;
  }
  return {};
}

std::vector<std::string> lines(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos <= text.size();) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

void start_with_port_retries(const std::function<void()>& start,
                             const std::function<void()>& reassign, int attempts) {
  for (int attempt = 1;; ++attempt) {
    try {
      start();
      return;
    } catch (const embedded::start_error& e) {
      if (e.why() != embedded::start_error::reason::address_in_use || attempt >= attempts) throw;
    }
    reassign();
  }
}

std::uint16_t fresh_port(std::set<std::uint16_t>& taken) {
  for (;;) {
    const auto port = embedded::free_port().value();
    if (taken.insert(port).second) return port;
  }
}

std::string text_or_error(const rcache::result<embedded::admin_reply>& reply) {
  return reply ? reply->text : "(" + reply.error().message() + ")";
}

embedded::admin_reply reply_or_throw(rcache::result<embedded::admin_reply> reply,
                                     const std::string& who, std::string_view command) {
  if (!reply) {
    throw std::runtime_error(who + ": " + std::string(command) + ": " + reply.error().message());
  }
  return std::move(*reply);
}

void pause_or_throw(embedded::redis_process& p, const std::string& who) {
  if (!p.pause()) throw std::runtime_error(who + " is not running");
}

void resume_or_throw(embedded::redis_process& p, const std::string& who) {
  if (!p.resume()) throw std::runtime_error(who + " is not running");
}

embedded::process_options replicated_server_options(std::filesystem::path dir, std::uint16_t port,
                                                    const std::optional<std::string>& password) {
  embedded::process_options p;
  p.executable = "redis-server";
  p.dir = std::move(dir);
  p.port = port;
  p.admin_password = password;
  auto& c = p.config;
  c.push_back({"save", ""});
  c.push_back({"appendonly", "no"});
  // A full sync would otherwise wait 5 s for more replicas to join it.
  c.push_back({"repl-diskless-sync-delay", "0"});
  c.push_back({"enable-debug-command", "local"});
  if (password) {
    c.push_back({"requirepass", embedded::config_quote(*password)});
    c.push_back({"masterauth", embedded::config_quote(*password)});
  }
  return p;
}

}  // namespace rcache::test::poll
