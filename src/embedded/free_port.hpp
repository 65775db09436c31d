// Free TCP ports on the loopback interface, for servers started by tests.
//
// A port is found by binding 127.0.0.1:0 and asking the kernel which port it
// chose, then closing the socket. That leaves a small race: between the close
// and the server's own bind, another process may take the port (an outgoing
// connection can even pick it as its source port). Callers that start a
// server on the port must therefore expect "Address already in use" and
// retry with a fresh port; rcache::test::redis_server does.
//
// Threading: free functions with no shared state; safe from any thread.
#pragma once

#include <rcache/error.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rcache::embedded {

/// A TCP port on 127.0.0.1 that was free a moment ago. Fails with the
/// system error_code of socket() / bind() / getsockname().
[[nodiscard]] rcache::result<std::uint16_t> free_port();

/// `n` distinct ports that were free a moment ago: all sockets stay bound
/// until the last port is known, so no two of them can be the same.
[[nodiscard]] rcache::result<std::vector<std::uint16_t>> free_ports(std::size_t n);

}  // namespace rcache::embedded
