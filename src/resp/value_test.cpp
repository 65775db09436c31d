// Unit tests of rcache::value: type names, error codes, builders, equality
// and the redis-cli-like rendering.
#include "rcache/value.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace rcache {
namespace {

using namespace std::string_literals;

value simple(std::string s) {
  return value::make_string(std::move(s), resp_type::simple_string);
}
value bulk(std::string s) {
  return value::make_string(std::move(s));
}
value integer(std::int64_t i) {
  return value::make_integer(i);
}

TEST(value, type_names_follow_resp3) {
  EXPECT_EQ(to_string(resp_type::simple_string), "simple-string");
  EXPECT_EQ(to_string(resp_type::simple_error), "simple-error");
  EXPECT_EQ(to_string(resp_type::integer), "integer");
  EXPECT_EQ(to_string(resp_type::bulk_string), "bulk-string");
  EXPECT_EQ(to_string(resp_type::array), "array");
  EXPECT_EQ(to_string(resp_type::null), "null");
  EXPECT_EQ(to_string(resp_type::boolean), "boolean");
  EXPECT_EQ(to_string(resp_type::double_number), "double");
  EXPECT_EQ(to_string(resp_type::big_number), "big-number");
  EXPECT_EQ(to_string(resp_type::bulk_error), "bulk-error");
  EXPECT_EQ(to_string(resp_type::verbatim_string), "verbatim-string");
  EXPECT_EQ(to_string(resp_type::map), "map");
  EXPECT_EQ(to_string(resp_type::set), "set");
  EXPECT_EQ(to_string(resp_type::attribute), "attribute");
  EXPECT_EQ(to_string(resp_type::push), "push");
}

TEST(value, error_code_is_the_first_word_of_an_error) {
  EXPECT_EQ(value::make_string("ERR unknown command", resp_type::simple_error).error_code(), "ERR");
  EXPECT_EQ(
      value::make_string("WRONGTYPE Operation against a key", resp_type::simple_error).error_code(),
      "WRONGTYPE");
  EXPECT_EQ(value::make_string("NOSCRIPT", resp_type::bulk_error).error_code(), "NOSCRIPT");
  EXPECT_EQ(value::make_string("", resp_type::simple_error).error_code(), "");
  EXPECT_EQ(simple("ERR not an error").error_code(), "");
  EXPECT_EQ(bulk("ERR not an error").error_code(), "");
}

TEST(value, predicates) {
  EXPECT_TRUE(value{}.is_null());
  EXPECT_TRUE(value::make_string("e", resp_type::bulk_error).is_error());
  EXPECT_FALSE(bulk("e").is_error());
  EXPECT_TRUE(value::make_string("t", resp_type::verbatim_string).is_string());
  EXPECT_FALSE(integer(1).is_string());
  EXPECT_TRUE(value::make_array({}, resp_type::push).is_aggregate());
  EXPECT_FALSE(value::make_array({}, resp_type::attribute).is_aggregate());
}

TEST(value, builders) {
  const value s = value::make_string("abc");
  EXPECT_EQ(s.type, resp_type::bulk_string);
  EXPECT_EQ(s.str, "abc");
  const value i = value::make_integer(-9);
  EXPECT_EQ(i.type, resp_type::integer);
  EXPECT_EQ(i.integer, -9);
  const value a = value::make_array({s, i}, resp_type::set);
  EXPECT_EQ(a.type, resp_type::set);
  ASSERT_EQ(a.elements.size(), 2u);
  EXPECT_EQ(a.elements[0], s);
  EXPECT_EQ(a.elements[1], i);
}

TEST(value, equality_compares_every_field) {
  const value base = value::make_array({bulk("a"), integer(1)});
  EXPECT_EQ(base, value::make_array({bulk("a"), integer(1)}));

  value v = base;
  v.type = resp_type::set;
  EXPECT_NE(v, base);
  v = base;
  v.elements[0].str = "b";
  EXPECT_NE(v, base);
  v = base;
  v.elements[1].integer = 2;
  EXPECT_NE(v, base);
  v = base;
  v.number = 1.5;
  EXPECT_NE(v, base);
  v = base;
  v.format = {'t', 'x', 't'};
  EXPECT_NE(v, base);
  v = base;
  v.elements.push_back(value{});
  EXPECT_NE(v, base);
  v = base;
  v.attributes = {simple("ttl"), integer(1)};
  EXPECT_NE(v, base);
}

// ---- to_display ---------------------------------------------------------------------

TEST(value, display_scalars) {
  value b;
  b.type = resp_type::boolean;
  b.integer = 1;
  value d;
  d.type = resp_type::double_number;
  d.number = 2.5;
  value d_text = d;
  d_text.str = "2.50";
  value verbatim = value::make_string("# Server", resp_type::verbatim_string);
  verbatim.format = {'t', 'x', 't'};

  EXPECT_EQ(to_display(simple("OK")), "OK");
  EXPECT_EQ(to_display(bulk("hello")), "\"hello\"");
  EXPECT_EQ(to_display(integer(-42)), "(integer) -42");
  EXPECT_EQ(to_display(value{}), "(nil)");
  EXPECT_EQ(to_display(value::make_string("ERR bad", resp_type::simple_error)), "(error) ERR bad");
  EXPECT_EQ(to_display(value::make_string("ERR bad", resp_type::bulk_error)), "(error) ERR bad");
  EXPECT_EQ(to_display(b), "(true)");
  b.integer = 0;
  EXPECT_EQ(to_display(b), "(false)");
  EXPECT_EQ(to_display(d), "(double) 2.5");
  EXPECT_EQ(to_display(d_text), "(double) 2.50");
  EXPECT_EQ(to_display(value::make_string("-123", resp_type::big_number)), "(big number) -123");
  EXPECT_EQ(to_display(verbatim), "(verbatim txt) \"# Server\"");
}

TEST(value, display_escapes_like_redis_cli) {
  EXPECT_EQ(to_display(bulk("a\"b\\c\n\r\t\a\b\0\x7f\xff"s)), R"("a\"b\\c\n\r\t\a\b\x00\x7f\xff")");
}

TEST(value, display_empty_aggregates) {
  EXPECT_EQ(to_display(value::make_array({})), "(empty array)");
  EXPECT_EQ(to_display(value::make_array({}, resp_type::map)), "(empty hash)");
  EXPECT_EQ(to_display(value::make_array({}, resp_type::set)), "(empty set)");
  EXPECT_EQ(to_display(value::make_array({}, resp_type::push)), "(empty push)");
}

TEST(value, display_nested_aggregates) {
  const value v = value::make_array({
      bulk("a"),
      value::make_array({integer(1), integer(2)}),
      value::make_array({bulk("k"), bulk("v"), bulk("k2"), value::make_array({})}, resp_type::map),
      value::make_array({simple("m")}, resp_type::set),
  });
  EXPECT_EQ(to_display(v),
            "1) \"a\"\n"
            "2) 1) (integer) 1\n"
            "   2) (integer) 2\n"
            "3) 1# \"k\" => \"v\"\n"
            "   2# \"k2\" => (empty array)\n"
            "4) 1~ m");
}

TEST(value, display_pads_indices) {
  std::vector<value> elems;
  for (int i = 1; i <= 10; ++i) elems.push_back(integer(i));
  const value v = value::make_array({value::make_array(elems)});
  const std::string s = to_display(v);
  EXPECT_EQ(s.substr(0, s.find('\n')), "1)  1) (integer) 1");
  EXPECT_NE(s.find("\n   10) (integer) 10"), std::string::npos) << s;
  EXPECT_NE(s.find("\n    2) (integer) 2\n"), std::string::npos) << s;
}

TEST(value, display_attributes_above_their_value) {
  value annotated = integer(2);
  annotated.attributes = {simple("ttl"), integer(3600)};
  EXPECT_EQ(to_display(annotated), "(attributes) 1# ttl => (integer) 3600\n(integer) 2");
  EXPECT_EQ(to_display(value::make_array({integer(1), annotated})),
            "1) (integer) 1\n"
            "2) (attributes) 1# ttl => (integer) 3600\n"
            "   (integer) 2");
}

}  // namespace
}  // namespace rcache
