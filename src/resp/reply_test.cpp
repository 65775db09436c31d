// Unit tests of reading replies as C++ types (include/rcache/reply.hpp):
// every supported shape, RESP2 and RESP3 forms of the same reply, error
// replies kept with their message, and replies of the wrong shape refused.
#include <rcache/reply.hpp>

#include <gtest/gtest.h>

namespace rcache {
namespace {

value str(std::string s) {
  return value::make_string(std::move(s));
}
value integer(std::int64_t i) {
  return value::make_integer(i);
}
value nil() {
  return value{};
}
value error_reply(std::string text) {
  return value::make_string(std::move(text), resp_type::simple_error);
}
value dbl(double d, std::string text) {
  return value::make_double(d, std::move(text));
}

TEST(Reply, Scalars) {
  EXPECT_EQ(reply_as<std::string>(str("hi")).value(), "hi");
  EXPECT_EQ(reply_as<std::string>(integer(7)).value(), "7");
  EXPECT_EQ(reply_as<std::optional<std::string>>(nil()).value(), std::nullopt);
  EXPECT_EQ(reply_as<std::optional<std::string>>(str("x")).value(),
            std::optional<std::string>("x"));
  EXPECT_EQ(reply_as<std::int64_t>(integer(-3)).value(), -3);
  EXPECT_EQ(reply_as<std::int64_t>(str("42")).value(), 42) << "GET of a counter";
  EXPECT_EQ(reply_as<int>(integer(5)).value(), 5);
  EXPECT_TRUE(reply_as<bool>(integer(1)).value());
  EXPECT_FALSE(reply_as<bool>(integer(0)).value());
  EXPECT_TRUE(reply_as<bool>(value::make_string("OK", resp_type::simple_string)).value());
  EXPECT_DOUBLE_EQ(reply_as<double>(dbl(1.5, "1.5")).value(), 1.5);
  EXPECT_DOUBLE_EQ(reply_as<double>(str("2.25")).value(), 2.25) << "RESP2 ZSCORE";
  EXPECT_DOUBLE_EQ(reply_as<double>(integer(3)).value(), 3.0);
  EXPECT_EQ(reply_as<value>(integer(9)).value(), integer(9));
}

TEST(Reply, AnErrorReplyKeepsItsMessage) {
  auto r = reply_as<std::optional<std::string>>(
      error_reply("WRONGTYPE Operation against a key holding the wrong kind of value"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(error::wrong_type));
  EXPECT_EQ(r.error().message, "WRONGTYPE Operation against a key holding the wrong kind of value");
  auto oom = reply_as<std::int64_t>(error_reply("OOM command not allowed"));
  EXPECT_EQ(oom.error().code, make_error_code(error::redis_error));
  EXPECT_EQ(oom.error().message, "OOM command not allowed");
  try {
    (void)oom.value();
    ADD_FAILURE() << "value() of an error throws";
  } catch (const boost::system::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("OOM command not allowed"), std::string::npos);
  }
}

TEST(Reply, AReplyOfAnotherShapeIsRefusedAndSaysWhatCame) {
  auto r = reply_as<std::int64_t>(str("abc"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(error::reply_type_mismatch));
  EXPECT_NE(r.error().message.find("not an integer"), std::string::npos) << r.error().message;
  EXPECT_FALSE(reply_as<std::string>(nil())) << "null is not a string: ask for an optional";
  EXPECT_FALSE(reply_as<std::vector<std::string>>(str("x")));
  EXPECT_FALSE(reply_as<int>(integer(1LL << 40))) << "out of range";
  EXPECT_FALSE(reply_as<bool>(str("yes")));
  auto odd = reply_as<std::map<std::string, std::string>>(value::make_array({str("k")}));
  EXPECT_FALSE(odd) << "a map needs pairs";
}

TEST(Reply, AggregatesInTheirResp2AndResp3Forms) {
  auto arr = value::make_array({str("a"), nil(), str("c")});
  EXPECT_EQ(reply_as<std::vector<std::optional<std::string>>>(arr).value(),
            (std::vector<std::optional<std::string>>{"a", std::nullopt, "c"}));
  auto map3 = value::make_array({str("f1"), str("v1"), str("f2"), str("v2")}, resp_type::map);
  auto flat2 = value::make_array({str("f1"), str("v1"), str("f2"), str("v2")});
  const std::map<std::string, std::string> want{{"f1", "v1"}, {"f2", "v2"}};
  EXPECT_EQ((reply_as<std::map<std::string, std::string>>(map3).value()), want);
  EXPECT_EQ((reply_as<std::map<std::string, std::string>>(flat2).value()), want)
      << "HGETALL over RESP2";
  EXPECT_EQ((reply_as<std::unordered_map<std::string, std::string>>(map3).value().size()), 2u);
  // ZRANGE ... WITHSCORES: RESP3 pairs, RESP2 flat.
  auto pairs3 = value::make_array({value::make_array({str("m1"), dbl(1, "1")}),
                                   value::make_array({str("m2"), dbl(2.5, "2.5")})});
  auto flat = value::make_array({str("m1"), str("1"), str("m2"), str("2.5")});
  using scored = std::vector<std::pair<std::string, double>>;
  const scored want_scores{{"m1", 1.0}, {"m2", 2.5}};
  EXPECT_EQ(reply_as<scored>(pairs3).value(), want_scores);
  EXPECT_EQ(reply_as<scored>(flat).value(), want_scores);
  auto tuple = reply_as<std::tuple<std::string, std::int64_t, std::optional<std::string>>>(
      value::make_array({str("x"), integer(2), nil()}));
  ASSERT_TRUE(tuple);
  EXPECT_EQ(std::get<1>(*tuple), 2);
  EXPECT_FALSE((reply_as<std::pair<std::string, std::string>>(value::make_array({str("x")}))));
  // A nested failure names the element's problem.
  auto bad = reply_as<std::vector<std::int64_t>>(value::make_array({integer(1), str("x")}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, make_error_code(error::reply_type_mismatch));
}

}  // namespace
}  // namespace rcache
