// The read side of every Redis connection in rcache (the client's handshake
// and reader, the Sentinel queries and subscription): one buffer of bytes
// read and the RESP3 parser over them, without I/O. A read loop reads into
// space(), commit()s what arrived, then takes values with next() until it
// has none; async_read_value() (read_value.hpp) is that loop for one value.
//
// Threading: one reader per connection, used by one strand.
#pragma once

#include <rcache/error.hpp>
#include <rcache/value.hpp>

#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <optional>
#include <vector>

#include "resp/parser.hpp"

namespace rcache::detail {

class reply_reader {
 public:
  explicit reply_reader(resp::limits limits = {}, std::size_t buffer_bytes = 16 * 1024)
      : parser_(limits), buf_(buffer_bytes) {}

  /// Where the next read goes: the whole buffer (the parser keeps any
  /// partial value itself). Precondition: next() has returned nullopt
  /// since the last commit().
  [[nodiscard]] boost::asio::mutable_buffer space() noexcept {
    begin_ = end_ = 0;
    return boost::asio::buffer(buf_);
  }
  /// `n` bytes arrived in space().
  void commit(std::size_t n) noexcept { end_ = n; }

  /// The next complete value of what was read; nullopt when every byte is
  /// parsed and more are needed, or with `ec` set when the bytes are not
  /// RESP3 or break a limit (the connection cannot go on).
  [[nodiscard]] std::optional<value> next(boost::system::error_code& ec) {
    while (begin_ < end_) {
      begin_ += parser_.feed({buf_.data() + begin_, end_ - begin_}, ec);
      if (ec) return std::nullopt;
      if (parser_.ready()) return parser_.take();
    }
    return std::nullopt;
  }

  /// Forgets every byte and partial value: for a new connection.
  void reset() noexcept {
    parser_.reset();
    begin_ = end_ = 0;
  }

  /// Whether the value being parsed is a push (for a limit error: it
  /// belongs to no request).
  [[nodiscard]] bool in_push() const noexcept { return parser_.in_push(); }

 private:
  resp::parser parser_;
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
};

}  // namespace rcache::detail
