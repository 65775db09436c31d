// Structured logs of `rcache serve`: one JSON object per line on stdout,
// written through spdlog:
//   {"ts":"2026-11-25T21:03:07.123456Z","level":"info","logger":"rcache","msg":"...",...}
// The access log ("logger":"access") is a second logger on the same sink
// that can be turned off. Fields are JSON-escaped; nothing here ever sees a
// secret, because callers only pass redacted values (redacted_url, "***").
//
// Threading: thread-safe (spdlog's mutex sink).
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

namespace rcache::server::log {

enum class level { trace, debug, info, warn, error };

/// Creates both loggers; `min_level` is one of trace/debug/info/warn/error/off.
void setup(std::string_view min_level, bool access_log);

void write(level l, std::string_view msg, boost::json::object fields = {});
inline void info(std::string_view msg, boost::json::object fields = {}) {
  write(level::info, msg, std::move(fields));
}
inline void warn(std::string_view msg, boost::json::object fields = {}) {
  write(level::warn, msg, std::move(fields));
}
inline void error(std::string_view msg, boost::json::object fields = {}) {
  write(level::error, msg, std::move(fields));
}

/// Whether access lines are wanted (so callers skip building them).
[[nodiscard]] bool access_enabled() noexcept;
void access(boost::json::object fields);

/// Flushes both loggers (at exit).
void flush();

}  // namespace rcache::server::log
