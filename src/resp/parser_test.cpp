// Unit tests of the RESP2 / RESP3 parser.
//
// Every sample stream is parsed whole, split in two at every byte offset,
// byte by byte and in pseudo-random pieces; all must give the same values.
// Each piece is handed to the parser in its own heap buffer that is wiped and
// freed right after feed(), so a parser that kept a pointer into its input
// fails here (and under ASan, loudly). Every error and every limit has a test
// asserting its specific code. A replaced global operator new records the
// allocations made inside feed(), to prove that a declared size alone never
// allocates more than a small bounded amount.
#include "resp/parser.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <limits>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "allocation_probe.hpp"  // replaces operator new in this binary

namespace rcache::resp {
namespace {

using namespace std::string_literals;

using test::allocation_probe;

// ---- value builders -----------------------------------------------------------------

value bulk(std::string s) {
  return value::make_string(std::move(s));
}
value simple(std::string s) {
  return value::make_string(std::move(s), resp_type::simple_string);
}
value simple_err(std::string s) {
  return value::make_string(std::move(s), resp_type::simple_error);
}
value bulk_err(std::string s) {
  return value::make_string(std::move(s), resp_type::bulk_error);
}
value big(std::string s) {
  return value::make_string(std::move(s), resp_type::big_number);
}
value integer(std::int64_t i) {
  return value::make_integer(i);
}
value nil() {
  return value{};
}
value boolean(bool b) {
  value v;
  v.type = resp_type::boolean;
  v.integer = b ? 1 : 0;
  return v;
}
value dbl(double d, std::string text) {
  return value::make_double(d, std::move(text));
}
value verbatim(const char (&format)[4], std::string text) {
  value v = value::make_string(std::move(text), resp_type::verbatim_string);
  v.format = {format[0], format[1], format[2]};
  return v;
}
value array(std::vector<value> e) {
  return value::make_array(std::move(e));
}
value map(std::vector<value> e) {
  return value::make_array(std::move(e), resp_type::map);
}
value set(std::vector<value> e) {
  return value::make_array(std::move(e), resp_type::set);
}
value push(std::vector<value> e) {
  return value::make_array(std::move(e), resp_type::push);
}
value with_attributes(value v, std::vector<value> attributes) {
  v.attributes = std::move(attributes);
  return v;
}

// Value equality where NaN equals NaN (a parsed ",nan" must match its sample).
bool same(const value& a, const value& b) {
  const bool numbers_equal = a.number == b.number || (std::isnan(a.number) && std::isnan(b.number));
  if (a.type != b.type || a.str != b.str || a.integer != b.integer || !numbers_equal ||
      a.format != b.format || a.elements.size() != b.elements.size() ||
      a.attributes.size() != b.attributes.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.elements.size(); ++i) {
    if (!same(a.elements[i], b.elements[i])) return false;
  }
  for (std::size_t i = 0; i < a.attributes.size(); ++i) {
    if (!same(a.attributes[i], b.attributes[i])) return false;
  }
  return true;
}

std::string show(const std::vector<value>& vs) {
  std::string out;
  for (const value& v : vs) {
    out.append("[").append(to_string(v.type)).append("] ").append(to_display(v)).append("\n");
  }
  return out;
}

// ---- the feeding harness ------------------------------------------------------------

struct outcome {
  std::vector<value> values;
  boost::system::error_code ec;
  std::size_t leftover = 0;  // bytes the parser was given but did not consume
};

// Plays a caller: appends each piece to its buffer, feeds, takes every ready
// value, discards consumed bytes. Each feed() sees a fresh heap copy that is
// wiped and freed afterwards.
outcome feed_pieces(const std::vector<std::string_view>& pieces, limits l = {}) {
  parser p(l);
  outcome r;
  std::string pending;
  for (const std::string_view piece : pieces) {
    pending.append(piece);
    for (;;) {
      auto copy = std::make_unique<char[]>(pending.size() + 1);
      std::memcpy(copy.get(), pending.data(), pending.size());
      const std::size_t n = p.feed({copy.get(), pending.size()}, r.ec);
      std::memset(copy.get(), 0x5a, pending.size());
      copy.reset();
      if (r.ec) {
        r.leftover = pending.size();
        return r;
      }
      if (n > pending.size()) {
        ADD_FAILURE() << "feed() consumed " << n << " of " << pending.size() << " bytes";
        return r;
      }
      pending.erase(0, n);
      if (!p.ready()) {
        // Not ready means the parser wants more: it must have taken everything.
        if (!pending.empty()) ADD_FAILURE() << "feed() stopped early without a value";
        break;
      }
      r.values.push_back(p.take());
      if (p.ready()) ADD_FAILURE() << "ready() still true after take()";
    }
  }
  r.leftover = pending.size();
  return r;
}

outcome feed_whole(std::string_view s, limits l = {}) {
  return feed_pieces({s}, l);
}

outcome feed_split(std::string_view s, std::size_t at, limits l = {}) {
  return feed_pieces({s.substr(0, at), s.substr(at)}, l);
}

outcome feed_bytes(std::string_view s, limits l = {}) {
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < s.size(); ++i) pieces.push_back(s.substr(i, 1));
  return feed_pieces(pieces, l);
}

outcome feed_random(std::string_view s, unsigned seed, limits l = {}) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(1, 9);
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = std::min(size(rng), s.size() - i);
    pieces.push_back(s.substr(i, n));
    i += n;
  }
  return feed_pieces(pieces, l);
}

testing::AssertionResult parses_to(const outcome& got, const std::vector<value>& want) {
  if (got.ec) return testing::AssertionFailure() << "error: " << got.ec.message();
  if (got.leftover != 0) return testing::AssertionFailure() << got.leftover << " bytes left";
  bool equal = got.values.size() == want.size();
  for (std::size_t i = 0; equal && i < want.size(); ++i) equal = same(got.values[i], want[i]);
  if (!equal) {
    return testing::AssertionFailure() << "got:\n" << show(got.values) << "want:\n" << show(want);
  }
  return testing::AssertionSuccess();
}

// Whole, split at every offset, byte by byte and in random pieces: all equal.
void expect_parses_everywhere(std::string_view wire, const std::vector<value>& want,
                              limits l = {}) {
  SCOPED_TRACE(testing::Message() << "stream: " << testing::PrintToString(std::string(wire)));
  EXPECT_TRUE(parses_to(feed_whole(wire, l), want)) << "whole";
  for (std::size_t at = 1; at < wire.size(); ++at) {
    EXPECT_TRUE(parses_to(feed_split(wire, at, l), want)) << "split at " << at;
  }
  EXPECT_TRUE(parses_to(feed_bytes(wire, l), want)) << "byte by byte";
  for (unsigned seed = 1; seed <= 8; ++seed) {
    EXPECT_TRUE(parses_to(feed_random(wire, seed, l), want)) << "random pieces, seed " << seed;
  }
}

// The same error code whatever the split, and nothing parsed before it.
void expect_error_everywhere(std::string_view wire, error e, limits l = {}) {
  SCOPED_TRACE(testing::Message() << "stream: " << testing::PrintToString(std::string(wire)));
  const boost::system::error_code want = make_error_code(e);
  auto check = [&](const outcome& got, const std::string& how) {
    EXPECT_EQ(got.ec, want) << how << ": got " << got.ec.message();
    EXPECT_TRUE(got.values.empty()) << how << ": parsed " << show(got.values);
  };
  check(feed_whole(wire, l), "whole");
  for (std::size_t at = 1; at < wire.size(); ++at) {
    check(feed_split(wire, at, l), "split at " + std::to_string(at));
  }
  check(feed_bytes(wire, l), "byte by byte");
}

// ---- samples: one per RESP3 type, RESP2 forms, nesting, attributes --------------------

struct sample {
  std::string name;
  std::string wire;
  value want;
};

std::vector<sample> samples() {
  return {
      {"simple string", "+OK\r\n", simple("OK")},
      {"empty simple string", "+\r\n", simple("")},
      {"simple error", "-ERR unknown command 'foo'\r\n", simple_err("ERR unknown command 'foo'")},
      {"integer", ":1000\r\n", integer(1000)},
      {"negative integer", ":-42\r\n", integer(-42)},
      {"integer with plus", ":+7\r\n", integer(7)},
      {"int64 max", ":9223372036854775807\r\n", integer(std::numeric_limits<std::int64_t>::max())},
      {"int64 min", ":-9223372036854775808\r\n", integer(std::numeric_limits<std::int64_t>::min())},
      {"bulk string", "$5\r\nhello\r\n", bulk("hello")},
      {"empty bulk string", "$0\r\n\r\n", bulk("")},
      {"binary bulk string", "$7\r\na\r\n\0b\rc\r\n"s, bulk("a\r\n\0b\rc"s)},
      {"array", "*2\r\n$3\r\nfoo\r\n:1\r\n", array({bulk("foo"), integer(1)})},
      {"empty array", "*0\r\n", array({})},
      {"null", "_\r\n", nil()},
      {"true", "#t\r\n", boolean(true)},
      {"false", "#f\r\n", boolean(false)},
      {"double", ",3.14\r\n", dbl(3.14, "3.14")},
      {"double integral", ",10\r\n", dbl(10, "10")},
      {"double exponent", ",1.5e10\r\n", dbl(1.5e10, "1.5e10")},
      {"double negative exponent", ",-2E-3\r\n", dbl(-2e-3, "-2E-3")},
      {"double with plus", ",+1.5\r\n", dbl(1.5, "+1.5")},
      {"inf", ",inf\r\n", dbl(std::numeric_limits<double>::infinity(), "inf")},
      {"-inf", ",-inf\r\n", dbl(-std::numeric_limits<double>::infinity(), "-inf")},
      {"nan", ",nan\r\n", dbl(std::numeric_limits<double>::quiet_NaN(), "nan")},
      {"big number", "(3492890328409238509324850943850943825024385\r\n",
       big("3492890328409238509324850943850943825024385")},
      {"negative big number", "(-3492890328409238509324850943850943825024385\r\n",
       big("-3492890328409238509324850943850943825024385")},
      {"bulk error", "!21\r\nSYNTAX invalid syntax\r\n", bulk_err("SYNTAX invalid syntax")},
      {"verbatim string", "=15\r\ntxt:Some string\r\n", verbatim("txt", "Some string")},
      {"empty verbatim string", "=4\r\nmkd:\r\n", verbatim("mkd", "")},
      {"map", "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
       map({simple("first"), integer(1), simple("second"), integer(2)})},
      {"empty map", "%0\r\n", map({})},
      {"set", "~3\r\n+a\r\n+b\r\n+c\r\n", set({simple("a"), simple("b"), simple("c")})},
      {"empty set", "~0\r\n", set({})},
      {"push", ">3\r\n$7\r\nmessage\r\n$7\r\nchannel\r\n$5\r\nhello\r\n",
       push({bulk("message"), bulk("channel"), bulk("hello")})},
      {"empty push", ">0\r\n", push({})},
      {"resp2 null bulk", "$-1\r\n", nil()},
      {"resp2 null array", "*-1\r\n", nil()},
      {"resp2 reply", "*3\r\n$3\r\nfoo\r\n$-1\r\n:42\r\n",
       array({bulk("foo"), nil(), integer(42)})},
      {"nested", "*4\r\n*2\r\n:1\r\n:2\r\n%1\r\n+k\r\n~1\r\n_\r\n*0\r\n>1\r\n*1\r\n#f\r\n",
       array({array({integer(1), integer(2)}), map({simple("k"), set({nil()})}), array({}),
              push({array({boolean(false)})})})},
      {"map of aggregates", "%2\r\n$1\r\na\r\n*2\r\n#t\r\n_\r\n$1\r\nb\r\n%0\r\n",
       map({bulk("a"), array({boolean(true), nil()}), bulk("b"), map({})})},
      {"attribute (spec example)",
       "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
       "*2\r\n:2039123\r\n:9543892\r\n",
       with_attributes(array({integer(2039123), integer(9543892)}),
                       {simple("key-popularity"), map({bulk("a"), dbl(0.1923, "0.1923"), bulk("b"),
                                                       dbl(0.0012, "0.0012")})})},
      {"attribute on a scalar", "|1\r\n+ttl\r\n:3600\r\n$3\r\nfoo\r\n",
       with_attributes(bulk("foo"), {simple("ttl"), integer(3600)})},
      {"attribute inside an array", "*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n",
       array({integer(1), with_attributes(integer(2), {simple("ttl"), integer(3600)})})},
      {"attribute on a nested aggregate, not its child", "*1\r\n|1\r\n+a\r\n+b\r\n*1\r\n:1\r\n",
       array({with_attributes(array({integer(1)}), {simple("a"), simple("b")})})},
      {"attribute on a map value", "%1\r\n+k\r\n|1\r\n+a\r\n+b\r\n$1\r\nv\r\n",
       map({simple("k"), with_attributes(bulk("v"), {simple("a"), simple("b")})})},
      {"attribute inside an attribute", "|1\r\n|1\r\n+x\r\n+y\r\n+k\r\n+v\r\n:1\r\n",
       with_attributes(integer(1),
                       {with_attributes(simple("k"), {simple("x"), simple("y")}), simple("v")})},
      {"two attributes in a row", "|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n#t\r\n",
       with_attributes(boolean(true), {simple("a"), simple("b"), simple("c"), simple("d")})},
      {"empty attribute", "|0\r\n+OK\r\n", simple("OK")},
      {"attribute on a bulk error", "|1\r\n+a\r\n+b\r\n!3\r\nERR\r\n",
       with_attributes(bulk_err("ERR"), {simple("a"), simple("b")})},
      {"attribute on a null", "|1\r\n+a\r\n+b\r\n_\r\n",
       with_attributes(nil(), {simple("a"), simple("b")})},
      {"attribute on an empty array", "|1\r\n+a\r\n+b\r\n*0\r\n",
       with_attributes(array({}), {simple("a"), simple("b")})},
  };
}

TEST(parser, every_sample_split_everywhere) {
  for (const sample& s : samples()) {
    SCOPED_TRACE(s.name);
    expect_parses_everywhere(s.wire, {s.want});
  }
}

TEST(parser, concatenated_samples_split_everywhere) {
  std::string wire;
  std::vector<value> want;
  for (const sample& s : samples()) {
    wire += s.wire;
    want.push_back(s.want);
  }
  expect_parses_everywhere(wire, want);
}

TEST(parser, attribute_counts_neither_as_element_nor_value) {
  const outcome got = feed_whole("*1\r\n|1\r\n+a\r\n+b\r\n:7\r\n+next\r\n");
  ASSERT_TRUE(parses_to(
      got, {array({with_attributes(integer(7), {simple("a"), simple("b")})}), simple("next")}));
  EXPECT_EQ(got.values[0].elements.size(), 1u);
  EXPECT_TRUE(got.values[0].attributes.empty());
  EXPECT_TRUE(got.values[1].attributes.empty()) << "attributes leaked to the next reply";
}

TEST(parser, error_code_of_parsed_errors) {
  const outcome got = feed_whole("-WRONGTYPE Operation against a key\r\n!11\r\nNOSCRIPT no\r\n");
  ASSERT_EQ(got.values.size(), 2u);
  EXPECT_EQ(got.values[0].error_code(), "WRONGTYPE");
  EXPECT_EQ(got.values[1].error_code(), "NOSCRIPT");
}

// ---- feed() and the caller ------------------------------------------------------------

TEST(parser, feed_stops_after_one_top_level_value) {
  parser p;
  boost::system::error_code ec;
  const std::string wire = "+a\r\n:1\r\n";
  EXPECT_EQ(p.feed(wire, ec), 4u);
  EXPECT_FALSE(ec);
  ASSERT_TRUE(p.ready());
  EXPECT_EQ(p.feed(std::string_view(wire).substr(4), ec), 0u) << "fed while a value waits";
  EXPECT_TRUE(p.ready());
  EXPECT_TRUE(same(p.take(), simple("a")));
  EXPECT_FALSE(p.ready());
  EXPECT_EQ(p.feed(std::string_view(wire).substr(4), ec), 4u);
  ASSERT_TRUE(p.ready());
  EXPECT_TRUE(same(p.take(), integer(1)));
}

TEST(parser, incomplete_input_waits_for_more) {
  parser p;
  boost::system::error_code ec;
  EXPECT_EQ(p.feed("$5\r\nhel", ec), 7u);
  EXPECT_FALSE(ec);
  EXPECT_FALSE(p.ready());
  EXPECT_EQ(p.feed("", ec), 0u);
  EXPECT_FALSE(p.ready());
  EXPECT_EQ(p.feed("lo\r", ec), 3u);
  EXPECT_FALSE(p.ready());
  EXPECT_EQ(p.feed("\n", ec), 1u);
  ASSERT_TRUE(p.ready());
  EXPECT_TRUE(same(p.take(), bulk("hello")));
}

TEST(parser, error_is_sticky_until_reset) {
  parser p;
  boost::system::error_code ec;
  p.feed("?\r\n", ec);
  EXPECT_EQ(ec, make_error_code(error::resp_invalid_type));
  EXPECT_EQ(p.feed("+OK\r\n", ec), 0u);
  EXPECT_EQ(ec, make_error_code(error::resp_invalid_type));
  EXPECT_FALSE(p.ready());
  p.reset();
  EXPECT_EQ(p.feed("+OK\r\n", ec), 5u);
  EXPECT_FALSE(ec);
  ASSERT_TRUE(p.ready());
  EXPECT_TRUE(same(p.take(), simple("OK")));
}

TEST(parser, reset_drops_partial_state) {
  parser p;
  boost::system::error_code ec;
  p.feed("*3\r\n|1\r\n+a\r\n+b\r\n:1\r\n$10\r\nabc", ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(p.ready());
  p.reset();
  EXPECT_EQ(p.feed("+OK\r\n", ec), 5u);
  ASSERT_TRUE(p.ready());
  const value v = p.take();
  EXPECT_TRUE(same(v, simple("OK"))) << to_display(v);
}

TEST(parser, reset_in_the_middle_of_a_crlf) {
  parser p;
  boost::system::error_code ec;
  p.feed("+abc\r", ec);
  p.reset();
  EXPECT_EQ(p.feed("+OK\r\n", ec), 5u);
  EXPECT_FALSE(ec);
  ASSERT_TRUE(p.ready());
  EXPECT_TRUE(same(p.take(), simple("OK")));
}

// ---- protocol errors ------------------------------------------------------------------

TEST(parser, invalid_type) {
  for (const std::string& wire : {"x\r\n"s, "\r\n"s, "@1\r\n"s, " +OK\r\n"s, "\0\r\n"s}) {
    expect_error_everywhere(wire, error::resp_invalid_type);
  }
  expect_error_everywhere("*2\r\n:1\r\nx\r\n", error::resp_invalid_type);  // inside an aggregate
}

TEST(parser, invalid_integer) {
  for (const char* wire : {":\r\n",
                           ":abc\r\n",
                           ":1.5\r\n",
                           ": 1\r\n",
                           ":1 \r\n",
                           ":0x10\r\n",
                           ":+\r\n",
                           ":-\r\n",
                           ":+-1\r\n",
                           ":9223372036854775808\r\n",
                           ":-9223372036854775809\r\n",
                           ":99999999999999999999\r\n",
                           "$\r\n",
                           "$abc\r\n",
                           "$+3\r\n",
                           "$1.0\r\n",
                           "$-2\r\n",
                           "$-100\r\n",
                           "!-1\r\n",
                           "=-1\r\n",
                           "*\r\n",
                           "*-2\r\n",
                           "*+1\r\n",
                           "%-1\r\n",
                           "~-1\r\n",
                           ">-1\r\n",
                           "|-1\r\n",
                           "*99999999999999999999\r\n",
                           "(\r\n",
                           "(-\r\n",
                           "(12a\r\n",
                           "(1.5\r\n"}) {
    expect_error_everywhere(wire, error::resp_invalid_integer);
  }
}

TEST(parser, streamed_types_are_refused) {
  // RESP3 streamed strings and aggregates; Redis never sends them.
  for (const char* wire : {"$?\r\n;4\r\nHell\r\n;0\r\n", "*?\r\n:1\r\n.\r\n", "%?\r\n", "~?\r\n"}) {
    expect_error_everywhere(wire, error::resp_invalid_integer);
  }
}

TEST(parser, invalid_double) {
  for (const char* wire : {",\r\n", ",abc\r\n", ",1.5.5\r\n", ",1e\r\n", ",+-1\r\n", ",0x1p3\r\n",
                           ",1e999\r\n", ", 1\r\n", ",1 \r\n", ",-\r\n", ",+\r\n"}) {
    expect_error_everywhere(wire, error::resp_invalid_double);
  }
}

TEST(parser, invalid_boolean) {
  for (const char* wire : {"#\r\n", "#x\r\n", "#T\r\n", "#tt\r\n", "#1\r\n", "#true\r\n"}) {
    expect_error_everywhere(wire, error::resp_invalid_boolean);
  }
}

TEST(parser, invalid_framing) {
  for (const char* wire : {
           "+OK\rX",              // CR not followed by LF
           "+OK\r\r\n",           // likewise
           "+O\nK\r\n",           // bare LF inside a line
           ":1\n",                // LF without CR, refused before any CR arrives
           "+OK\n\r\n",           // likewise
           "$3\r\nfooXY",         // no CRLF after the payload
           "$3\r\nfoo\rX",        // CR then not LF
           "$3\r\nfoo\n\r",       // swapped
           "$3\r\nfoobar\r\n",    // payload longer than declared
           "_x\r\n",              // null with a payload
           "=3\r\ntxt\r\n",       // verbatim too short for its header
           "=6\r\ntxtXab\r\n",    // verbatim without ':'
           "*1\r\n$1\r\nab\r\n",  // inside an aggregate
       }) {
    expect_error_everywhere(wire, error::resp_invalid_framing);
  }
}

// ---- limits ---------------------------------------------------------------------------

TEST(parser, bulk_length_limit) {
  limits l;
  l.max_bulk_length = 10;
  expect_parses_everywhere("$10\r\n0123456789\r\n", {bulk("0123456789")}, l);
  expect_error_everywhere("$11\r\n", error::resp_bulk_too_long, l);
  expect_error_everywhere("!11\r\n", error::resp_bulk_too_long, l);
  expect_error_everywhere("=11\r\n", error::resp_bulk_too_long, l);
  expect_error_everywhere("*1\r\n$9223372036854775807\r\n", error::resp_bulk_too_long, l);
}

TEST(parser, depth_limit) {
  limits l;
  l.max_depth = 3;
  expect_parses_everywhere("*1\r\n%1\r\n:1\r\n~1\r\n:2\r\n",
                           {array({map({integer(1), set({integer(2)})})})}, l);
  expect_error_everywhere("*1\r\n*1\r\n*1\r\n*1\r\n", error::resp_depth_exceeded, l);
  expect_error_everywhere("*1\r\n*1\r\n*1\r\n*0\r\n", error::resp_depth_exceeded, l);
  expect_error_everywhere(">1\r\n%1\r\n~1\r\n|1\r\n", error::resp_depth_exceeded, l);
}

TEST(parser, default_depth_limit_is_64) {
  std::string ok;
  for (int i = 0; i < 63; ++i) ok += "*1\r\n";
  ok += "*0\r\n";
  const outcome got = feed_whole(ok);
  EXPECT_FALSE(got.ec) << got.ec.message();
  EXPECT_EQ(got.values.size(), 1u);
  const outcome deep = feed_whole("*1\r\n" + ok);
  EXPECT_EQ(deep.ec, make_error_code(error::resp_depth_exceeded));
}

TEST(parser, aggregate_size_limit) {
  limits l;
  l.max_aggregate_size = 4;
  expect_parses_everywhere("*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n",
                           {array({integer(1), integer(2), integer(3), integer(4)})}, l);
  expect_parses_everywhere("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n",
                           {map({integer(1), integer(2), integer(3), integer(4)})}, l);
  for (const char* wire : {"*5\r\n", "~5\r\n", ">5\r\n", "%3\r\n", "|3\r\n",
                           "*9223372036854775807\r\n", "%9223372036854775807\r\n"}) {
    expect_error_everywhere(wire, error::resp_aggregate_too_large, l);
  }
}

TEST(parser, line_length_limit) {
  limits l;
  l.max_line_length = 8;
  expect_parses_everywhere("+12345678\r\n", {simple("12345678")}, l);
  expect_parses_everywhere("$00000008\r\nabcdefgh\r\n", {bulk("abcdefgh")}, l);
  // Refused as soon as the ninth byte arrives, without waiting for a CRLF.
  for (const char* wire : {"+123456789", "-123456789", ":123456789", ",123456789", "(123456789",
                           "$000000001", "*000000001", "+123456789\r\n"}) {
    expect_error_everywhere(wire, error::resp_line_too_long, l);
  }
}

TEST(parser, limits_at_their_maximum_do_not_overflow) {
  limits l;
  l.max_line_length = std::numeric_limits<std::size_t>::max();
  l.max_bulk_length = std::numeric_limits<std::size_t>::max();
  l.max_aggregate_size = std::numeric_limits<std::size_t>::max();
  l.max_depth = std::numeric_limits<std::size_t>::max();
  expect_parses_everywhere("+OK\r\n$3\r\nabc\r\n%1\r\n:1\r\n:2\r\n",
                           {simple("OK"), bulk("abc"), map({integer(1), integer(2)})}, l);
}

TEST(parser, default_line_limit_refuses_an_endless_line) {
  const std::string wire = "+" + std::string(64 * 1024, 'a');
  EXPECT_TRUE(parses_to(feed_whole(wire + "\r\n"), {simple(std::string(64 * 1024, 'a'))}));
  EXPECT_EQ(feed_whole(wire + "a").ec, make_error_code(error::resp_line_too_long));
}

// ---- declared sizes without data ---------------------------------------------------------

// Feeds `wire` to a fresh parser, which must want more input, and reports
// what feed() allocated.
struct probe_result {
  std::size_t largest = 0;
  std::size_t total = 0;
};
probe_result probe_waiting_feed(std::string_view wire, limits l = {}) {
  parser p(l);
  boost::system::error_code ec;
  std::size_t n = 0;
  probe_result r;
  {
    allocation_probe probe;
    n = p.feed(wire, ec);
    r = {probe.largest(), probe.total()};
  }
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(n, wire.size());
  EXPECT_FALSE(p.ready());
  return r;
}

TEST(parser, huge_declared_count_waits_without_allocating) {
  const probe_result r = probe_waiting_feed("*10000000\r\n");
  EXPECT_LE(r.largest, 1024 * sizeof(value));
  EXPECT_LE(r.total, 2 * 1024 * sizeof(value));
  const probe_result m = probe_waiting_feed("%8000000\r\n");
  EXPECT_LE(m.largest, 1024 * sizeof(value));
}

TEST(parser, huge_declared_count_then_data_keeps_waiting) {
  parser p;
  boost::system::error_code ec;
  EXPECT_EQ(p.feed("*10000000\r\n", ec), 11u);
  for (int i = 0; i < 3000; ++i) {
    ASSERT_EQ(p.feed(":1\r\n", ec), 4u);
    ASSERT_FALSE(ec);
  }
  EXPECT_FALSE(p.ready());
}

TEST(parser, huge_declared_bulk_waits_without_allocating) {
  const probe_result r = probe_waiting_feed("$536870912\r\n");  // exactly the default limit
  EXPECT_LE(r.largest, 64u * 1024 + 64);
  const probe_result e = probe_waiting_feed("!536870912\r\nabc");
  EXPECT_LE(e.largest, 64u * 1024 + 64);
}

TEST(parser, nested_huge_counts_stay_bounded) {
  std::string wire;
  for (int i = 0; i < 64; ++i) wire += "*16777216\r\n";  // the default depth and size limits
  const probe_result r = probe_waiting_feed(wire);
  EXPECT_LE(r.largest, 1024 * sizeof(value) + 64 * sizeof(value) * 2);
  EXPECT_LE(r.total, 65 * 1024 * sizeof(value));
}

TEST(parser, over_limit_counts_fail_without_allocating) {
  limits l;
  l.max_aggregate_size = 100;
  l.max_bulk_length = 100;
  for (const char* wire : {"*101\r\n", "%51\r\n", "$101\r\n", "*10000000\r\n"}) {
    parser p(l);
    boost::system::error_code ec;
    allocation_probe probe;
    p.feed(wire, ec);
    EXPECT_TRUE(ec == make_error_code(error::resp_aggregate_too_large) ||
                ec == make_error_code(error::resp_bulk_too_long))
        << wire << ": " << ec.message();
    EXPECT_LE(probe.largest(), 256u) << wire;
  }
  // Right at the limit: accepted, waiting for the elements.
  const probe_result r = probe_waiting_feed("*100\r\n", l);
  EXPECT_LE(r.largest, 100 * sizeof(value));
}

}  // namespace
}  // namespace rcache::resp
