// JSON lines through spdlog; see log.hpp.
#include "server/log.hpp"

#include <atomic>
#include <boost/json/serialize.hpp>
#include <memory>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace rcache::server::log {
namespace {

std::shared_ptr<spdlog::logger> main_logger;
std::shared_ptr<spdlog::logger> access_logger;
std::atomic<bool> access_on{false};

// The payload after the common prefix: the object's members without its
// opening brace, so the pattern can prepend ts/level/logger.
std::string members(boost::json::object&& o) {
  auto text = boost::json::serialize(o);
  return text.substr(1);
}

spdlog::level::level_enum to_spdlog(level l) {
  switch (l) {
    case level::trace:
      return spdlog::level::trace;
    case level::debug:
      return spdlog::level::debug;
    case level::info:
      return spdlog::level::info;
    case level::warn:
      return spdlog::level::warn;
    case level::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void setup(std::string_view min_level, bool access_log) {
  auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n",%v)",
      spdlog::pattern_time_type::utc));
  main_logger = std::make_shared<spdlog::logger>("rcache", sink);
  access_logger = std::make_shared<spdlog::logger>("access", sink);
  main_logger->set_level(spdlog::level::from_str(std::string(min_level)));
  access_logger->set_level(spdlog::level::info);
  // Every line is flushed: a log read by another process (a collector, the
  // tests) sees it at once; the access log can be turned off for speed.
  main_logger->flush_on(spdlog::level::info);
  access_logger->flush_on(spdlog::level::info);
  access_on.store(access_log, std::memory_order_relaxed);
}

void write(level l, std::string_view msg, boost::json::object fields) {
  if (!main_logger) return;
  const auto lvl = to_spdlog(l);
  if (!main_logger->should_log(lvl)) return;
  boost::json::object o;
  o.reserve(fields.size() + 1);
  o["msg"] = msg;
  for (auto& kv : fields) o[kv.key()] = std::move(kv.value());
  main_logger->log(lvl, "{}", members(std::move(o)));
}

bool access_enabled() noexcept {
  return access_on.load(std::memory_order_relaxed);
}

void access(boost::json::object fields) {
  if (!access_logger || !access_enabled()) return;
  access_logger->info("{}", members(std::move(fields)));
}

void flush() {
  if (main_logger) main_logger->flush();
  if (access_logger) access_logger->flush();
}

}  // namespace rcache::server::log
