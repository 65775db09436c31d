// The value codec: the rcache header, zstd compression and AES-256-GCM
// encryption of stored values. See value_codec.hpp for the contract and
// docs/value-format.md for the byte layout.
//
// Threading: no shared mutable state. zstd contexts are thread_local (a
// compression context keeps a few MB of workspace per thread that has
// compressed something); the AES-256-GCM cipher object is fetched once and
// is immutable afterwards; cipher contexts are per call.
#include "codec/value_codec.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <optional>
#include <zstd.h>
#include <zstd_errors.h>

namespace rcache::codec {
namespace {

// ---- the header ---------------------------------------------------------------------
//
//   magic 3 | version 1 | flags 1 | [original size u32 BE] | [key id u32 BE | nonce 12]
//   then the body: the plain bytes, a zstd frame, or the ciphertext of either
//   followed by the 16-byte GCM tag.
//
// 0xC1 can never occur in UTF-8 (it could only start an overlong encoding)
// and is the one byte MessagePack never uses; "RC" makes the value
// recognisable in redis-cli output ("\xc1RC\x01...").

constexpr std::array<unsigned char, 3> magic{0xC1, 'R', 'C'};
constexpr unsigned char format_version = 1;
constexpr unsigned char flag_compressed = 0x01;
constexpr unsigned char flag_encrypted = 0x02;
// The plain bytes begin with a tag section (src/cache/tags.hpp): the value
// of an entry with tags. The header is then always written.
constexpr unsigned char flag_tagged = 0x04;
constexpr unsigned char known_flags = flag_compressed | flag_encrypted | flag_tagged;

constexpr std::size_t base_header_size = magic.size() + 2;  // magic, version, flags
constexpr std::size_t size_field_size = 4;
constexpr std::size_t key_id_size = 4;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;

[[nodiscard]] constexpr std::size_t header_size(bool compressed, bool encrypted) noexcept {
  return base_header_size + (compressed ? size_field_size : 0) +
         (encrypted ? key_id_size + nonce_size : 0);
}

void put_u32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xFF));
  out.push_back(static_cast<char>((v >> 16) & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}

[[nodiscard]] std::uint32_t get_u32(std::string_view s, std::size_t at) noexcept {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

struct header {
  bool compressed = false;
  bool encrypted = false;
  bool tagged = false;
  std::uint32_t original_size = 0;
  std::uint32_t key_id = 0;
  std::string_view nonce{};
  std::size_t size = 0;  // bytes before the body
};

// Parses the header of a value for which has_magic() is true. Every length
// is checked against the bytes present before it is read.
[[nodiscard]] result<header> parse_header(std::string_view s) noexcept {
  if (s.size() < base_header_size) return make_error_code(error::value_corrupt);
  const auto version = static_cast<unsigned char>(s[magic.size()]);
  const auto flags = static_cast<unsigned char>(s[magic.size() + 1]);
  if (version != format_version || (flags & ~known_flags) != 0) {
    return make_error_code(error::value_corrupt);
  }
  header h;
  h.compressed = (flags & flag_compressed) != 0;
  h.encrypted = (flags & flag_encrypted) != 0;
  h.tagged = (flags & flag_tagged) != 0;
  h.size = header_size(h.compressed, h.encrypted);
  if (s.size() < h.size + (h.encrypted ? tag_size : 0)) {
    return make_error_code(error::value_corrupt);
  }
  // A flag-less header only ever wraps a plain value that itself begins
  // with the magic. Checking it costs nothing and means that a damaged
  // flags byte cannot turn a compressed value into "plain" garbage.
  if (!h.compressed && !h.encrypted && !h.tagged && !has_magic(s.substr(h.size))) {
    return make_error_code(error::value_corrupt);
  }
  std::size_t at = base_header_size;
  if (h.compressed) {
    h.original_size = get_u32(s, at);
    at += size_field_size;
  }
  if (h.encrypted) {
    h.key_id = get_u32(s, at);
    h.nonce = s.substr(at + key_id_size, nonce_size);
  }
  return h;
}

// ---- zstd ---------------------------------------------------------------------------

struct cctx_free {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct dctx_free {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

[[nodiscard]] ZSTD_CCtx* thread_cctx() {
  thread_local const std::unique_ptr<ZSTD_CCtx, cctx_free> c{ZSTD_createCCtx()};
  return c.get();
}

[[nodiscard]] ZSTD_DCtx* thread_dctx() {
  thread_local const std::unique_ptr<ZSTD_DCtx, dctx_free> d{ZSTD_createDCtx()};
  return d.get();
}

// Compresses `plain` into a frame of at most `capacity` bytes; nullopt when
// it does not fit (compressing would not save space). The frame records its
// content size (decode checks it against the header) and, when `checksum`,
// an XXH64 checksum: the only integrity check an unencrypted value has.
[[nodiscard]] result<std::optional<std::string>> compress(std::string_view plain, int level,
                                                          bool checksum, std::size_t capacity) {
  ZSTD_CCtx* cctx = thread_cctx();
  if (cctx == nullptr) return make_error_code(error::compression_failed);
  // Resetting parameters too: a previous call on this thread may have used
  // another level or checksum setting.
  if (ZSTD_isError(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum ? 1 : 0)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1))) {
    return make_error_code(error::compression_failed);
  }
  std::string frame(capacity, '\0');
  const std::size_t n =
      ZSTD_compress2(cctx, frame.data(), frame.size(), plain.data(), plain.size());
  if (ZSTD_isError(n)) {
    if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) return std::optional<std::string>{};
    return make_error_code(error::compression_failed);
  }
  frame.resize(n);
  return std::optional<std::string>{std::move(frame)};
}

// Decompresses one zstd frame whose header declared `original_size` (already
// checked against max_value_size). The frame must be exactly `frame` long and
// declare the same content size, so the one allocation below is the size the
// header declared and nothing the frame says can enlarge it.
[[nodiscard]] result<std::string> decompress(std::string_view frame, std::uint32_t original_size) {
  const std::size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size)) return make_error_code(error::compression_failed);
  if (frame_size != frame.size()) return make_error_code(error::value_corrupt);
  const unsigned long long content_size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content_size == ZSTD_CONTENTSIZE_ERROR) return make_error_code(error::compression_failed);
  if (content_size != original_size) return make_error_code(error::value_corrupt);

  ZSTD_DCtx* dctx = thread_dctx();
  if (dctx == nullptr) return make_error_code(error::compression_failed);
  std::string out(original_size, '\0');
  const std::size_t n =
      ZSTD_decompressDCtx(dctx, out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) return make_error_code(error::compression_failed);
  if (n != original_size) return make_error_code(error::value_corrupt);
  return out;
}

// ---- AES-256-GCM --------------------------------------------------------------------
//
// The nonce is 12 random bytes per value. With random nonces a key should
// encrypt no more than 2^32 values (NIST SP 800-38D), which is what key
// rotation is for. The additional authenticated data is the header followed
// by the Redis key name; the header is self-delimiting, so the pair is
// unambiguous.

struct cipher_free {
  void operator()(EVP_CIPHER* c) const noexcept { EVP_CIPHER_free(c); }
};
struct cipher_ctx_free {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

// Fetched once (an implicit fetch per EVP_*Init call is measurably slower in
// OpenSSL 3); null when the provider lacks AES-256-GCM.
[[nodiscard]] const EVP_CIPHER* aes_256_gcm() {
  static const std::unique_ptr<EVP_CIPHER, cipher_free> c{
      EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr)};
  return c.get();
}

// The error for "the crypto library failed on valid input" (no cipher, no
// entropy). rcache::error has no dedicated value yet.
constexpr error crypto_unavailable = error::invalid_argument;

// EVP_*Update take int lengths; values may be longer.
constexpr std::size_t evp_chunk = std::size_t{1} << 30;

// Feeds `in` through EVP_EncryptUpdate or EVP_DecryptUpdate; `out` null for
// AAD. GCM is a stream mode: output length always equals input length.
template <class Update>
[[nodiscard]] bool update_all(Update update, EVP_CIPHER_CTX* ctx, unsigned char* out,
                              std::string_view in) {
  std::size_t done = 0;
  while (done < in.size()) {
    const std::size_t n = std::min(evp_chunk, in.size() - done);
    int produced = 0;
    const auto* src = reinterpret_cast<const unsigned char*>(in.data()) + done;
    if (update(ctx, out ? out + done : nullptr, &produced, src, static_cast<int>(n)) != 1) {
      return false;
    }
    if (out && static_cast<std::size_t>(produced) != n) return false;
    done += n;
  }
  return true;
}

// Encrypts `body` into `out` (body.size() bytes) and writes the tag.
[[nodiscard]] bool gcm_encrypt(const std::array<std::uint8_t, key_ring::key_size>& key,
                               std::string_view nonce, std::string_view header_bytes,
                               std::string_view redis_key, std::string_view body,
                               unsigned char* out, unsigned char* tag) {
  const EVP_CIPHER* cipher = aes_256_gcm();
  const cipher_ctx ctx{EVP_CIPHER_CTX_new()};
  if (cipher == nullptr || !ctx) return false;
  const auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
  int tail = 0;
  return EVP_EncryptInit_ex2(ctx.get(), cipher, key.data(), iv, nullptr) == 1 &&
         update_all(EVP_EncryptUpdate, ctx.get(), nullptr, header_bytes) &&
         update_all(EVP_EncryptUpdate, ctx.get(), nullptr, redis_key) &&
         update_all(EVP_EncryptUpdate, ctx.get(), out, body) &&
         EVP_EncryptFinal_ex(ctx.get(), out + body.size(), &tail) == 1 && tail == 0 &&
         EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_size), tag) ==
             1;
}

enum class decrypt_status : std::uint8_t { ok, unavailable, failed_authentication };

// Decrypts `ciphertext` into `out` and checks the tag. On failure the
// caller must discard `out`: it holds unauthenticated bytes.
[[nodiscard]] decrypt_status gcm_decrypt(const std::array<std::uint8_t, key_ring::key_size>& key,
                                         std::string_view nonce, std::string_view header_bytes,
                                         std::string_view redis_key, std::string_view ciphertext,
                                         std::string_view tag, unsigned char* out) {
  const EVP_CIPHER* cipher = aes_256_gcm();
  const cipher_ctx ctx{EVP_CIPHER_CTX_new()};
  if (cipher == nullptr || !ctx) return decrypt_status::unavailable;
  const auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
  if (EVP_DecryptInit_ex2(ctx.get(), cipher, key.data(), iv, nullptr) != 1) {
    return decrypt_status::unavailable;
  }
  // EVP_CTRL_AEAD_SET_TAG takes a non-const pointer but only reads it.
  std::array<unsigned char, tag_size> expected{};
  std::memcpy(expected.data(), tag.data(), tag_size);
  int tail = 0;
  const bool ok = update_all(EVP_DecryptUpdate, ctx.get(), nullptr, header_bytes) &&
                  update_all(EVP_DecryptUpdate, ctx.get(), nullptr, redis_key) &&
                  update_all(EVP_DecryptUpdate, ctx.get(), out, ciphertext) &&
                  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_size),
                                      expected.data()) == 1 &&
                  EVP_DecryptFinal_ex(ctx.get(), out + ciphertext.size(), &tail) == 1;
  return ok ? decrypt_status::ok : decrypt_status::failed_authentication;
}

}  // namespace

// The second case of has_magic matters for truncation: a value cut to one
// or two bytes must not turn into a valid plain value. Encoding wraps such
// plain values, so this predicate alone decides "has a header" on both
// sides.
bool has_magic(std::string_view s) noexcept {
  if (s.empty()) return false;
  const std::size_t n = std::min(s.size(), magic.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(s[i]) != magic[i]) return false;
  }
  return true;
}

// ---- encode -------------------------------------------------------------------------

result<std::string> encode(std::string_view plain, std::string_view redis_key,
                           const codec_options& options, encode_stats* stats, bool tagged) {
  if (plain.size() > options.max_value_size) return make_error_code(error::value_too_large);
  if (options.require_encryption && !options.keys) return make_error_code(error::invalid_argument);
  if (options.compress &&
      (options.zstd_level < ZSTD_minCLevel() || options.zstd_level > ZSTD_maxCLevel())) {
    return make_error_code(error::invalid_argument);
  }

  const std::array<std::uint8_t, key_ring::key_size>* key = nullptr;
  std::uint32_t key_id = 0;
  if (options.keys) {
    const auto current = options.keys->current_id();
    if (!current) return make_error_code(error::invalid_argument);
    key_id = *current;
    key = options.keys->find(key_id);
    if (key == nullptr) return make_error_code(error::invalid_argument);
  }
  const bool encrypted = key != nullptr;
  const std::size_t crypto_overhead = encrypted ? tag_size : 0;

  // Compression is worth it only when the whole stored form shrinks, header
  // and all; the frame may use at most the bytes that leaves.
  std::optional<std::string> frame;
  if (options.compress && !plain.empty() && plain.size() >= options.compress_threshold &&
      plain.size() <= std::numeric_limits<std::uint32_t>::max()) {
    const std::size_t without =
        (encrypted || tagged || has_magic(plain) ? header_size(false, encrypted) : 0) +
        plain.size() + crypto_overhead;
    const std::size_t fixed = header_size(true, encrypted) + crypto_overhead;
    if (without > fixed + 1) {
      auto r = compress(plain, options.zstd_level, !encrypted, without - fixed - 1);
      if (!r) return r.error();
      frame = std::move(*r);
    }
  }
  const bool compressed = frame.has_value();
  const std::string_view body = compressed ? std::string_view{*frame} : plain;

  std::string out;
  if (!compressed && !encrypted && !tagged && !has_magic(plain)) {
    out.assign(plain);
  } else {
    const std::size_t hsize = header_size(compressed, encrypted);
    out.reserve(hsize + body.size() + crypto_overhead);
    out.append(reinterpret_cast<const char*>(magic.data()), magic.size());
    out.push_back(static_cast<char>(format_version));
    out.push_back(static_cast<char>((compressed ? flag_compressed : 0) |
                                    (encrypted ? flag_encrypted : 0) | (tagged ? flag_tagged : 0)));
    if (compressed) put_u32(out, static_cast<std::uint32_t>(plain.size()));
    if (!encrypted) {
      out.append(body);
    } else {
      put_u32(out, key_id);
      std::array<unsigned char, nonce_size> nonce{};
      if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
        return make_error_code(crypto_unavailable);
      }
      out.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
      out.resize(hsize + body.size() + tag_size);
      auto* dst = reinterpret_cast<unsigned char*>(out.data());
      const std::string_view header_bytes{out.data(), hsize};
      const std::string_view nonce_view{out.data() + hsize - nonce_size, nonce_size};
      if (!gcm_encrypt(*key, nonce_view, header_bytes, redis_key, body, dst + hsize,
                       dst + hsize + body.size())) {
        return make_error_code(crypto_unavailable);
      }
    }
  }
  if (frame) OPENSSL_cleanse(frame->data(), frame->size());  // compressed plaintext

  if (stats) {
    stats->plain_bytes = plain.size();
    stats->stored_bytes = out.size();
    stats->compressed = compressed;
    stats->encrypted = encrypted;
  }
  return out;
}

// ---- decode -------------------------------------------------------------------------

namespace {
// A value without the magic: as it is, unless the options refuse it.
std::optional<boost::system::error_code> plain_refused(std::string_view stored,
                                                       const codec_options& options) {
  if (options.require_encryption) return make_error_code(error::value_tampered);
  if (stored.size() > options.max_value_size) return make_error_code(error::value_too_large);
  return std::nullopt;
}
}  // namespace

result<std::string> decode_owned(std::string stored, std::string_view redis_key,
                                 const codec_options& options, bool* tagged) {
  if (tagged) *tagged = false;
  if (options.require_encryption && !options.keys) return make_error_code(error::invalid_argument);
  if (has_magic(stored)) return decode(std::string_view(stored), redis_key, options, tagged);
  if (auto refused = plain_refused(stored, options)) return *refused;
  return stored;  // moved: a parameter, returned
}

result<std::string> decode(std::string_view stored, std::string_view redis_key,
                           const codec_options& options, bool* tagged) {
  if (tagged) *tagged = false;
  if (options.require_encryption && !options.keys) return make_error_code(error::invalid_argument);
  if (!has_magic(stored)) {
    if (auto refused = plain_refused(stored, options)) return *refused;
    return std::string(stored);
  }

  auto parsed = parse_header(stored);
  if (!parsed) return parsed.error();
  const header& h = *parsed;
  if (options.require_encryption && !h.encrypted) return make_error_code(error::value_tampered);
  if (tagged) *tagged = h.tagged;
  // Unauthenticated sizes are checked before anything is allocated for
  // them; an encrypted value's declared size is checked once it is known to
  // be genuine (decrypting allocates no more than the stored bytes), so a
  // damaged one reads as tampered rather than too large.
  if (h.compressed && !h.encrypted && h.original_size > options.max_value_size) {
    return make_error_code(error::value_too_large);
  }

  std::string_view body = stored.substr(h.size);
  std::string decrypted;
  if (h.encrypted) {
    const std::string_view tag = body.substr(body.size() - tag_size);
    body.remove_suffix(tag_size);
    if (!h.compressed && body.size() > options.max_value_size) {
      return make_error_code(error::value_too_large);
    }
    const auto* key = options.keys ? options.keys->find(h.key_id) : nullptr;
    if (key == nullptr) return make_error_code(error::value_key_unknown);
    decrypted.resize(body.size());
    const auto status = gcm_decrypt(*key, h.nonce, stored.substr(0, h.size), redis_key, body, tag,
                                    reinterpret_cast<unsigned char*>(decrypted.data()));
    if (status != decrypt_status::ok) {
      OPENSSL_cleanse(decrypted.data(), decrypted.size());
      return make_error_code(status == decrypt_status::unavailable ? crypto_unavailable
                                                                   : error::value_tampered);
    }
    if (!h.compressed) return decrypted;
    if (h.original_size > options.max_value_size) {
      OPENSSL_cleanse(decrypted.data(), decrypted.size());
      return make_error_code(error::value_too_large);
    }
    body = decrypted;
  }

  if (h.compressed) {
    auto plain = decompress(body, h.original_size);
    if (!decrypted.empty()) OPENSSL_cleanse(decrypted.data(), decrypted.size());
    return plain;
  }
  if (body.size() > options.max_value_size) return make_error_code(error::value_too_large);
  return std::string(body);
}

// ---- inspect ------------------------------------------------------------------------

result<value_info> inspect(std::string_view stored) {
  value_info info;
  if (!has_magic(stored)) return info;
  auto h = parse_header(stored);
  if (!h) return h.error();
  info.has_header = true;
  info.compressed = h->compressed;
  info.encrypted = h->encrypted;
  info.tagged = h->tagged;
  info.original_size = h->original_size;
  info.key_id = h->key_id;
  return info;
}

namespace {
// The header with the reserved `absent` flag, then words for whoever reads
// the key with another Redis client.
constexpr char absent_header[] = {'\xC1', 'R', 'C', '\x01', '\x80'};
static_assert(sizeof absent_header == base_header_size);
constexpr std::string_view absent_text = "rcache: no such value (negative-cache entry)";
}  // namespace

std::string_view absent_marker() noexcept {
  static const std::string marker =
      std::string(absent_header, sizeof absent_header) + std::string(absent_text);
  return marker;
}

bool is_absent_marker(std::string_view stored) noexcept {
  // Also the bare header, which earlier versions wrote.
  return stored.starts_with(std::string_view(absent_header, sizeof absent_header)) &&
         (stored.size() == base_header_size || stored.substr(base_header_size) == absent_text);
}

}  // namespace rcache::codec
