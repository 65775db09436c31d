// Unit tests for Redis-style glob matching.
#include "cache/glob.hpp"

#include <gtest/gtest.h>
#include <string>

namespace rcache::cache_detail {
namespace {

TEST(Glob, LiteralsAndWildcards) {
  EXPECT_TRUE(glob_match("user:42", "user:42"));
  EXPECT_FALSE(glob_match("user:42", "user:43"));
  EXPECT_TRUE(glob_match("user:*", "user:"));
  EXPECT_TRUE(glob_match("user:*", "user:42:profile"));
  EXPECT_FALSE(glob_match("user:*", "users:42"));
  EXPECT_TRUE(glob_match("*:profile", "user:42:profile"));
  EXPECT_TRUE(glob_match("u?er", "user"));
  EXPECT_FALSE(glob_match("u?er", "uer"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("", "x"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST(Glob, ClassesAndEscapes) {
  EXPECT_TRUE(glob_match("h[ae]llo", "hello"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
  EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("v[0-9]", "v7"));
  EXPECT_TRUE(glob_match("v[9-0]", "v7")) << "reversed ranges work as in Redis";
  EXPECT_FALSE(glob_match("v[0-9]", "vx"));
  EXPECT_TRUE(glob_match("a\\*b", "a*b"));
  EXPECT_FALSE(glob_match("a\\*b", "aXb"));
  EXPECT_TRUE(glob_match("[\\]]", "]"));
}

TEST(Glob, NoExponentialBlowUp) {
  // A classic backtracking killer: linear here.
  const std::string text(5000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*b", text));
}

}  // namespace
}  // namespace rcache::cache_detail
