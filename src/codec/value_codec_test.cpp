// Unit tests of the value codec.
//
// Round trips over every combination of compression and encryption; the
// plain-value guarantee (bytes unchanged) and the magic-prefixed exception;
// when compression is skipped; key rotation; and the hostile side: every
// single-byte flip and every truncation of stored values, values moved to
// another key, headers that declare huge sizes (with an allocation probe
// showing nothing large is allocated), unknown versions and flags. Finally
// the benchmark corpus (bench/codec_corpus.hpp) is checked to be
// deterministic and to compress like real JSON.
#include "codec/value_codec.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <gtest/gtest.h>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "allocation_probe.hpp"  // replaces operator new in this binary
#include "codec_corpus.hpp"

namespace rcache::codec {
namespace {

using namespace std::string_literals;

using test::allocation_probe;

// ---- fixtures -----------------------------------------------------------------------

std::array<std::uint8_t, key_ring::key_size> test_key(std::uint8_t seed) {
  std::array<std::uint8_t, key_ring::key_size> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed * 17 + i);
  return k;
}

// A ring holding keys `ids`, the last one current.
std::shared_ptr<const key_ring> ring(std::initializer_list<std::uint32_t> ids) {
  auto r = std::make_shared<key_ring>();
  for (auto id : ids) {
    EXPECT_TRUE(r->add(id, test_key(static_cast<std::uint8_t>(id))));
    EXPECT_TRUE(r->set_current(id));
  }
  return r;
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen{seed};
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xFF);
  return s;
}

std::string json_like(std::size_t n) {
  std::string s = "[";
  for (std::size_t i = 0; s.size() < n; ++i) {
    s += R"({"id":)" + std::to_string(i) + R"(,"name":"user )" + std::to_string(i % 97) +
         R"(","active":true,"tags":["a","b"],"score":)" + std::to_string(i * 7 % 1000) + "},";
  }
  s.back() = ']';
  return s;
}

std::vector<std::pair<std::string, std::string>> payloads() {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  return {
      {"empty", ""},
      {"small", "hello"},
      {"binary", all_bytes + all_bytes},
      {"json_small", json_like(300)},
      {"json_large", json_like(64 * 1024)},
      {"random_large", random_bytes(256 * 1024, 1)},
      {"zeros", std::string(100'000, '\0')},
      {"magic_prefixed", "\xC1RC\x01\x00payload"s},
      {"magic_only", "\xC1RC"s},
      {"magic_prefix_1", "\xC1"s},
      {"magic_prefix_2", "\xC1R"s},
      {"near_magic", "\xC1Rx"s},
  };
}

result<std::string> decode_with(std::string_view stored, const codec_options& o,
                                std::string_view key = "k") {
  return decode(stored, key, o);
}

// ---- round trips --------------------------------------------------------------------

TEST(value_codec, round_trips_every_combination) {
  for (bool compress : {false, true}) {
    for (bool encrypt : {false, true}) {
      for (std::size_t threshold : {std::size_t{0}, std::size_t{1024}}) {
        codec_options o;
        o.compress = compress;
        o.compress_threshold = threshold;
        if (encrypt) o.keys = ring({1});
        for (const auto& [name, plain] : payloads()) {
          SCOPED_TRACE(name + " compress=" + std::to_string(compress) + " encrypt=" +
                       std::to_string(encrypt) + " threshold=" + std::to_string(threshold));
          encode_stats st;
          auto stored = encode(plain, "user:1", o, &st);
          ASSERT_TRUE(stored.has_value()) << stored.error().message();
          EXPECT_EQ(st.plain_bytes, plain.size());
          EXPECT_EQ(st.stored_bytes, stored->size());
          EXPECT_EQ(st.encrypted, encrypt);
          if (!compress) {
            EXPECT_FALSE(st.compressed);
          }
          if (st.compressed) {
            EXPECT_LT(stored->size(), plain.size());
          }
          auto back = decode(*stored, "user:1", o);
          ASSERT_TRUE(back.has_value()) << back.error().message();
          EXPECT_EQ(*back, plain);
          auto info = inspect(*stored);
          ASSERT_TRUE(info.has_value());
          EXPECT_EQ(info->compressed, st.compressed);
          EXPECT_EQ(info->encrypted, st.encrypted);
          if (encrypt) {
            EXPECT_EQ(info->key_id, 1u);
          }
          if (st.compressed) {
            EXPECT_EQ(info->original_size, plain.size());
          }
        }
      }
    }
  }
}

// A tagged value (an entry with tags, src/cache/tags.hpp) always has the
// header, flag 0x04, whatever else the options do; decode says so.
TEST(value_codec, tagged_values_always_carry_the_flag) {
  for (bool compress : {false, true}) {
    for (bool encrypt : {false, true}) {
      codec_options o;
      o.compress = compress;
      o.compress_threshold = 0;
      if (encrypt) o.keys = ring({1});
      for (const auto& [name, plain] : payloads()) {
        SCOPED_TRACE(name + " compress=" + std::to_string(compress) +
                     " encrypt=" + std::to_string(encrypt));
        auto stored = encode(plain, "user:1", o, nullptr, true);
        ASSERT_TRUE(stored.has_value()) << stored.error().message();
        ASSERT_GE(stored->size(), 5u);
        EXPECT_EQ(stored->substr(0, 4), "\xC1RC\x01"s);
        EXPECT_EQ(static_cast<unsigned char>((*stored)[4]) & 0x04, 0x04);
        bool tagged = false;
        auto back = decode(*stored, "user:1", o, &tagged);
        ASSERT_TRUE(back.has_value()) << back.error().message();
        EXPECT_EQ(*back, plain);
        EXPECT_TRUE(tagged);
        auto owned = decode_owned(*stored, "user:1", o, &tagged);
        ASSERT_TRUE(owned.has_value());
        EXPECT_TRUE(tagged);
        ASSERT_TRUE(inspect(*stored).has_value());
        EXPECT_TRUE(inspect(*stored)->tagged);
        // The same value untagged reads as untagged.
        auto untagged = encode(plain, "user:1", o);
        ASSERT_TRUE(untagged.has_value());
        ASSERT_TRUE(decode(*untagged, "user:1", o, &tagged).has_value());
        EXPECT_FALSE(tagged);
      }
    }
  }
}

TEST(value_codec, compressible_data_is_compressed) {
  codec_options o;
  o.compress = true;
  for (bool encrypt : {false, true}) {
    if (encrypt) o.keys = ring({1});
    encode_stats st;
    const auto plain = json_like(64 * 1024);
    auto stored = encode(plain, "k", o, &st);
    ASSERT_TRUE(stored.has_value());
    EXPECT_TRUE(st.compressed);
    EXPECT_LT(stored->size(), plain.size() / 4);
  }
}

TEST(value_codec, plain_values_are_stored_unchanged) {
  const codec_options o;  // no compression, no encryption
  for (const auto& [name, plain] : payloads()) {
    if (name.starts_with("magic")) continue;
    SCOPED_TRACE(name);
    auto stored = encode(plain, "k", o);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(*stored, plain);
  }
}

TEST(value_codec, foreign_plain_values_decode_as_they_are) {
  const codec_options o;
  for (const std::string v : {"", "OK", "{\"a\":1}", "\xC3\xA9t\xC3\xA9", "\x28\xB5\x2F\xFD"}) {
    auto back = decode_with(v, o);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, v);
  }
  // Encryption configured (and not required): plain values still decode.
  codec_options enc;
  enc.keys = ring({1});
  auto back = decode_with("legacy", enc);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, "legacy");
}

TEST(value_codec, magic_prefixed_plain_values_are_wrapped) {
  const codec_options o;
  for (const std::string& plain : {"\xC1RC\x01\x00x"s, "\xC1RC"s, "\xC1R"s, "\xC1"s}) {
    auto stored = encode(plain, "k", o);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(*stored, "\xC1RC\x01\x00"s + plain);
    auto info = inspect(*stored);
    ASSERT_TRUE(info.has_value());
    EXPECT_TRUE(info->has_header);
    EXPECT_FALSE(info->compressed);
    EXPECT_FALSE(info->encrypted);
    auto back = decode_with(*stored, o);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, plain);
  }
  // A value that is only a proper prefix of the magic is a truncated header.
  EXPECT_EQ(decode_with("\xC1"s, o).error(), make_error_code(error::value_corrupt));
  EXPECT_EQ(decode_with("\xC1R"s, o).error(), make_error_code(error::value_corrupt));
  // Anything else that merely starts like the magic is plain.
  auto near = decode_with("\xC1Rx"s, o);
  ASSERT_TRUE(near.has_value());
  EXPECT_EQ(*near, "\xC1Rx"s);
}

TEST(value_codec, the_negative_marker_says_what_it_is_and_never_decodes) {
  const auto m = std::string(absent_marker());
  EXPECT_EQ(m.substr(0, 5), "\xC1RC\x01\x80"s);
  EXPECT_NE(m.find("no such value"), std::string::npos) << "readable in redis-cli";
  EXPECT_TRUE(is_absent_marker(m));
  EXPECT_TRUE(is_absent_marker("\xC1RC\x01\x80"s)) << "the bare header of earlier versions";
  EXPECT_FALSE(is_absent_marker("\xC1RC\x01\x80other"s));
  EXPECT_FALSE(is_absent_marker(m.substr(5))) << "the text alone is a plain value";
  codec_options o;
  EXPECT_EQ(decode(m, "k", o).error(), make_error_code(error::value_corrupt));
  // A plain value equal to the marker is wrapped, so it is never taken for one.
  auto stored = encode(m, "k", o);
  ASSERT_TRUE(stored.has_value());
  EXPECT_FALSE(is_absent_marker(*stored));
  EXPECT_EQ(*decode(*stored, "k", o), m);
}

TEST(value_codec, header_layout) {
  codec_options o;
  o.compress = true;
  o.compress_threshold = 0;
  o.keys = ring({0x01020304});
  const auto plain = json_like(4096);
  auto stored = encode(plain, "k", o);
  ASSERT_TRUE(stored.has_value());
  const std::string& s = *stored;
  ASSERT_GT(s.size(), 5u + 4 + 4 + 12 + 16);
  EXPECT_EQ(s.substr(0, 5), "\xC1RC\x01\x03"s);
  const auto u32 = [&](std::size_t at) {
    return std::uint32_t{static_cast<unsigned char>(s[at])} << 24 |
           std::uint32_t{static_cast<unsigned char>(s[at + 1])} << 16 |
           std::uint32_t{static_cast<unsigned char>(s[at + 2])} << 8 |
           std::uint32_t{static_cast<unsigned char>(s[at + 3])};
  };
  EXPECT_EQ(u32(5), plain.size());
  EXPECT_EQ(u32(9), 0x01020304u);
  // Two encodings of one value differ in nonce, hence everywhere after it.
  auto again = encode(plain, "k", o);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->substr(0, 13), s.substr(0, 13));
  EXPECT_NE(again->substr(13, 12), s.substr(13, 12));
  EXPECT_NE(*again, s);
}

// ---- when compression is skipped ----------------------------------------------------

TEST(value_codec, compression_respects_the_threshold) {
  codec_options o;
  o.compress = true;
  o.compress_threshold = 1024;
  const std::string below(1023, 'a');
  const std::string at(1024, 'a');
  encode_stats st;
  auto s1 = encode(below, "k", o, &st);
  ASSERT_TRUE(s1.has_value());
  EXPECT_FALSE(st.compressed);
  EXPECT_EQ(*s1, below);
  auto s2 = encode(at, "k", o, &st);
  ASSERT_TRUE(s2.has_value());
  EXPECT_TRUE(st.compressed);
  EXPECT_LT(s2->size(), 100u);
}

TEST(value_codec, compression_is_dropped_when_it_does_not_save_space) {
  codec_options o;
  o.compress = true;
  o.compress_threshold = 0;
  for (std::size_t n : {1u, 20u, 1000u, 100'000u}) {
    const auto plain = random_bytes(n, static_cast<std::uint32_t>(n));
    encode_stats st;
    auto stored = encode(plain, "k", o, &st);
    ASSERT_TRUE(stored.has_value());
    EXPECT_FALSE(st.compressed) << n;
    if (!plain.starts_with('\xC1')) {
      EXPECT_EQ(*stored, plain) << n;
    }
  }
  // Small but compressible: a 20-byte run does not beat its own header.
  encode_stats st;
  ASSERT_TRUE(encode(std::string(12, 'a'), "k", o, &st).has_value());
  EXPECT_FALSE(st.compressed);
}

// ---- key rotation -------------------------------------------------------------------

TEST(value_codec, key_rotation) {
  codec_options v1;
  v1.keys = ring({1});
  auto old_value = encode("written with key 1", "k", v1);
  ASSERT_TRUE(old_value.has_value());
  EXPECT_EQ(inspect(*old_value)->key_id, 1u);

  // Rotate: the new ring has both keys, 2 current.
  auto next = std::make_shared<key_ring>(*v1.keys);
  ASSERT_TRUE(next->add(2, test_key(2)));
  ASSERT_TRUE(next->set_current(2));
  codec_options v2;
  v2.keys = next;
  auto old_back = decode(*old_value, "k", v2);
  ASSERT_TRUE(old_back.has_value());
  EXPECT_EQ(*old_back, "written with key 1");

  auto new_value = encode("written with key 2", "k", v2);
  ASSERT_TRUE(new_value.has_value());
  EXPECT_EQ(inspect(*new_value)->key_id, 2u);
  EXPECT_EQ(new_value->substr(5, 4), "\x00\x00\x00\x02"s);
  auto new_back = decode(*new_value, "k", v2);
  ASSERT_TRUE(new_back.has_value());
  EXPECT_EQ(*new_back, "written with key 2");

  // An instance that has not learned key 2 yet cannot read the new value.
  EXPECT_EQ(decode(*new_value, "k", v1).error(), make_error_code(error::value_key_unknown));
}

TEST(value_codec, unknown_key_id) {
  codec_options writer;
  writer.keys = ring({7});
  auto stored = encode("secret", "k", writer);
  ASSERT_TRUE(stored.has_value());
  codec_options other;
  other.keys = ring({1, 2});
  EXPECT_EQ(decode(*stored, "k", other).error(), make_error_code(error::value_key_unknown));
  const codec_options none;
  EXPECT_EQ(decode(*stored, "k", none).error(), make_error_code(error::value_key_unknown));
}

TEST(value_codec, same_id_with_another_key_is_tampered) {
  codec_options writer;
  writer.keys = ring({1});
  auto stored = encode("secret", "k", writer);
  ASSERT_TRUE(stored.has_value());
  auto impostor = std::make_shared<key_ring>();
  ASSERT_TRUE(impostor->add(1, test_key(99)));
  ASSERT_TRUE(impostor->set_current(1));
  codec_options reader;
  reader.keys = impostor;
  EXPECT_EQ(decode(*stored, "k", reader).error(), make_error_code(error::value_tampered));
}

// ---- hostile and damaged values -----------------------------------------------------

bool is_rejection(const boost::system::error_code& ec) {
  return ec == make_error_code(error::value_tampered) ||
         ec == make_error_code(error::value_corrupt) ||
         ec == make_error_code(error::value_key_unknown) ||
         ec == make_error_code(error::compression_failed) ||
         ec == make_error_code(error::value_too_large);
}

// Flips every byte of `stored` with several masks; decoding must fail,
// except that flipping a magic byte turns the value into a plain one
// (returned as stored, never decrypted) unless encryption is required. An
// unencrypted value may also survive a flip zstd ignores (its frame header
// has an unused bit), but only by decoding to the original bytes.
void expect_every_flip_rejected(const std::string& stored, const std::string& plain,
                                codec_options o) {
  const auto info = inspect(stored);
  ASSERT_TRUE(info.has_value());
  const std::size_t key_id_at = info->compressed ? 9 : 5;
  for (bool required : {false, true}) {
    if (required && !o.keys) continue;
    o.require_encryption = required;
    for (std::size_t at = 0; at < stored.size(); ++at) {
      for (unsigned mask : {0x01u, 0x02u, 0x80u, 0xFFu}) {
        std::string bad = stored;
        bad[at] = static_cast<char>(static_cast<unsigned char>(bad[at]) ^ mask);
        auto r = decode(bad, "k", o);
        SCOPED_TRACE("offset " + std::to_string(at) + " mask " + std::to_string(mask));
        if (at < 3 && !required) {
          ASSERT_TRUE(r.has_value());
          EXPECT_EQ(*r, bad) << "a value without the magic is plain";
          continue;
        }
        if (r.has_value() && !o.keys) {
          EXPECT_EQ(*r, plain) << "an undetected flip must not change the value";
          continue;
        }
        ASSERT_FALSE(r.has_value()) << "decoded a damaged value";
        EXPECT_TRUE(is_rejection(r.error())) << r.error().message();
        if (o.keys && at != 4) {
          // With encryption, only the key id field may lead to "unknown key",
          // and nothing reaches zstd unauthenticated. (A damaged flags byte
          // can make the value claim it is not encrypted: then zstd or the
          // header checks reject it, or require_encryption does.)
          if (r.error() == make_error_code(error::value_key_unknown)) {
            EXPECT_TRUE(at >= key_id_at && at < key_id_at + 4) << at;
          }
          EXPECT_NE(r.error(), make_error_code(error::compression_failed));
          EXPECT_NE(r.error(), make_error_code(error::value_too_large));
        }
        if (required) {
          EXPECT_TRUE(r.error() == make_error_code(error::value_tampered) ||
                      r.error() == make_error_code(error::value_corrupt) ||
                      r.error() == make_error_code(error::value_key_unknown))
              << r.error().message();
        }
      }
    }
  }
}

TEST(value_codec, every_byte_flip_of_an_encrypted_value_is_rejected) {
  codec_options o;
  o.keys = ring({1});
  const std::string plain = "a small secret value";
  auto stored = encode(plain, "k", o);
  ASSERT_TRUE(stored.has_value());
  expect_every_flip_rejected(*stored, plain, o);
}

TEST(value_codec, every_byte_flip_of_a_compressed_encrypted_value_is_rejected) {
  codec_options o;
  o.keys = ring({1});
  o.compress = true;
  o.compress_threshold = 0;
  const std::string plain = json_like(400);
  encode_stats st;
  auto stored = encode(plain, "k", o, &st);
  ASSERT_TRUE(stored.has_value());
  ASSERT_TRUE(st.compressed);
  expect_every_flip_rejected(*stored, plain, o);
}

TEST(value_codec, every_byte_flip_of_a_compressed_value_is_rejected) {
  // No encryption: the zstd checksum and the header cross-checks catch it.
  codec_options o;
  o.compress = true;
  o.compress_threshold = 0;
  const std::string plain = json_like(400);
  encode_stats st;
  auto stored = encode(plain, "k", o, &st);
  ASSERT_TRUE(stored.has_value());
  ASSERT_TRUE(st.compressed);
  expect_every_flip_rejected(*stored, plain, o);
}

TEST(value_codec, every_truncation_is_rejected) {
  codec_options enc;
  enc.keys = ring({1});
  codec_options both = enc;
  both.compress = true;
  both.compress_threshold = 0;
  codec_options zstd_only;
  zstd_only.compress = true;
  zstd_only.compress_threshold = 0;
  codec_options wrapped;  // a magic-prefixed plain value: the header alone is checked
  const std::vector<std::pair<std::string, codec_options>> cases{
      {"a small secret value", enc},
      {json_like(400), both},
      {json_like(400), zstd_only},
      {"\xC1RC", wrapped},
  };
  for (const auto& [plain, o] : cases) {
    auto stored = encode(plain, "k", o);
    ASSERT_TRUE(stored.has_value());
    // A wrapped plain value is not protected: cut inside its body it is a
    // shorter value that still begins like the magic. Only cuts that leave
    // no body at all are checked there.
    const std::size_t last = o.keys || o.compress ? stored->size() : 6;
    for (std::size_t n = 1; n < last; ++n) {
      auto r = decode(std::string_view{*stored}.substr(0, n), "k", o);
      ASSERT_FALSE(r.has_value()) << "length " << n << " of " << stored->size();
      EXPECT_TRUE(is_rejection(r.error())) << r.error().message();
    }
    // Cut to nothing it is the empty plain value, unless encryption is required.
    if (o.keys) {
      codec_options strict = o;
      strict.require_encryption = true;
      EXPECT_EQ(decode("", "k", strict).error(), make_error_code(error::value_tampered));
    }
  }
}

TEST(value_codec, a_value_moved_to_another_key_is_tampered) {
  codec_options o;
  o.keys = ring({1});
  for (bool compress : {false, true}) {
    o.compress = compress;
    o.compress_threshold = 0;
    auto stored = encode(json_like(2000), "user:1", o);
    ASSERT_TRUE(stored.has_value());
    ASSERT_TRUE(decode(*stored, "user:1", o).has_value());
    for (std::string_view other : {"user:2", "user:1 ", "", "USER:1", "user:"}) {
      EXPECT_EQ(decode(*stored, other, o).error(), make_error_code(error::value_tampered)) << other;
    }
  }
}

// A header declaring a compressed value of `declared` bytes, then `frame`.
std::string compressed_header(std::uint32_t declared, std::string_view frame) {
  std::string s = "\xC1RC\x01\x01"s;
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((declared >> shift) & 0xFF);
  s += frame;
  return s;
}

// A zstd frame declaring a content size of `size` that holds one empty raw
// block: magic, descriptor (8-byte size, single segment), the size, the block.
std::string frame_declaring(std::uint64_t size) {
  std::string f = "\x28\xB5\x2F\xFD\xE0"s;
  for (int i = 0; i < 8; ++i) f += static_cast<char>((size >> (8 * i)) & 0xFF);
  f += "\x01\x00\x00"s;
  return f;
}

std::string frame_declaring_4gib() {
  return frame_declaring(std::uint64_t{1} << 32);
}

TEST(value_codec, hostile_sizes_are_refused_before_allocating) {
  codec_options o;
  o.max_value_size = 1024 * 1024;
  // Declared 4 GiB - 1 in the rcache header.
  {
    allocation_probe probe;
    auto r = decode(compressed_header(0xFFFFFFFF, frame_declaring_4gib()), "k", o);
    EXPECT_EQ(r.error(), make_error_code(error::value_too_large));
    EXPECT_LT(probe.largest(), 4096u);
  }
  // A small declared size, but a frame declaring 4 GiB.
  {
    allocation_probe probe;
    auto r = decode(compressed_header(100, frame_declaring_4gib()), "k", o);
    EXPECT_EQ(r.error(), make_error_code(error::value_corrupt));
    EXPECT_LT(probe.largest(), 4096u);
  }
  // Declared just under the limit with a frame that holds nothing: the
  // sizes disagree before anything is allocated.
  {
    allocation_probe probe;
    auto r = decode(compressed_header(1000 * 1000, frame_declaring_4gib()), "k", o);
    EXPECT_EQ(r.error(), make_error_code(error::value_corrupt));
    EXPECT_LT(probe.largest(), 4096u);
  }
  // Header and frame agree on a size within the limit, but the frame holds
  // nothing: one allocation of the declared size (bounded by the limit), then
  // an error.
  {
    allocation_probe probe;
    auto r = decode(compressed_header(1000 * 1000, frame_declaring(1000 * 1000)), "k", o);
    ASSERT_FALSE(r.has_value());
    EXPECT_TRUE(r.error() == make_error_code(error::compression_failed) ||
                r.error() == make_error_code(error::value_corrupt))
        << r.error().message();
    EXPECT_LE(probe.largest(), o.max_value_size + 64);
  }
  // Even with the default limit, 4 GiB is above it.
  const codec_options defaults;
  EXPECT_EQ(decode(compressed_header(0xFFFFFFFF, frame_declaring_4gib()), "k", defaults).error(),
            make_error_code(error::value_too_large));
  // Garbage where the frame should be.
  EXPECT_EQ(decode(compressed_header(10, "not a zstd frame"), "k", o).error(),
            make_error_code(error::compression_failed));
  EXPECT_EQ(decode(compressed_header(10, ""), "k", o).error(),
            make_error_code(error::compression_failed));
}

TEST(value_codec, max_value_size_on_both_sides) {
  codec_options o;
  o.max_value_size = 100;
  EXPECT_EQ(encode(std::string(101, 'x'), "k", o).error(), make_error_code(error::value_too_large));
  EXPECT_TRUE(encode(std::string(100, 'x'), "k", o).has_value());
  EXPECT_EQ(decode(std::string(101, 'x'), "k", o).error(), make_error_code(error::value_too_large));

  // Values written under a larger limit are refused, whatever their form.
  codec_options writer;
  writer.compress = true;
  writer.compress_threshold = 0;
  const std::string big(1000, 'x');
  auto compressed = encode(big, "k", writer);
  ASSERT_TRUE(compressed.has_value());
  EXPECT_EQ(decode(*compressed, "k", o).error(), make_error_code(error::value_too_large));
  writer.compress = false;
  writer.keys = ring({1});
  auto encrypted = encode(big, "k", writer);
  ASSERT_TRUE(encrypted.has_value());
  o.keys = writer.keys;
  EXPECT_EQ(decode(*encrypted, "k", o).error(), make_error_code(error::value_too_large));
  auto wrapped = encode("\xC1RC" + big, "k", codec_options{});
  ASSERT_TRUE(wrapped.has_value());
  EXPECT_EQ(decode(*wrapped, "k", o).error(), make_error_code(error::value_too_large));
}

TEST(value_codec, malformed_headers_are_corrupt) {
  const codec_options o;
  for (const std::string& bad : {
           "\xC1RC"s,                               // no version
           "\xC1RC\x01"s,                           // no flags
           "\xC1RC\x00\x00payload"s,                // version 0
           "\xC1RC\x02\x00payload"s,                // a future version
           "\xC1RC\x01\x08payload"s,                // unknown flag
           "\xC1RC\x01\x80payload"s,                // unknown flag
           "\xC1RC\x01\x01\x00\x00"s,               // truncated size
           "\xC1RC\x01\x02\x00\x00\x00\x01nonce"s,  // truncated nonce
       }) {
    EXPECT_EQ(decode(bad, "k", o).error(), make_error_code(error::value_corrupt))
        << testing::PrintToString(bad);
    EXPECT_EQ(inspect(bad).error(), make_error_code(error::value_corrupt));
  }
  // Encrypted, with header and nonce but no room for the tag.
  std::string no_tag = "\xC1RC\x01\x02\x00\x00\x00\x01"s + std::string(12, 'n') + "0123456789";
  EXPECT_EQ(decode(no_tag, "k", o).error(), make_error_code(error::value_corrupt));
}

TEST(value_codec, trailing_bytes_after_the_frame_are_corrupt) {
  codec_options o;
  o.compress = true;
  o.compress_threshold = 0;
  const auto plain = json_like(2000);
  auto stored = encode(plain, "k", o);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(decode(*stored + "x", "k", o).error(), make_error_code(error::value_corrupt));
  EXPECT_FALSE(decode(*stored + *stored, "k", o).has_value());
}

// ---- options ------------------------------------------------------------------------

TEST(value_codec, require_encryption) {
  codec_options plain_writer;
  codec_options zstd_writer;
  zstd_writer.compress = true;
  zstd_writer.compress_threshold = 0;
  codec_options strict;
  strict.keys = ring({1});
  strict.require_encryption = true;

  for (const std::string& v : {"plain"s, ""s, "\xC1RC"s, json_like(2000)}) {
    for (const auto* writer : {&plain_writer, &zstd_writer}) {
      auto stored = encode(v, "k", *writer);
      ASSERT_TRUE(stored.has_value());
      EXPECT_EQ(decode(*stored, "k", strict).error(), make_error_code(error::value_tampered));
    }
    auto stored = encode(v, "k", strict);
    ASSERT_TRUE(stored.has_value());
    ASSERT_TRUE(inspect(*stored)->encrypted);
    auto back = decode(*stored, "k", strict);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, v);
  }

  codec_options no_keys;
  no_keys.require_encryption = true;
  EXPECT_EQ(encode("x", "k", no_keys).error(), make_error_code(error::invalid_argument));
  EXPECT_EQ(decode("x", "k", no_keys).error(), make_error_code(error::invalid_argument));
}

TEST(value_codec, invalid_options) {
  codec_options o;
  o.compress = true;
  o.zstd_level = 1000;
  EXPECT_EQ(encode("x", "k", o).error(), make_error_code(error::invalid_argument));
  o.zstd_level = 19;
  o.compress_threshold = 0;
  EXPECT_TRUE(encode(json_like(5000), "k", o).has_value());
  o.zstd_level = -5;  // zstd's fast levels are fine
  EXPECT_TRUE(encode(json_like(5000), "k", o).has_value());

  codec_options no_current;
  auto r = std::make_shared<key_ring>();
  ASSERT_TRUE(r->add(1, test_key(1)));
  no_current.keys = r;
  EXPECT_EQ(encode("x", "k", no_current).error(), make_error_code(error::invalid_argument));
}

TEST(value_codec, concurrent_use_of_shared_options) {
  codec_options o;
  o.compress = true;
  o.compress_threshold = 0;
  o.keys = ring({1, 2});
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string key = "k:" + std::to_string(t) + ":" + std::to_string(i);
        const std::string plain = json_like(static_cast<std::size_t>(100 + 97 * i));
        auto stored = encode(plain, key, o);
        auto back = stored ? decode(*stored, key, o) : result<std::string>{stored.error()};
        if (!back || *back != plain) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// ---- the benchmark corpus -----------------------------------------------------------

TEST(codec_corpus, is_deterministic_bounded_and_json_shaped) {
  const auto a = bench::make_json_corpus();
  const auto b = bench::make_json_corpus();
  ASSERT_EQ(a.size(), bench::corpus_options{}.records);
  ASSERT_EQ(a.size(), b.size());
  std::size_t small = 0;
  std::size_t large = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key);
    EXPECT_EQ(a[i].value, b[i].value);
    const auto& v = a[i].value;
    EXPECT_GE(v.size(), 200u) << a[i].key;
    EXPECT_LE(v.size(), 20u * 1024) << a[i].key;
    small += v.size() < 1024;
    large += v.size() > 8 * 1024;
    // Balanced brackets outside strings (the generator never escapes).
    int depth = 0;
    bool in_string = false;
    for (char c : v) {
      if (c == '"') in_string = !in_string;
      if (in_string) continue;
      depth += (c == '{' || c == '[') - (c == '}' || c == ']');
      ASSERT_GE(depth, 0) << a[i].key;
    }
    EXPECT_EQ(depth, 0) << a[i].key;
    EXPECT_FALSE(in_string) << a[i].key;
  }
  EXPECT_GT(small, a.size() / 5) << "sizes should lean small";
  EXPECT_GT(large, a.size() / 50) << "and still include large values";
  // Keys are unique.
  std::vector<std::string> keys;
  for (const auto& r : a) keys.push_back(r.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end());
  // Another seed, other data.
  bench::corpus_options other;
  other.seed = 1;
  EXPECT_NE(bench::make_json_corpus(other)[0].value, a[0].value);
}

TEST(codec_corpus, compresses_below_60_percent_at_level_3) {
  codec_options o;
  o.compress = true;  // default threshold (1 KiB) and level (3)
  std::size_t plain = 0;
  std::size_t stored = 0;
  std::size_t compressed = 0;
  const auto corpus = bench::make_json_corpus();
  for (const auto& rec : corpus) {
    encode_stats st;
    auto s = encode(rec.value, rec.key, o, &st);
    ASSERT_TRUE(s.has_value());
    plain += st.plain_bytes;
    stored += st.stored_bytes;
    compressed += st.compressed;
  }
  const double ratio = static_cast<double>(stored) / static_cast<double>(plain);
  RecordProperty("stored_to_plain_ratio", std::to_string(ratio));
  std::printf("corpus: %zu values, %zu plain bytes, %zu stored, ratio %.3f, %zu compressed\n",
              corpus.size(), plain, stored, ratio, compressed);
  EXPECT_LT(stored * 100, plain * 60);
}

}  // namespace
}  // namespace rcache::codec
