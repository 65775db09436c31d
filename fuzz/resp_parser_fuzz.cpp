// libFuzzer target for the RESP2 / RESP3 parser.
//
// The input is a byte stream fed to a parser with modest limits, in two
// pieces split at an offset derived from the first byte; each piece lives in
// its own heap buffer, freed right after feed(), so ASan catches a parser
// that keeps pointers into its input. Every value taken is rendered with
// to_display, written back with append_value and parsed again: the second
// parse must succeed, consume exactly those bytes and give an equal value.
// A violated property aborts (a crash for libFuzzer).
//
// Threading: libFuzzer calls the entry point from one thread.
#include <rcache/detail/resp_command.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "resp/parser.hpp"

namespace {

using rcache::value;
using rcache::resp::parser;

// Small enough that a hostile input cannot reach the fuzzer's malloc limit.
rcache::resp::limits fuzz_limits() {
  rcache::resp::limits l;
  l.max_bulk_length = 1 << 16;
  l.max_depth = 16;
  l.max_aggregate_size = 1024;
  l.max_line_length = 1024;
  return l;
}

// Value equality where NaN equals NaN.
bool same(const value& a, const value& b) {
  const bool numbers_equal = a.number == b.number || (std::isnan(a.number) && std::isnan(b.number));
  if (a.type != b.type || a.str != b.str || a.integer != b.integer || !numbers_equal ||
      a.format != b.format || a.elements.size() != b.elements.size() ||
      a.attributes.size() != b.attributes.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.elements.size(); ++i) {
    if (!same(a.elements[i], b.elements[i])) return false;
  }
  for (std::size_t i = 0; i < a.attributes.size(); ++i) {
    if (!same(a.attributes[i], b.attributes[i])) return false;
  }
  return true;
}

// The second parse uses default limits: two attributes in a row come back
// merged into one, which may declare more pairs than either did.
void round_trip(const value& v) {
  volatile std::size_t shown = rcache::to_display(v).size();
  (void)shown;
  std::string wire;
  rcache::resp::append_value(wire, v);
  parser again;
  boost::system::error_code ec;
  const std::size_t n = again.feed(wire, ec);
  if (ec || n != wire.size() || !again.ready()) std::abort();
  if (!same(again.take(), v)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
  parser p(fuzz_limits());
  std::string pending;  // bytes handed over but not consumed yet, as a caller keeps them
  for (const auto& [from, to] : {std::pair{std::size_t{0}, split}, std::pair{split, size}}) {
    pending.append(reinterpret_cast<const char*>(data) + from, to - from);
    for (;;) {
      auto piece = std::make_unique<char[]>(pending.size() + 1);
      std::memcpy(piece.get(), pending.data(), pending.size());
      boost::system::error_code ec;
      const std::size_t n = p.feed({piece.get(), pending.size()}, ec);
      piece.reset();
      if (ec) return 0;  // a refused stream is a fine outcome; crashing is not
      if (n > pending.size()) std::abort();
      pending.erase(0, n);
      if (!p.ready()) {
        if (!pending.empty()) std::abort();  // not ready means it wants more
        break;
      }
      round_trip(p.take());
    }
  }
  return 0;
}
