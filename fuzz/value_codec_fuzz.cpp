// libFuzzer target for the value codec and the key-ring spec parser.
//
// Every input is decoded as a stored value, under options with compression
// and a two-key ring (so compressed, encrypted and plain paths are all
// reachable), with a small max_value_size so a hostile header cannot ask for
// much memory. A value that decodes is encoded again and must decode to the
// same bytes. The input is also parsed as a key-ring spec. Any crash,
// sanitizer report, leak or violated property is a finding.
//
// Threading: libFuzzer calls the entry point from one thread.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "codec/value_codec.hpp"

namespace {

const rcache::codec::codec_options& options() {
  static const auto opts = [] {
    rcache::codec::codec_options o;
    o.compress = true;
    o.compress_threshold = 16;
    o.max_value_size = 64 * 1024;
    // Two fixed 32-byte keys (base64), current = 2: old and new values decrypt.
    auto ring = rcache::codec::key_ring::from_spec(
        "1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,"
        "2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=;current=2");
    if (!ring) std::abort();
    o.keys = std::make_shared<const rcache::codec::key_ring>(std::move(*ring));
    return o;
  }();
  return opts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto& o = options();

  if (auto plain = rcache::codec::decode(input, "fuzz:key", o)) {
    auto stored = rcache::codec::encode(*plain, "fuzz:key", o);
    if (!stored) std::abort();  // anything decode returns must encode again
    auto again = rcache::codec::decode(*stored, "fuzz:key", o);
    if (!again || *again != *plain) std::abort();
  }
  (void)rcache::codec::inspect(input);

  std::string detail;
  (void)rcache::codec::key_ring::from_spec(input, &detail);
  return 0;
}
