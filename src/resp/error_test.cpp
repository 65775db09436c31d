// Unit tests for rcache::error: every code has a message and a distinct name.
#include <rcache/error.hpp>

#include <gtest/gtest.h>
#include <set>
#include <string>

namespace rcache {
namespace {

TEST(Error, EveryCodeHasANameAndAMessage) {
  std::set<std::string> names;
  for (int v = static_cast<int>(error::resp_invalid_type);
       v <= static_cast<int>(error::too_many_fields); ++v) {
    const auto e = static_cast<error>(v);
    const auto name = to_string(e);
    EXPECT_NE(name, "unknown") << v;
    EXPECT_TRUE(names.insert(std::string(name)).second) << "duplicate name " << name;
    const auto message = make_error_code(e).message();
    EXPECT_EQ(message.find("unknown rcache error"), std::string::npos) << name;
  }
  EXPECT_EQ(to_string(error::timeout), "timeout");
  EXPECT_EQ(to_string(static_cast<error>(9999)), "unknown");
  EXPECT_STREQ(make_error_code(error::timeout).category().name(), "rcache");
}

}  // namespace
}  // namespace rcache
