// Unit tests of subscription matching: exact keys, prefixes, whole
// namespaces and channels, several subscriptions at once, removal, the trie
// freeing (and reusing) its nodes, and a large number of prefixes.
#include "feed/matcher.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace rcache::feed {
namespace {

using ids = std::vector<subscription_id>;

// The ids match() calls back for `key` in `ns`, sorted (the order is not
// part of the contract; duplicates are kept: each is one subscription).
ids matches(const matcher& m, std::string_view ns, std::string_view key) {
  ids out;
  m.match(ns, key, [&](subscription_id id) { out.push_back(id); });
  std::sort(out.begin(), out.end());
  return out;
}

ids channel_matches(const matcher& m, std::string_view channel) {
  ids out;
  m.match_channel(channel, [&](subscription_id id) { out.push_back(id); });
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Matcher, ExactKeysMatchOnlyTheirKeyInTheirNamespace) {
  matcher m;
  m.add_key("users", "42", 1);
  EXPECT_EQ(matches(m, "users", "42"), ids{1});
  EXPECT_EQ(matches(m, "users", "4"), ids{});
  EXPECT_EQ(matches(m, "users", "420"), ids{}) << "not a prefix";
  EXPECT_EQ(matches(m, "users", ""), ids{});
  EXPECT_EQ(matches(m, "orders", "42"), ids{}) << "another namespace";
  EXPECT_EQ(matches(m, "users4", "2"), ids{}) << "namespace and key are not concatenated";
  EXPECT_EQ(matches(m, "user", "s42"), ids{});
  EXPECT_EQ(channel_matches(m, "42"), ids{});
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.trie_nodes(), 0u) << "exact keys need no trie";
}

TEST(Matcher, PrefixesMatchEveryKeyThatStartsWithThem) {
  matcher m;
  m.add_prefix("users", "u:", 1);
  EXPECT_EQ(matches(m, "users", "u:"), ids{1}) << "the prefix itself";
  EXPECT_EQ(matches(m, "users", "u:42"), ids{1});
  EXPECT_EQ(matches(m, "users", "u:42:profile"), ids{1});
  EXPECT_EQ(matches(m, "users", "u"), ids{}) << "shorter than the prefix";
  EXPECT_EQ(matches(m, "users", "v:42"), ids{});
  EXPECT_EQ(matches(m, "users", "xu:42"), ids{}) << "a prefix, not a substring";
  EXPECT_EQ(matches(m, "users", ""), ids{});
  EXPECT_EQ(matches(m, "other", "u:42"), ids{});
}

TEST(Matcher, TheEmptyPrefixIsTheWholeNamespace) {
  matcher m;
  m.add_prefix("users", "", 7);
  EXPECT_EQ(matches(m, "users", ""), ids{7});
  EXPECT_EQ(matches(m, "users", "a"), ids{7});
  EXPECT_EQ(matches(m, "users", std::string(5000, 'z')), ids{7});
  EXPECT_EQ(matches(m, "users", std::string_view("\0\xff", 2)), ids{7});
  EXPECT_EQ(matches(m, "users2", "a"), ids{});
  EXPECT_EQ(matches(m, "", "a"), ids{});
  EXPECT_EQ(m.trie_nodes(), 1u) << "the root only";
}

TEST(Matcher, ChannelsAreTheirOwnSpace) {
  matcher m;
  m.add_channel("news", 1);
  m.add_channel("news", 2);
  m.add_channel("sport", 3);
  EXPECT_EQ(channel_matches(m, "news"), (ids{1, 2}));
  EXPECT_EQ(channel_matches(m, "sport"), ids{3});
  EXPECT_EQ(channel_matches(m, "new"), ids{}) << "channels are exact";
  EXPECT_EQ(channel_matches(m, "newsx"), ids{});
  EXPECT_EQ(matches(m, "news", ""), ids{}) << "not a namespace";
  EXPECT_EQ(matches(m, "", "news"), ids{});

  m.add_key("ns", "news", 4);
  m.add_prefix("ns", "n", 5);
  EXPECT_EQ(channel_matches(m, "news"), (ids{1, 2})) << "keys do not match channels";
  EXPECT_EQ(m.size(), 5u);

  m.remove_channel("news", 1);
  EXPECT_EQ(channel_matches(m, "news"), ids{2});
  m.remove_channel("news", 1);
  EXPECT_EQ(channel_matches(m, "news"), ids{2}) << "removing twice is harmless";
  m.remove_channel("nothing", 2);
  m.remove_channel("news", 2);
  m.remove_channel("sport", 3);
  EXPECT_EQ(channel_matches(m, "news"), ids{});
  EXPECT_EQ(channel_matches(m, "sport"), ids{});
  EXPECT_EQ(m.size(), 2u);
}

TEST(Matcher, EverySubscriptionOfAKeyMatchesOnce) {
  matcher m;
  m.add_key("users", "user:42", 1);
  m.add_key("users", "user:42", 2);
  m.add_prefix("users", "", 3);
  m.add_prefix("users", "u", 4);
  m.add_prefix("users", "user:", 5);
  m.add_prefix("users", "user:42", 6);
  m.add_prefix("users", "user:420", 7);  // longer than the key
  m.add_prefix("users", "user:5", 8);    // a sibling
  m.add_key("users", "user:4", 9);
  m.add_prefix("orders", "", 10);
  m.add_prefix("users", "user:", 11);  // another on the same prefix
  EXPECT_EQ(m.size(), 11u);

  EXPECT_EQ(matches(m, "users", "user:42"), (ids{1, 2, 3, 4, 5, 6, 11}));
  EXPECT_EQ(matches(m, "users", "user:420"), (ids{3, 4, 5, 6, 7, 11}));
  EXPECT_EQ(matches(m, "users", "user:4"), (ids{3, 4, 5, 9, 11}));
  EXPECT_EQ(matches(m, "users", "user:5"), (ids{3, 4, 5, 8, 11}));
  EXPECT_EQ(matches(m, "users", "x"), ids{3});
  EXPECT_EQ(matches(m, "orders", "user:42"), ids{10});

  // One connection may hold several subscriptions under one id: each is
  // called back.
  m.add_key("users", "user:42", 5);
  EXPECT_EQ(matches(m, "users", "user:42"), (ids{1, 2, 3, 4, 5, 5, 6, 11}));
}

TEST(Matcher, RemovedSubscriptionsNoLongerMatch) {
  matcher m;
  m.add_key("users", "42", 1);
  m.add_key("users", "42", 2);
  m.add_prefix("users", "4", 3);
  m.add_prefix("users", "4", 4);
  m.add_prefix("users", "", 5);
  ASSERT_EQ(matches(m, "users", "42"), (ids{1, 2, 3, 4, 5}));

  m.remove_key("users", "42", 1);
  EXPECT_EQ(matches(m, "users", "42"), (ids{2, 3, 4, 5}));
  m.remove_prefix("users", "4", 4);
  EXPECT_EQ(matches(m, "users", "42"), (ids{2, 3, 5}));
  m.remove_prefix("users", "", 5);
  EXPECT_EQ(matches(m, "users", "42"), (ids{2, 3}));
  EXPECT_EQ(matches(m, "users", "7"), ids{});
  EXPECT_EQ(m.size(), 2u);

  // Removing what is not there changes nothing.
  m.remove_key("users", "42", 99);
  m.remove_key("users", "43", 2);
  m.remove_key("orders", "42", 2);
  m.remove_prefix("users", "4", 99);
  m.remove_prefix("users", "40", 3);
  m.remove_prefix("users", "", 3);
  m.remove_prefix("orders", "4", 3);
  m.remove_key("users", "4", 3);      // a prefix is not a key
  m.remove_prefix("users", "42", 2);  // nor a key a prefix
  EXPECT_EQ(matches(m, "users", "42"), (ids{2, 3}));
  EXPECT_EQ(m.size(), 2u);

  m.remove_key("users", "42", 2);
  m.remove_prefix("users", "4", 3);
  EXPECT_EQ(matches(m, "users", "42"), ids{});
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.trie_nodes(), 0u);
}

TEST(Matcher, AnIdTwiceOnOneTargetIsRemovedOnceAtATime) {
  matcher m;
  m.add_prefix("n", "p", 1);
  m.add_prefix("n", "p", 1);
  m.add_key("n", "k", 2);
  m.add_key("n", "k", 2);
  EXPECT_EQ(matches(m, "n", "p"), (ids{1, 1}));
  EXPECT_EQ(matches(m, "n", "k"), (ids{2, 2}));
  m.remove_prefix("n", "p", 1);
  m.remove_key("n", "k", 2);
  EXPECT_EQ(matches(m, "n", "p"), ids{1});
  EXPECT_EQ(matches(m, "n", "k"), ids{2});
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.trie_nodes(), 2u) << "the node of p is still needed";
}

TEST(Matcher, TrieNodesAreFreedWithTheirLastSubscription) {
  matcher m;
  EXPECT_EQ(m.trie_nodes(), 0u);
  m.add_prefix("n", "abc", 1);
  EXPECT_EQ(m.trie_nodes(), 4u) << "root, a, b, c";
  m.add_prefix("n", "abd", 2);
  EXPECT_EQ(m.trie_nodes(), 5u) << "ab is shared";
  m.add_prefix("n", "ab", 3);
  EXPECT_EQ(m.trie_nodes(), 5u) << "an inner node gets the subscription";

  m.remove_prefix("n", "abc", 1);
  EXPECT_EQ(m.trie_nodes(), 4u) << "c freed";
  EXPECT_EQ(matches(m, "n", "abd"), (ids{2, 3}));
  m.remove_prefix("n", "ab", 3);
  EXPECT_EQ(m.trie_nodes(), 4u) << "b still leads to d";
  EXPECT_EQ(matches(m, "n", "abd"), ids{2});
  EXPECT_EQ(matches(m, "n", "ab"), ids{});
  m.remove_prefix("n", "abd", 2);
  EXPECT_EQ(m.trie_nodes(), 0u) << "nothing left";
  EXPECT_EQ(matches(m, "n", "abd"), ids{});

  // The trie grows again from nothing and still matches.
  m.add_prefix("n", "xyz", 4);
  EXPECT_EQ(m.trie_nodes(), 4u);
  EXPECT_EQ(matches(m, "n", "xyz!"), ids{4});
  EXPECT_EQ(matches(m, "n", "abd"), ids{});
}

TEST(Matcher, FreedNodesAreReusedSoMemoryFollowsLiveSubscriptions) {
  matcher m;
  m.add_prefix("n", "keep", 1);  // keeps the trie alive
  ASSERT_EQ(m.trie_nodes(), 5u);
  for (int i = 0; i < 20000; ++i) {
    const auto p = "tmp:" + std::to_string(i);
    m.add_prefix("n", p, 2);
    ASSERT_EQ(m.trie_nodes(), 5u + p.size()) << p;
    ASSERT_EQ(matches(m, "n", p + "x"), ids{2}) << p;
    ASSERT_EQ(matches(m, "n", "keeper"), ids{1});
    m.remove_prefix("n", p, 2);
    ASSERT_EQ(m.trie_nodes(), 5u) << p;
  }
  // Reused nodes carry nothing of their past: none of the old prefixes match.
  for (int i = 0; i < 20000; i += 997) {
    EXPECT_EQ(matches(m, "n", "tmp:" + std::to_string(i)), ids{});
  }
  m.add_prefix("n", "tmp:1", 3);
  m.add_prefix("n", "tmp:2", 4);
  EXPECT_EQ(matches(m, "n", "tmp:12"), ids{3});
  EXPECT_EQ(matches(m, "n", "tmp:2"), ids{4});
  EXPECT_EQ(matches(m, "n", "tmp:"), ids{});
}

TEST(Matcher, NamespacesHaveTriesOfTheirOwn) {
  matcher m;
  m.add_prefix("a", "x", 1);
  m.add_prefix("b", "x", 2);
  m.add_prefix("b", "", 3);
  EXPECT_EQ(m.trie_nodes(), 4u) << "two roots, two x";
  EXPECT_EQ(matches(m, "a", "xy"), ids{1});
  EXPECT_EQ(matches(m, "b", "xy"), (ids{2, 3}));
  m.remove_prefix("a", "x", 1);
  EXPECT_EQ(m.trie_nodes(), 2u);
  EXPECT_EQ(matches(m, "a", "xy"), ids{});
  EXPECT_EQ(matches(m, "b", "xy"), (ids{2, 3}));
  m.remove_prefix("b", "", 3);
  EXPECT_EQ(m.trie_nodes(), 2u) << "b's root still leads to x";
  EXPECT_EQ(matches(m, "b", "xy"), ids{2});
  EXPECT_EQ(matches(m, "b", "y"), ids{});
}

TEST(Matcher, KeysOfAnyBytesAreMatched) {
  matcher m;
  const std::string binary("\x00\x80\xff\x7f", 4);
  m.add_prefix("n", binary.substr(0, 2), 1);
  m.add_key("n", binary, 2);
  m.add_prefix("n", "\x80", 3);
  m.add_prefix("n", "\x7f", 4);
  EXPECT_EQ(matches(m, "n", binary), (ids{1, 2}));
  EXPECT_EQ(matches(m, "n", "\x80z"), ids{3}) << "bytes past 0x7f order as any other";
  EXPECT_EQ(matches(m, "n", "\x7f"), ids{4});
  EXPECT_EQ(matches(m, "n", std::string_view("\x00", 1)), ids{});
}

TEST(Matcher, ManyPrefixesStillMatchExactlyTheRightIds) {
  constexpr int count = 100'000;
  matcher m;
  // Distinct prefixes; none is a prefix of another (each ends with ':').
  for (int i = 0; i < count; ++i) m.add_prefix("n", "p" + std::to_string(i) + ":", i);
  ASSERT_EQ(m.size(), static_cast<std::size_t>(count));
  const auto nodes = m.trie_nodes();
  EXPECT_LT(nodes, static_cast<std::size_t>(count) * 3) << "shared paths";

  for (int i = 0; i < count; i += 37) {
    ASSERT_EQ(matches(m, "n", "p" + std::to_string(i) + ":key"),
              ids{static_cast<subscription_id>(i)})
        << i;
  }
  EXPECT_EQ(matches(m, "n", "p"), ids{});
  EXPECT_EQ(matches(m, "n", "p12"), ids{}) << "an inner node without subscriptions";
  EXPECT_EQ(matches(m, "n", "p100000:"), ids{});
  EXPECT_EQ(matches(m, "other", "p1:"), ids{});

  // Nested prefixes on top of them: each level matches.
  m.add_prefix("n", "p1", count);
  m.add_prefix("n", "", count + 1);
  EXPECT_EQ(matches(m, "n", "p12:x"), (ids{12, count, count + 1}));
  m.remove_prefix("n", "p1", count);
  m.remove_prefix("n", "", count + 1);
  EXPECT_EQ(m.trie_nodes(), nodes);

  // Removing every other one leaves exactly the rest.
  for (int i = 0; i < count; i += 2) m.remove_prefix("n", "p" + std::to_string(i) + ":", i);
  EXPECT_EQ(m.size(), static_cast<std::size_t>(count / 2));
  for (int i = 0; i < count; i += 41) {
    const auto expect = i % 2 ? ids{static_cast<subscription_id>(i)} : ids{};
    ASSERT_EQ(matches(m, "n", "p" + std::to_string(i) + ":key"), expect) << i;
  }
  for (int i = 1; i < count; i += 2) m.remove_prefix("n", "p" + std::to_string(i) + ":", i);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.trie_nodes(), 0u);
}

TEST(Matcher, ManyExactKeysAndChannels) {
  constexpr int count = 50'000;
  matcher m;
  for (int i = 0; i < count; ++i) {
    m.add_key("n", "k" + std::to_string(i), i);
    m.add_channel("c" + std::to_string(i), i);
  }
  for (int i = 0; i < count; i += 101) {
    ASSERT_EQ(matches(m, "n", "k" + std::to_string(i)), ids{static_cast<subscription_id>(i)});
    ASSERT_EQ(channel_matches(m, "c" + std::to_string(i)), ids{static_cast<subscription_id>(i)});
  }
  EXPECT_EQ(m.trie_nodes(), 0u);
  for (int i = 0; i < count; ++i) {
    m.remove_key("n", "k" + std::to_string(i), i);
    m.remove_channel("c" + std::to_string(i), i);
  }
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(matches(m, "n", "k0"), ids{});
}

}  // namespace
}  // namespace rcache::feed
