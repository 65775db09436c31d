// One HTTP/1.1 connection of `rcache serve`: read a request, let the
// gateway answer it, write the response, repeat while the connection is
// kept alive.
//
// Each step has its deadline: the idle deadline for the first byte of a
// request, the read deadline for the rest of it (answering
// `Expect: 100-continue` on the way), none while the gateway works (Redis
// has its own, the command timeout), the write deadline for what of the
// response the socket did not take at once. Pipelined requests wait in the
// read buffer and are answered in order. A request that cannot be read is
// answered 400 / 413 / 431 and ends the connection, because the rest of the
// stream cannot be trusted. A request that asks to become a WebSocket goes
// to websocket_session.hpp.
//
// Memory: a request's read buffer, parser and response buffer are a
// workspace the session takes from its thread's spares when the first bytes
// arrive and gives back once the answer is written (unless a pipelined
// request has begun), so a keep-alive connection waiting for its next
// request holds little more than its socket. The session is the gateway's
// answer_slot: the gateway's answer resumes its coroutine directly.
//
// Threading: a session runs on its connection's I/O thread only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "server/shared_state.hpp"

namespace rcache::server {

/// Serves `conn` (admitted and listed on `thread`) until the peer leaves,
/// a deadline passes, a request cannot be read, or the server drains.
/// Whatever ends it, the connection is closed and removed from `state`.
session_task<> run_http_session(std::shared_ptr<shared_state> state,
                                std::shared_ptr<connection> conn, std::size_t thread);

/// Writes `bytes` (whole responses) under `deadline`; false when the write
/// failed (the peer left, or the deadline closed the socket).
session_task<bool> send(connection& conn, std::string_view bytes,
                        std::chrono::milliseconds deadline);

/// `r` as one HTTP/1.1 response with the current Date.
[[nodiscard]] std::string whole_response(const api_response& r, bool keep_alive);

}  // namespace rcache::server
