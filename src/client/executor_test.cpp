// Unit tests of what rcache::client accepts as its executor: an
// io_context's (tracking work or not), and nothing else, a strand included
// (the client runs on a strand of its own). Constructing a client does not
// connect, so no server is needed.
#include <rcache/client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>

namespace rcache {
namespace {

namespace asio = boost::asio;

TEST(ClientExecutor, AnIoContextsExecutorIsTaken) {
  asio::io_context ioc;
  client plain(ioc.get_executor(), client_config{});
  EXPECT_EQ(plain.state(), connection_state::idle);
  client tracked(asio::require(ioc.get_executor(), asio::execution::outstanding_work.tracked),
                 client_config{});
  EXPECT_EQ(tracked.state(), connection_state::idle);
  EXPECT_TRUE(plain.get_executor() == client::executor_type(ioc.get_executor()));
}

TEST(ClientExecutor, AStrandOrAnotherExecutorIsRefused) {
  asio::io_context ioc;
  EXPECT_THROW(client(asio::make_strand(ioc), client_config{}), std::invalid_argument);
  asio::thread_pool pool(1);
  EXPECT_THROW(client(pool.get_executor(), client_config{}), std::invalid_argument);
  pool.join();
}

}  // namespace
}  // namespace rcache
