// Unit tests of the RESP serializer: exact bytes for commands and their
// arguments, and round trips through the parser for commands and values.
#include <rcache/detail/resp_command.hpp>

#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <vector>

#include "resp/parser.hpp"

namespace rcache::resp {
namespace {

using namespace std::string_literals;

std::string bulk_of(std::string_view s) {
  std::string out;
  append_bulk(out, s);
  return out;
}
std::string bulk_of(std::int64_t n) {
  std::string out;
  append_bulk(out, n);
  return out;
}
std::string bulk_of(std::uint64_t n) {
  std::string out;
  append_bulk(out, n);
  return out;
}
std::string bulk_of(double d) {
  std::string out;
  append_bulk(out, d);
  return out;
}

// Parses exactly one value that must span all of `wire`.
value parse_one(std::string_view wire) {
  parser p;
  boost::system::error_code ec;
  const std::size_t n = p.feed(wire, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(n, wire.size());
  EXPECT_TRUE(p.ready());
  return p.ready() ? p.take() : value{};
}

TEST(command, array_header) {
  std::string out;
  append_array_header(out, 0);
  append_array_header(out, 3);
  append_array_header(out, std::numeric_limits<std::size_t>::max());
  EXPECT_EQ(out, "*0\r\n*3\r\n*18446744073709551615\r\n");
}

TEST(command, bulk_strings) {
  EXPECT_EQ(bulk_of(std::string_view("hello")), "$5\r\nhello\r\n");
  EXPECT_EQ(bulk_of(std::string_view("")), "$0\r\n\r\n");
  EXPECT_EQ(bulk_of(std::string_view("a\0\r\nb"s)), "$5\r\na\0\r\nb\r\n"s);
}

TEST(command, integers) {
  EXPECT_EQ(bulk_of(std::int64_t{0}), "$1\r\n0\r\n");
  EXPECT_EQ(bulk_of(std::int64_t{-1}), "$2\r\n-1\r\n");
  EXPECT_EQ(bulk_of(std::numeric_limits<std::int64_t>::min()), "$20\r\n-9223372036854775808\r\n");
  EXPECT_EQ(bulk_of(std::numeric_limits<std::int64_t>::max()), "$19\r\n9223372036854775807\r\n");
  EXPECT_EQ(bulk_of(std::numeric_limits<std::uint64_t>::max()), "$20\r\n18446744073709551615\r\n");
}

TEST(command, doubles_in_shortest_form) {
  EXPECT_EQ(bulk_of(0.1), "$3\r\n0.1\r\n");
  EXPECT_EQ(bulk_of(1.5), "$3\r\n1.5\r\n");
  EXPECT_EQ(bulk_of(3.0), "$1\r\n3\r\n");
  EXPECT_EQ(bulk_of(-0.0), "$2\r\n-0\r\n");
  EXPECT_EQ(bulk_of(1e21), "$5\r\n1e+21\r\n");
  EXPECT_EQ(bulk_of(std::numeric_limits<double>::infinity()), "$3\r\ninf\r\n");
  EXPECT_EQ(bulk_of(-std::numeric_limits<double>::infinity()), "$4\r\n-inf\r\n");
  EXPECT_EQ(bulk_of(0.1 + 0.2), "$19\r\n0.30000000000000004\r\n");
}

TEST(command, whole_command_exact_bytes) {
  std::string out = "previous";
  append_command(out, "SET", "key", std::string("value"), std::string_view("v2"));
  EXPECT_EQ(out, "previous*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n$2\r\nv2\r\n");
}

TEST(command, mixed_arguments) {
  std::string out;
  append_command(out, "ZADD", "z", 1.5, -7, 42u, true, false, std::int16_t{-3}, 2.5f);
  EXPECT_EQ(out,
            "*9\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.5\r\n$2\r\n-7\r\n$2\r\n42\r\n$1\r\n1\r\n"
            "$1\r\n0\r\n$2\r\n-3\r\n$3\r\n2.5\r\n");
}

TEST(command, command_parses_back_as_bulk_strings) {
  std::string out;
  const std::string binary = "\r\n\0$*"s;
  append_command(out, "HSET", "h", binary, 12345678901234LL, 0.25);
  const value v = parse_one(out);
  ASSERT_EQ(v.type, resp_type::array);
  const std::vector<std::string> want = {"HSET", "h", binary, "12345678901234", "0.25"};
  ASSERT_EQ(v.elements.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(v.elements[i].type, resp_type::bulk_string);
    EXPECT_EQ(v.elements[i].str, want[i]);
  }
}

// ---- append_value ---------------------------------------------------------------------

TEST(command, append_value_exact_bytes) {
  value m = value::make_array(
      {value::make_string("k", resp_type::simple_string), value::make_integer(-1)}, resp_type::map);
  value verbatim = value::make_string("hi", resp_type::verbatim_string);
  verbatim.format = {'t', 'x', 't'};
  value d;
  d.type = resp_type::double_number;
  d.number = 2.5;  // no wire text: written in shortest form
  value b;
  b.type = resp_type::boolean;
  b.integer = 1;
  value annotated = value::make_string("x");
  annotated.attributes = {value::make_string("a", resp_type::simple_string), value{}};

  std::string out;
  for (const value& v : {m, verbatim, d, b, value{}, annotated}) append_value(out, v);
  EXPECT_EQ(out,
            "%1\r\n+k\r\n:-1\r\n"
            "=6\r\ntxt:hi\r\n"
            ",2.5\r\n"
            "#t\r\n"
            "_\r\n"
            "|1\r\n+a\r\n_\r\n$1\r\nx\r\n");
}

TEST(command, append_value_round_trips_every_type) {
  const std::string wire =
      "|1\r\n+meta\r\n%1\r\n(123\r\n,-inf\r\n"
      "*12\r\n+OK\r\n-ERR no\r\n:-5\r\n$3\r\na\r\n\r\n_\r\n#f\r\n,1.5e10\r\n(-99\r\n"
      "!3\r\nBAD\r\n=7\r\nmkd:# x\r\n%1\r\n~1\r\n:1\r\n>1\r\n|1\r\n+a\r\n+b\r\n$0\r\n\r\n"
      "*0\r\n";
  const value original = parse_one(wire);
  std::string out;
  append_value(out, original);
  EXPECT_EQ(out, wire);
  EXPECT_EQ(parse_one(out), original);
}

}  // namespace
}  // namespace rcache::resp
