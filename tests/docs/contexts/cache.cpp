// doc-test context: a fragment that uses a cache `c` and a database `db`
// with an asynchronous, a coroutine and a blocking lookup
// (tests/docs/doc_examples.py).
#include <rcache/cache.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <optional>
#include <string>
namespace asio = boost::asio;
// ---- block ----
struct database {
  asio::any_io_executor ex;
  template <class Handler>
  void async_find_user(const std::string&, Handler&& h) {
    asio::post(ex, asio::append(std::forward<Handler>(h), boost::system::error_code{},
                                std::optional<std::string>("user")));
  }
  asio::awaitable<std::optional<std::string>> find_user(const std::string&) {
    co_return std::optional<std::string>("user");
  }
  rcache::result<std::optional<std::string>> find_user_blocking(const std::string&) {
    return std::optional<std::string>("user");
  }
};
[[maybe_unused]] void example(std::unique_ptr<rcache::cache>& c, database& db,
                              const std::string& id) {
  [[maybe_unused]] auto token = asio::detached;
@BLOCK@
}
