// RESP2 / RESP3 incremental parser — sans-I/O.
//
// The parser is fed whatever bytes the transport produced, in pieces of any
// size; it never reads a socket. feed() consumes bytes until one complete
// top-level value is ready (then take() returns it) or the input runs out
// (then feed() wants more). Partially received bulk strings are copied into
// the value under construction, so the caller may discard consumed bytes.
//
// Every declared size is checked against `limits` before anything is
// allocated for it: a hostile or corrupt stream gets a distinct error
// (resp_bulk_too_long, resp_depth_exceeded, resp_aggregate_too_large, ...),
// never an unbounded allocation. After an error the parser must be reset();
// the stream it came from is not trustworthy any more.
//
// Threading: a parser is a plain object; use one per connection.
#pragma once

#include <rcache/error.hpp>
#include <rcache/value.hpp>

#include <cstddef>
#include <string_view>
#include <vector>

namespace rcache::resp {

struct limits {
  std::size_t max_bulk_length = 512u * 1024 * 1024;    // Redis' own proto-max-bulk-len
  std::size_t max_depth = 64;                          // nesting of aggregates
  std::size_t max_aggregate_size = 16u * 1024 * 1024;  // elements declared by one aggregate
  std::size_t max_line_length = 64u * 1024;            // a simple string / error / number line
};

class parser {
 public:
  explicit parser(limits l = {}) noexcept;

  /// Consumes a prefix of `in`. Returns the number of bytes consumed. Stops
  /// early right after a complete top-level value (ready() becomes true):
  /// take() it before feeding again. On a protocol error `ec` is set and the
  /// return value is unspecified.
  std::size_t feed(std::string_view in, boost::system::error_code& ec);

  /// True when a complete top-level value is waiting to be taken.
  [[nodiscard]] bool ready() const noexcept;

  /// Moves out the complete value; precondition ready().
  [[nodiscard]] value take();

  /// Drops any partial state (after an error or a reconnect).
  void reset() noexcept;

  /// Whether the top-level value being parsed (or the one that failed) is a
  /// push: after an error, tells a client whether the broken value was a
  /// reply (whose request it can fail) or out-of-band.
  [[nodiscard]] bool in_push() const noexcept {
    return stack_.empty() ? type_ == '>' : stack_.front().v.type == resp_type::push;
  }

 private:
  // An aggregate under construction. `remaining` counts the children still
  // expected (for a map or an attribute, twice the declared pair count); a
  // frame is only pushed while it is > 0, so empty aggregates never sit here.
  struct frame {
    value v;
    std::size_t remaining = 0;
  };
  // Where in the current token the next byte belongs.
  enum class state : std::uint8_t {
    type_byte,  // the first byte of a value
    line,       // the rest of a line up to CRLF (simple types and all headers)
    bulk_body,  // the payload of $, ! or =
    bulk_crlf,  // the CRLF after a bulk payload
  };

  const char* read_line(const char* p, const char* end);
  const char* on_line(std::string_view line, const char* p, const char* end);
  const char* on_bulk_header(std::string_view line, const char* p, const char* end);
  void on_aggregate_header(std::string_view line);
  const char* read_bulk_body(const char* p, const char* end);
  const char* read_bulk_crlf(const char* p, const char* end);
  void finish_bulk(value v);
  void complete_scalar(value v);
  void complete(value v);
  void fail(error e) noexcept;

  limits limits_;
  std::vector<frame> stack_;               // open aggregates, outermost first
  std::vector<value> pending_attributes_;  // a finished `|` waiting for the next value to start
  value done_;                             // the finished top-level value while ready_
  value bulk_;                             // a bulk payload split across feeds
  std::string line_;                       // a line split across feeds, without its CR
  std::size_t bulk_remaining_ = 0;         // payload bytes of bulk_ not yet received
  boost::system::error_code error_;        // sticky until reset()
  state state_ = state::type_byte;
  char type_ = 0;         // the type byte of the token being read
  bool cr_seen_ = false;  // the CR of a line or bulk ended the last piece; its LF is due
  bool ready_ = false;
};

}  // namespace rcache::resp
