// Unit tests of exec_handler, the type-erased completion of async_exec:
// where a handler runs (inline without an executor, dispatched to its own
// otherwise), small and large handlers, moves, and handlers destroyed
// without running.
#include <rcache/detail/exec_handler.hpp>

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <memory>

namespace rcache::detail {
namespace {

using boost::system::error_code;

response one_reply(std::string s) {
  value v;
  v.type = resp_type::bulk_string;
  v.str = std::move(s);
  return response{std::move(v)};
}

TEST(ExecHandler, AHandlerWithoutAnExecutorRunsInline) {
  std::string got;
  exec_handler h([&got](error_code ec, response r) { got = ec ? "error" : r.at(0).str; });
  ASSERT_TRUE(h);
  std::move(h)(error_code{}, one_reply("v"));
  EXPECT_EQ(got, "v");
  EXPECT_FALSE(h) << "completing empties it";
}

TEST(ExecHandler, AHandlerWithAnExecutorRunsThere) {
  boost::asio::io_context ioc;
  bool ran = false;
  exec_handler h(boost::asio::bind_executor(ioc, [&ran, &ioc](error_code, response) {
    ran = ioc.get_executor().running_in_this_thread();
  }));
  std::move(h)(error_code{}, response{});
  EXPECT_FALSE(ran) << "not inline: this thread does not run the io_context";
  ioc.run();
  EXPECT_TRUE(ran);
}

TEST(ExecHandler, LargeHandlersAndMovesKeepWhatTheyCapture) {
  auto token = std::make_shared<int>(7);
  std::array<char, 300> big{};  // past the inline storage
  big[299] = 'z';
  int seen = 0;
  char last = 0;
  exec_handler small([token, &seen](error_code, response) { seen += *token; });
  exec_handler large([token, big, &last](error_code, response) { last = big[299]; });
  EXPECT_EQ(token.use_count(), 3);
  exec_handler moved(std::move(large));
  EXPECT_FALSE(large);
  exec_handler assigned;
  assigned = std::move(small);
  assigned.swap(moved);  // `assigned` holds the large one now
  std::move(assigned)(error_code{}, response{});
  std::move(moved)(error_code{}, response{});
  EXPECT_EQ(last, 'z');
  EXPECT_EQ(seen, 7);
  EXPECT_EQ(token.use_count(), 1) << "each capture destroyed once, after running";
}

TEST(ExecHandler, AHandlerDestroyedUnrunReleasesWhatItHolds) {
  auto token = std::make_shared<int>(0);
  {
    exec_handler h([token](error_code, response) {});
    exec_handler other([token, pad = std::array<char, 300>{}](error_code, response) {});
    EXPECT_EQ(token.use_count(), 3);
  }
  EXPECT_EQ(token.use_count(), 1);
}

}  // namespace
}  // namespace rcache::detail
