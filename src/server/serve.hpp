// `rcache serve`: the gateway process from start to exit.
//
// Start-up: JSON logging, the embedded redis-server when no Redis is
// configured (a private server in embedded.dir: unix socket, AOF on,
// restarted if it dies), the cache, the gateway, the HTTP server, one
// io_context per I/O thread. Shutdown on SIGINT / SIGTERM: stop accepting,
// let in-flight requests finish within server.shutdown_timeout_ms, close
// Redis cleanly, stop the embedded server, exit 0.
//
// Threading: serve() blocks the calling thread, which becomes the first
// I/O thread.
#pragma once

#include "server/config.hpp"

namespace rcache::server {

/// Runs the gateway until SIGINT or SIGTERM; returns the process exit code
/// (0 after a clean shutdown, 1 when it could not start). Problems are
/// logged; nothing escapes as an exception.
[[nodiscard]] int serve(const loaded_config& loaded);

/// What `rcache config check` says of the change feed and writes made
/// straight into Redis: with an external Redis, it reads the server's
/// notify-keyspace-events (a connection of at most the configured timeouts);
/// one line, never an error (CONFIG may be forbidden, Redis unreachable).
[[nodiscard]] std::string describe_direct_writes(const gateway_config& cfg);

}  // namespace rcache::server
