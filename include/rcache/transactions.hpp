// rcache::transactions — optimistic transactions (WATCH ... MULTI ... EXEC)
// on a connection of their own.
//
// WATCH belongs to a connection, so on a client many callers share it is
// unsafe (docs/client.md). A `transactions` object owns its own client (one
// connection) and runs one transaction at a time on it, so nothing else
// can end or borrow its watch:
//
//   rcache::transactions tx(ex, cfg);
//   std::vector<std::string> watched{"balance:1"};
//   rcache::request reads;
//   reads.push("GET", "balance:1");
//   auto plan = [](const rcache::response& got) -> std::optional<rcache::request> {
//     const auto balance = got.at(0).is_null() ? 0 : std::stoll(got.at(0).str);
//     if (balance < 10) return std::nullopt;        // nothing to do
//     rcache::request w;
//     w.push("SET", "balance:1", balance - 10);
//     return w;
//   };
//   auto r = co_await tx.async_run(watched, reads, plan, asio::use_awaitable);
//   // rcache::reply<rcache::response>: EXEC's replies (docs/client.md has
//   // the same example, compiled by a test)
//
// Each attempt: WATCH the keys, send `reads`, hand their replies to `plan`;
// the request `plan` returns runs between MULTI and EXEC. When another
// client changed a watched key, EXEC answers null and the transaction runs
// again from the reads, at most max_attempts times; then
// error::transaction_conflict. `plan` returning nullopt ends it with an
// empty response (and UNWATCH). An error reply inside the transaction is a
// value in EXEC's replies; a refused MULTI ... EXEC (EXECABORT) is
// error::redis_error with Redis's message. A connection lost mid-way fails
// the transaction (its watch is gone with the connection); it is not
// retried.
//
// Threading: thread-safe; `plan` runs on the client's strand and must not
// block. Transactions queue and run in the order they were submitted.
#pragma once

#include <rcache/client.hpp>
#include <rcache/reply.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rcache {

class transactions {
 public:
  /// The commands to run atomically, from the reads' replies; nullopt: none.
  using plan_fn = std::function<std::optional<request>(const response& reads)>;
  using handler = boost::asio::any_completion_handler<void(reply<response>)>;

  /// Opens a client of its own on `ex` with `cfg` (cfg.server, a Sentinel
  /// or a cluster: on a cluster, every key of a transaction must be in one
  /// slot, as Redis requires).
  transactions(client::executor_type ex, client_config cfg, int max_attempts = 16);
  ~transactions();
  transactions(const transactions&) = delete;
  transactions& operator=(const transactions&) = delete;

  /// Runs one transaction (above); completes with void(reply<response>).
  template <class CompletionToken>
  auto async_run(std::vector<std::string> watch, request reads, plan_fn plan,
                 CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(reply<response>)>(
        [impl = impl_](auto h, std::vector<std::string> w, request r, plan_fn p) {
          submit(impl, std::move(w), std::move(r), std::move(p), handler(std::move(h)));
        },
        token, std::move(watch), std::move(reads), std::move(plan));
  }

  /// The connection the transactions run on (stats, state).
  [[nodiscard]] client& connection() noexcept;

 private:
  struct impl;
  static void submit(const std::shared_ptr<impl>& i, std::vector<std::string> watch, request reads,
                     plan_fn plan, handler h);
  std::shared_ptr<impl> impl_;
};

}  // namespace rcache
