// Unit tests of the key ring: add / set_current contracts, and from_spec on
// good and bad configuration. Every rejected spec is checked for its error
// code and for the absence of key material in what the caller can print
// (the error message and the detail string).
#include "codec/key_ring.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <string>
#include <vector>

namespace rcache::codec {
namespace {

std::vector<std::uint8_t> key_bytes(std::uint8_t seed, std::size_t n = key_ring::key_size) {
  std::vector<std::uint8_t> k(n);
  for (std::size_t i = 0; i < n; ++i) k[i] = static_cast<std::uint8_t>(seed * 31 + i * 7 + 1);
  return k;
}

std::string base64(const std::vector<std::uint8_t>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Parses a spec that must fail, and checks that nothing printable leaks
// any of `secrets`.
void expect_rejected(const std::string& spec, const std::vector<std::string>& secrets = {}) {
  SCOPED_TRACE(spec);
  std::string detail;
  auto r = key_ring::from_spec(spec, &detail);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), make_error_code(error::invalid_argument));
  EXPECT_FALSE(detail.empty());
  const std::string message = r.error().message() + " " + r.error().to_string();
  for (const auto& s : secrets) {
    EXPECT_EQ(detail.find(s), std::string::npos) << detail;
    EXPECT_EQ(message.find(s), std::string::npos) << message;
  }
}

TEST(key_ring, add_and_set_current) {
  key_ring ring;
  EXPECT_EQ(ring.size(), 0u);
  EXPECT_FALSE(ring.current_id());
  ASSERT_TRUE(ring.add(7, key_bytes(1)));
  EXPECT_TRUE(ring.contains(7));
  EXPECT_FALSE(ring.current_id()) << "adding a key does not make it current";
  ASSERT_TRUE(ring.set_current(7));
  EXPECT_EQ(ring.current_id(), 7u);
  ASSERT_NE(ring.find(7), nullptr);
  EXPECT_EQ(ring.find(8), nullptr);
  const auto k = key_bytes(1);
  EXPECT_TRUE(std::equal(k.begin(), k.end(), ring.find(7)->begin()));
}

TEST(key_ring, add_rejects_wrong_sizes_and_duplicates) {
  key_ring ring;
  for (std::size_t n : {0u, 16u, 31u, 33u, 64u}) {
    EXPECT_EQ(ring.add(1, key_bytes(1, n)).error(), make_error_code(error::invalid_argument)) << n;
  }
  EXPECT_EQ(ring.size(), 0u);
  ASSERT_TRUE(ring.add(1, key_bytes(1)));
  EXPECT_EQ(ring.add(1, key_bytes(2)).error(), make_error_code(error::invalid_argument));
  EXPECT_EQ(ring.size(), 1u);
}

TEST(key_ring, set_current_requires_a_known_id) {
  key_ring ring;
  EXPECT_EQ(ring.set_current(1).error(), make_error_code(error::invalid_argument));
  ASSERT_TRUE(ring.add(1, key_bytes(1)));
  EXPECT_EQ(ring.set_current(2).error(), make_error_code(error::invalid_argument));
  EXPECT_FALSE(ring.current_id());
}

TEST(key_ring, copies_are_independent) {
  key_ring a;
  ASSERT_TRUE(a.add(1, key_bytes(1)));
  ASSERT_TRUE(a.set_current(1));
  key_ring b = a;
  ASSERT_TRUE(b.add(2, key_bytes(2)));
  ASSERT_TRUE(b.set_current(2));
  EXPECT_EQ(a.current_id(), 1u);
  EXPECT_FALSE(a.contains(2));
  EXPECT_EQ(b.current_id(), 2u);
  EXPECT_TRUE(b.contains(1));
}

TEST(key_ring_spec, one_key_is_current_without_saying_so) {
  const auto k = key_bytes(3);
  auto r = key_ring::from_spec("5:" + base64(k));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(r->current_id(), 5u);
  EXPECT_TRUE(std::equal(k.begin(), k.end(), r->find(5)->begin()));
}

TEST(key_ring_spec, several_keys_with_current) {
  const auto k1 = key_bytes(1);
  const auto k2 = key_bytes(2);
  auto r = key_ring::from_spec("1:" + base64(k1) + ",2:" + base64(k2) + ";current=2");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->size(), 2u);
  EXPECT_EQ(r->current_id(), 2u);
  EXPECT_TRUE(std::equal(k1.begin(), k1.end(), r->find(1)->begin()));
  EXPECT_TRUE(std::equal(k2.begin(), k2.end(), r->find(2)->begin()));
}

TEST(key_ring_spec, blanks_missing_padding_and_large_ids) {
  const auto k1 = key_bytes(1);
  auto unpadded = base64(key_bytes(2));
  ASSERT_EQ(unpadded.back(), '=');
  unpadded.pop_back();
  auto r = key_ring::from_spec(" 0 : " + base64(k1) + " ,\t4294967295:" + unpadded +
                               " ; current = 4294967295 ");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(r->contains(0));
  EXPECT_TRUE(r->contains(4294967295u));
  EXPECT_EQ(r->current_id(), 4294967295u);
}

TEST(key_ring_spec, rejects_bad_structure) {
  const std::string k = base64(key_bytes(1));
  const std::string k2 = base64(key_bytes(2));
  expect_rejected("", {});
  expect_rejected("   ", {});
  expect_rejected(";current=1", {});
  expect_rejected(k, {k});                                         // no id
  expect_rejected("1" + k, {k});                                   // no colon
  expect_rejected(":" + k, {k});                                   // empty id
  expect_rejected("x:" + k, {k});                                  // not a number
  expect_rejected("-1:" + k, {k});                                 // sign
  expect_rejected("+1:" + k, {k});                                 // sign
  expect_rejected("0x1:" + k, {k});                                // hex
  expect_rejected("4294967296:" + k, {k});                         // above u32
  expect_rejected("1:" + k + ",", {k});                            // trailing comma
  expect_rejected("1:" + k + ",,2:" + k2, {k, k2});                // empty entry
  expect_rejected("1:" + k + ",1:" + k2 + ";current=1", {k, k2});  // duplicate id
  expect_rejected("1:" + k + ",2:" + k2, {k, k2});                 // several keys, no current
  expect_rejected("1:" + k + ";current=2", {k});                   // current not in the ring
  expect_rejected("1:" + k + ";current=", {k});
  expect_rejected("1:" + k + ";current=1;current=1", {k});
  expect_rejected("1:" + k + ";primary=1", {k});  // unknown option
  expect_rejected("1:" + k + ";", {k});           // empty option
}

TEST(key_ring_spec, rejects_bad_keys_without_echoing_them) {
  // Each bad key text must be absent from the detail and the message; so
  // must the good key next to it.
  const std::string good = base64(key_bytes(9));
  std::string bad_char = base64(key_bytes(1));
  bad_char[10] = '*';
  std::string inner_pad = base64(key_bytes(1));
  inner_pad[20] = '=';
  std::string url_safe = base64(key_bytes(1));
  url_safe[5] = '-';
  // 43 characters carry 258 bits: the last one has 2 spare bits that must be 0.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string spare_bits = base64(key_bytes(1));
  spare_bits[42] = alphabet[alphabet.find(spare_bits[42]) ^ 1];
  std::string inner_blank = base64(key_bytes(1));
  inner_blank[12] = ' ';
  const std::vector<std::string> bad_keys{
      base64(key_bytes(1, 24)),  // AES-192 sized
      base64(key_bytes(1, 31)),
      base64(key_bytes(1, 33)),
      base64(key_bytes(1, 64)),
      bad_char,
      inner_pad,
      url_safe,
      spare_bits,
      inner_blank,
      base64(key_bytes(1)) + "==",
      "",
  };
  for (const auto& bad : bad_keys) {
    expect_rejected("1:" + good + ",2:" + bad + ";current=1", {good, bad.empty() ? good : bad});
  }
}

TEST(key_ring_spec, detail_names_the_entry) {
  const std::string good = base64(key_bytes(1));
  std::string detail;
  auto r = key_ring::from_spec("1:" + good + ",42:AAAA;current=1", &detail);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(detail.find("entry 2"), std::string::npos) << detail;
  EXPECT_NE(detail.find("id 42"), std::string::npos) << detail;
  EXPECT_EQ(detail.find("AAAA"), std::string::npos) << detail;
}

}  // namespace
}  // namespace rcache::codec
