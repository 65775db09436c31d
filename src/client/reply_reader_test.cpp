// Unit tests of the read side of a Redis connection: values taken from
// reads split at every offset, as TCP may deliver them, and malformed bytes.
#include "client/reply_reader.hpp"

#include <boost/asio/buffer.hpp>
#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace rcache::detail {
namespace {

// Delivers `bytes` in reads of at most `chunk` bytes (the last read
// shorter), taking every value after each read as a read loop does.
std::vector<value> read_all(std::string_view bytes, std::size_t chunk,
                            boost::system::error_code& ec) {
  reply_reader r({}, 64);
  std::vector<value> out;
  for (std::size_t at = 0; at < bytes.size() && !ec;) {
    auto space = r.space();
    const auto n = std::min({chunk, space.size(), bytes.size() - at});
    std::memcpy(space.data(), bytes.data() + at, n);
    r.commit(n);
    at += n;
    while (auto v = r.next(ec)) out.push_back(std::move(*v));
  }
  return out;
}

TEST(ReplyReader, ValuesAreTheSameWhereverTheReadsSplit) {
  // Three replies and a push, one of them longer than the 64-byte buffer.
  const std::string big(100, 'x');
  const std::string bytes =
      "+OK\r\n:42\r\n$100\r\n" + big + "\r\n>3\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n_\r\n";
  for (std::size_t chunk = 1; chunk <= 64; ++chunk) {
    boost::system::error_code ec;
    const auto v = read_all(bytes, chunk, ec);
    ASSERT_FALSE(ec) << "reads of " << chunk << ": " << ec.message();
    ASSERT_EQ(v.size(), 4u) << "reads of " << chunk;
    EXPECT_EQ(v[0].str, "OK");
    EXPECT_EQ(v[1].integer, 42);
    EXPECT_EQ(v[2].str, big);
    EXPECT_EQ(v[3].type, resp_type::push);
    ASSERT_EQ(v[3].elements.size(), 3u);
    EXPECT_EQ(v[3].elements[1].elements.at(0).str, "k");
  }
}

TEST(ReplyReader, MalformedBytesStopTheReaderWithAnError) {
  boost::system::error_code ec;
  const auto v = read_all("+OK\r\n?nonsense\r\n:1\r\n", 7, ec);
  EXPECT_TRUE(ec);
  EXPECT_EQ(v.size(), 1u) << "the value before the bad bytes is taken";
}

TEST(ReplyReader, ResetForgetsAPartialValue) {
  reply_reader r({}, 64);
  auto space = r.space();
  std::memcpy(space.data(), "$5\r\nab", 6);
  r.commit(6);
  boost::system::error_code ec;
  EXPECT_FALSE(r.next(ec));
  EXPECT_FALSE(ec);
  r.reset();  // the connection dropped mid-value; the next one starts clean
  space = r.space();
  std::memcpy(space.data(), ":7\r\n", 4);
  r.commit(4);
  const auto v = r.next(ec);
  ASSERT_TRUE(v) << ec.message();
  EXPECT_EQ(v->integer, 7);
}

}  // namespace
}  // namespace rcache::detail
