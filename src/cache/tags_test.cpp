// Unit tests of the pure part of tags: names, keys, versions, the tag
// section (every truncation refused), the version comparison.
#include "cache/tags.hpp"

#include <gtest/gtest.h>

namespace rcache::cache_detail {
namespace {

TEST(Tags, NamesAreCheckedAndNormalized) {
  EXPECT_TRUE(valid_tag("user:42"));
  EXPECT_TRUE(valid_tag("a/b@c=d.e-f_g"));
  EXPECT_FALSE(valid_tag(""));
  EXPECT_FALSE(valid_tag("has space"));
  EXPECT_TRUE(valid_tag("brace{x}"));  // a hash tag: the key's slot follows it
  EXPECT_FALSE(valid_tag("quote\"x"));
  EXPECT_FALSE(valid_tag(std::string(max_tag_size + 1, 'a')));
  EXPECT_TRUE(valid_tag(std::string(max_tag_size, 'a')));

  auto n = normalize_tags({"b", "a", "b"});
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(normalize_tags({"ok", "not ok"}).has_value());
  std::vector<std::string> many;
  for (std::size_t i = 0; i <= max_tags; ++i) many.push_back("t" + std::to_string(i));
  EXPECT_EQ(normalize_tags(many).error(), make_error_code(error::invalid_argument));
  many.pop_back();
  EXPECT_TRUE(normalize_tags(many).has_value());
}

TEST(Tags, KeysAreUnambiguous) {
  EXPECT_EQ(tag_version_key("users", "team:7"), "rcache:tag:users/team:7");
  EXPECT_EQ(tag_version_key("", "t"), "rcache:tag:/t");
  // "a:b" + "c" and "a" + "b:c" differ: namespaces hold no '/'.
  EXPECT_NE(tag_version_key("a:b", "c"), tag_version_key("a", "b:c"));
}

TEST(Tags, VersionsParseOnlyAsRedisKeepsThem) {
  EXPECT_EQ(parse_version("0"), 0u);
  EXPECT_EQ(parse_version("18446744073709551615"), 18446744073709551615u);
  EXPECT_FALSE(parse_version("18446744073709551616"));
  EXPECT_FALSE(parse_version(""));
  EXPECT_FALSE(parse_version("-1"));
  EXPECT_FALSE(parse_version("+1"));
  EXPECT_FALSE(parse_version("12a"));
  EXPECT_FALSE(parse_version(" 1"));
  for (int i = 0; i < 100; ++i) {
    const auto v = initial_version();
    EXPECT_GE(v, 1u);
    EXPECT_LT(v, std::uint64_t{1} << 62);
  }
}

TEST(Tags, SectionRoundTripsAndRefusesEveryTruncation) {
  const std::vector<tag_version> tags{
      {"a", 1}, {"team:7", 0xFFFFFFFFFFFFFFFFu}, {"z", std::uint64_t{1} << 40}};
  for (std::string value : {std::string(), std::string("v"), std::string("\0\xC1RC", 4)}) {
    const auto w = wrap(tags, value);
    auto u = unwrap(w);
    ASSERT_TRUE(u.has_value());
    EXPECT_EQ(u->tags, tags);
    EXPECT_EQ(u->value, value);
  }
  const auto w = wrap(tags, "");
  for (std::size_t cut = 0; cut < w.size(); ++cut) {
    EXPECT_EQ(unwrap(w.substr(0, cut)).error(), make_error_code(error::value_corrupt)) << cut;
  }
  EXPECT_FALSE(unwrap(std::string(1, '\0')).has_value());  // no tags
  EXPECT_FALSE(unwrap(std::string(1, static_cast<char>(max_tags + 1))).has_value());
  std::string zero_length = std::string(1, '\1') + std::string(1, '\0') + std::string(8, '\0');
  EXPECT_FALSE(unwrap(zero_length).has_value());
}

TEST(Tags, VersionsHoldOnlyWhenEveryOneIsUnchanged) {
  const std::vector<tag_version> rec{{"a", 5}, {"b", 9}};
  using v = std::optional<std::uint64_t>;
  EXPECT_TRUE(versions_hold(rec, std::vector<v>{5, 9}));
  EXPECT_FALSE(versions_hold(rec, std::vector<v>{6, 9}));
  EXPECT_FALSE(versions_hold(rec, std::vector<v>{5, std::nullopt}));
  EXPECT_FALSE(versions_hold(rec, std::vector<v>{5}));
}

}  // namespace
}  // namespace rcache::cache_detail
