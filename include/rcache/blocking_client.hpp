// rcache::blocking_client — the client for programs without an event loop.
//
// It owns an io thread that runs an rcache::client; every call submits to
// that client and blocks the calling thread until the reply or the error.
// Deadlines come from the client configuration (or request::options), so
// no call blocks longer than its deadline.
//
// Threading: every method is thread-safe; many threads may call at once and
// their requests are pipelined on the one connection. Push handlers run on
// the io thread and must not block or call back into this object.
#pragma once

#include <rcache/client.hpp>

#include <memory>

namespace rcache {

class blocking_client {
 public:
  /// Starts the io thread and begins connecting; never throws for an
  /// unreachable server (calls report it).
  explicit blocking_client(client_config cfg, std::shared_ptr<topology> topo = nullptr);
  /// Stops the client and joins the io thread. No call may be running in
  /// another thread (as for any object being destroyed): to end such calls,
  /// async().stop() first — they fail with error::client_stopped — and wait
  /// for them to return.
  ~blocking_client();
  blocking_client(const blocking_client&) = delete;
  blocking_client& operator=(const blocking_client&) = delete;

  /// Sends every command of `req`; one value per command.
  [[nodiscard]] result<response> exec(request req);

  /// One command; its reply (which may be an error reply value).
  template <class... Args>
  [[nodiscard]] result<value> command(std::string_view name, const Args&... args) {
    request r;
    r.push(name, args...);
    auto resp = exec(std::move(r));
    if (!resp) return resp.error();
    return std::move(resp->front());
  }

  /// One typed command (command.hpp): its reply read as T, or why not.
  ///   auto v = c.command(cmd::hget("user:42", "name"));  // reply<optional<string>>
  template <class T>
  [[nodiscard]] reply<T> command(rcache::command<T> c) {
    auto resp = exec(std::move(c).take_request());
    if (!resp) return command_error{resp.error(), resp.error().message()};
    return reply_as<T>(std::move(resp->front()));
  }

  /// EVALSHA with automatic SCRIPT LOAD; see client::async_eval.
  [[nodiscard]] result<value> eval(const script& s, std::vector<std::string> keys = {},
                                   std::vector<std::string> args = {});

  /// The asynchronous client underneath (for push / state handlers, stats).
  [[nodiscard]] client& async() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace rcache
