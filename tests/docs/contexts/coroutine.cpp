// doc-test context: a fragment that runs inside a coroutine, with the names
// the docs' coroutine examples use (tests/docs/doc_examples.py).
#include <rcache/cache.hpp>
#include <rcache/client.hpp>
#include <rcache/subscriber.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>
namespace asio = boost::asio;
using namespace std::chrono_literals;
// ---- block ----
[[maybe_unused]] asio::awaitable<void> example(asio::io_context& ioc, rcache::client& client,
                                               rcache::client& redis, rcache::cache_options opts,
                                               rcache::loader load_user, std::string payload) {
  [[maybe_unused]] auto handle = [](const rcache::message&) {};
  [[maybe_unused]] auto resync = [] {};
@BLOCK@
  co_return;
}
