// The RESP2 / RESP3 incremental parser: a byte-driven state machine.
//
// A token is a type byte, a line up to CRLF and, for $ ! =, a payload and
// its CRLF. feed() walks tokens with a small `state_` and keeps aggregates
// under construction on an explicit stack (`stack_`), so nesting costs no
// recursion and a value split across any number of feeds resumes exactly
// where it stopped. Nothing ever points into the caller's bytes: a line cut
// by the end of a piece is copied into `line_`, a cut payload into `bulk_`.
//
// The common case — a whole small reply in one buffer — touches no
// intermediate buffer: lines are found with memchr and parsed in place with
// std::from_chars, and a bulk payload that is already complete is copied
// once, straight into its value.
//
// Invariants:
//  - every declared length or count is checked against limits_ before
//    anything is allocated for it, and a declared count only ever reserves
//    min(count, reserve_cap) slots: memory follows bytes received, not
//    numbers claimed;
//  - pending_attributes_ is non-empty only between the end of an attribute
//    (`|`) and the start of the value it belongs to; that value is always in
//    the same aggregate, because an attribute does not count as a child;
//  - after an error every feed() repeats it until reset().
//
// RESP3 streamed strings and aggregates (`$?`, `*?`, `;` chunks, `.` end)
// are rejected with resp_invalid_integer: Redis never sends them.
//
// Threading: a parser is a plain object; use one per connection.
#include "resp/parser.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstring>
#include <iterator>
#include <system_error>
#include <utility>

namespace rcache::resp {
namespace {

// The most slots a declared aggregate count may reserve up front; larger
// aggregates grow as their children actually arrive.
constexpr std::size_t reserve_cap = 1024;

// The most bytes a declared bulk length may reserve before its payload has
// arrived (only used when the payload is split across feeds).
constexpr std::size_t bulk_reserve_cap = 64 * 1024;

bool is_type_byte(char c) noexcept {
  constexpr std::string_view type_bytes = "+-:$*_#,(!=%~|>";
  return type_bytes.find(c) != std::string_view::npos;
}

// A whole line as a decimal int64. `allow_plus` admits the leading '+' the
// RESP3 spec allows for integers (never for lengths).
bool parse_int64(std::string_view s, bool allow_plus, std::int64_t& out) noexcept {
  if (allow_plus && s.size() > 1 && s[0] == '+' && s[1] != '-') s.remove_prefix(1);
  if (s.empty()) return false;
  const char* const end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

// A RESP3 double: [+|-]digits[.digits][e[+|-]digits], inf, -inf or nan.
// Values outside double's range are rejected; Redis only sends doubles it
// holds.
bool parse_double(std::string_view s, double& out) noexcept {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-') s.remove_prefix(1);
  if (s.empty()) return false;
  const char* const end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out, std::chars_format::general);
  return ec == std::errc{} && ptr == end;
}

// A RESP3 big number: an optional sign and at least one decimal digit.
bool is_big_number(std::string_view s) noexcept {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

resp_type aggregate_type(char c) noexcept {
  switch (c) {
    case '%':
      return resp_type::map;
    case '~':
      return resp_type::set;
    case '|':
      return resp_type::attribute;
    case '>':
      return resp_type::push;
    default:
      return resp_type::array;
  }
}

resp_type bulk_type(char c) noexcept {
  switch (c) {
    case '!':
      return resp_type::bulk_error;
    case '=':
      return resp_type::verbatim_string;
    default:
      return resp_type::bulk_string;
  }
}

// Splits a verbatim payload "fmt:text" into its format and text.
bool split_verbatim(value& v) {
  if (v.str.size() < 4 || v.str[3] != ':') return false;
  std::copy_n(v.str.data(), 3, v.format.begin());
  v.str.erase(0, 4);
  return true;
}

}  // namespace

parser::parser(limits l) noexcept : limits_(l) {}

bool parser::ready() const noexcept {
  return ready_;
}

value parser::take() {
  assert(ready_);
  ready_ = false;
  return std::move(done_);
}

void parser::reset() noexcept {
  stack_.clear();
  pending_attributes_.clear();
  done_ = value{};
  bulk_ = value{};
  line_.clear();
  bulk_remaining_ = 0;
  error_.clear();
  state_ = state::type_byte;
  type_ = 0;
  cr_seen_ = false;
  ready_ = false;
}

void parser::fail(error e) noexcept {
  error_ = make_error_code(e);
}

// ---- the main loop ------------------------------------------------------------

std::size_t parser::feed(std::string_view in, boost::system::error_code& ec) {
  ec.clear();
  if (error_) {
    ec = error_;
    return 0;
  }
  const char* const begin = in.data();
  const char* const end = begin + in.size();
  const char* p = begin;
  while (p != end && !ready_) {
    switch (state_) {
      case state::type_byte:
        type_ = *p++;
        if (!is_type_byte(type_)) fail(error::resp_invalid_type);
        state_ = state::line;
        break;
      case state::line:
        p = read_line(p, end);
        break;
      case state::bulk_body:
        p = read_bulk_body(p, end);
        break;
      case state::bulk_crlf:
        p = read_bulk_crlf(p, end);
        break;
    }
    if (error_) {
      ec = error_;
      break;
    }
  }
  return static_cast<std::size_t>(p - begin);
}

// ---- lines: simple types and every header ---------------------------------------

// Reads up to and including the CRLF that ends the current line. The scan is
// bounded by what max_line_length still allows, so an unterminated line is
// refused as soon as it is too long, and a hostile megabyte without CR is
// never scanned. RESP lines never hold a bare LF; one means the stream lost
// sync and is refused as soon as it is seen.
const char* parser::read_line(const char* p, const char* end) {
  if (cr_seen_) {
    if (*p != '\n') {
      fail(error::resp_invalid_framing);
      return p;
    }
    cr_seen_ = false;
    const char* next = on_line(line_, p + 1, end);
    line_.clear();
    return next;
  }
  const std::size_t avail = static_cast<std::size_t>(end - p);
  const std::size_t allowance =
      limits_.max_line_length - std::min(limits_.max_line_length, line_.size());
  const std::size_t scan = avail <= allowance ? avail : allowance + 1;
  const auto* cr = static_cast<const char*>(std::memchr(p, '\r', scan));
  if (cr == nullptr) {
    if (avail > allowance) {
      fail(error::resp_line_too_long);
      return p;
    }
    if (std::memchr(p, '\n', avail) != nullptr) {  // a bare LF: the stream lost sync
      fail(error::resp_invalid_framing);
      return p;
    }
    line_.append(p, avail);
    return end;
  }
  const auto seg = static_cast<std::size_t>(cr - p);
  if (std::memchr(p, '\n', seg) != nullptr) {
    fail(error::resp_invalid_framing);
    return p;
  }
  if (cr + 1 == end) {
    line_.append(p, seg);
    cr_seen_ = true;
    return end;
  }
  if (cr[1] != '\n') {
    fail(error::resp_invalid_framing);
    return p;
  }
  if (line_.empty()) return on_line({p, seg}, cr + 2, end);
  line_.append(p, seg);
  const char* next = on_line(line_, cr + 2, end);
  line_.clear();
  return next;
}

// Turns a finished line into a scalar or a header. `p` points just past its
// CRLF; a bulk header may consume its payload from [p, end) directly.
const char* parser::on_line(std::string_view line, const char* p, const char* end) {
  state_ = state::type_byte;
  value v;
  switch (type_) {
    case '+':
    case '-':
      v.type = type_ == '+' ? resp_type::simple_string : resp_type::simple_error;
      v.str.assign(line);
      break;
    case ':':
      v.type = resp_type::integer;
      if (!parse_int64(line, true, v.integer)) {
        fail(error::resp_invalid_integer);
        return p;
      }
      break;
    case '_':
      if (!line.empty()) {
        fail(error::resp_invalid_framing);
        return p;
      }
      break;
    case '#':
      if (line != "t" && line != "f") {
        fail(error::resp_invalid_boolean);
        return p;
      }
      v.type = resp_type::boolean;
      v.integer = line[0] == 't' ? 1 : 0;
      break;
    case ',':
      v.type = resp_type::double_number;
      if (!parse_double(line, v.number)) {
        fail(error::resp_invalid_double);
        return p;
      }
      v.str.assign(line);
      break;
    case '(':
      if (!is_big_number(line)) {
        fail(error::resp_invalid_integer);
        return p;
      }
      v.type = resp_type::big_number;
      v.str.assign(line);
      break;
    case '$':
    case '!':
    case '=':
      return on_bulk_header(line, p, end);
    default:  // * % ~ | >, the only other bytes is_type_byte() lets through
      on_aggregate_header(line);
      return p;
  }
  complete_scalar(std::move(v));
  return p;
}

// ---- bulk strings, bulk errors, verbatim strings ---------------------------------

const char* parser::on_bulk_header(std::string_view line, const char* p, const char* end) {
  std::int64_t len = 0;
  if (!parse_int64(line, false, len)) {  // also refuses the streamed form `$?`
    fail(error::resp_invalid_integer);
    return p;
  }
  if (len == -1 && type_ == '$') {  // RESP2 null bulk string
    complete_scalar(value{});
    return p;
  }
  if (len < 0) {
    fail(error::resp_invalid_integer);
    return p;
  }
  const auto n = static_cast<std::uint64_t>(len);
  if (n > limits_.max_bulk_length) {
    fail(error::resp_bulk_too_long);
    return p;
  }
  if (type_ == '=' && n < 4) {  // "txt:" at least
    fail(error::resp_invalid_framing);
    return p;
  }
  // Fast path: payload and CRLF are all here; copy the payload once.
  if (static_cast<std::uint64_t>(end - p) >= n + 2) {
    if (p[n] != '\r' || p[n + 1] != '\n') {
      fail(error::resp_invalid_framing);
      return p;
    }
    value v;
    v.type = bulk_type(type_);
    v.str.assign(p, n);
    finish_bulk(std::move(v));
    return p + n + 2;
  }
  bulk_ = value{};
  bulk_.type = bulk_type(type_);
  bulk_.str.reserve(std::min<std::size_t>(n, bulk_reserve_cap));
  bulk_remaining_ = n;
  state_ = state::bulk_body;
  return p;
}

const char* parser::read_bulk_body(const char* p, const char* end) {
  const std::size_t n = std::min(bulk_remaining_, static_cast<std::size_t>(end - p));
  bulk_.str.append(p, n);
  bulk_remaining_ -= n;
  if (bulk_remaining_ == 0) state_ = state::bulk_crlf;
  return p + n;
}

const char* parser::read_bulk_crlf(const char* p, const char* end) {
  if (!cr_seen_) {
    if (*p != '\r') {
      fail(error::resp_invalid_framing);
      return p;
    }
    ++p;
    if (p == end) {
      cr_seen_ = true;
      return p;
    }
  }
  if (*p != '\n') {
    fail(error::resp_invalid_framing);
    return p;
  }
  cr_seen_ = false;
  state_ = state::type_byte;
  finish_bulk(std::move(bulk_));
  return p + 1;
}

void parser::finish_bulk(value v) {
  if (v.type == resp_type::verbatim_string && !split_verbatim(v)) {
    fail(error::resp_invalid_framing);
    return;
  }
  complete_scalar(std::move(v));
}

// ---- aggregates and attributes ----------------------------------------------------

void parser::on_aggregate_header(std::string_view line) {
  std::int64_t count = 0;
  if (!parse_int64(line, false, count)) {  // also refuses the streamed form `*?`
    fail(error::resp_invalid_integer);
    return;
  }
  if (count == -1 && type_ == '*') {  // RESP2 null array
    complete_scalar(value{});
    return;
  }
  if (count < 0) {
    fail(error::resp_invalid_integer);
    return;
  }
  const resp_type t = aggregate_type(type_);
  const bool paired = t == resp_type::map || t == resp_type::attribute;
  // count <= INT64_MAX, so doubling it cannot wrap a uint64.
  const std::uint64_t children = static_cast<std::uint64_t>(count) * (paired ? 2 : 1);
  if (children > limits_.max_aggregate_size) {
    fail(error::resp_aggregate_too_large);
    return;
  }
  if (stack_.size() >= limits_.max_depth) {
    fail(error::resp_depth_exceeded);
    return;
  }
  value v;
  v.type = t;
  if (children == 0) {
    if (t != resp_type::attribute) complete_scalar(std::move(v));  // an empty `|` adds nothing
    return;
  }
  // An attribute right after another keeps the first in its own `attributes`
  // until it ends; then both annotate the next value.
  v.attributes = std::exchange(pending_attributes_, {});
  v.elements.reserve(std::min<std::size_t>(children, reserve_cap));
  stack_.push_back(frame{std::move(v), children});
}

// ---- completion -------------------------------------------------------------------

// A value that starts and ends in one token: the attributes read just before
// it are its own.
void parser::complete_scalar(value v) {
  if (!pending_attributes_.empty()) v.attributes = std::exchange(pending_attributes_, {});
  complete(std::move(v));
}

// Hands a finished value to its parent, closing every aggregate it fills; a
// finished top-level value makes the parser ready, a finished attribute waits
// in pending_attributes_ for the value it annotates.
void parser::complete(value v) {
  while (!stack_.empty()) {
    frame& top = stack_.back();
    top.v.elements.push_back(std::move(v));
    if (--top.remaining != 0) return;
    v = std::move(top.v);
    stack_.pop_back();
    if (v.type == resp_type::attribute) {
      pending_attributes_ = std::move(v.attributes);
      pending_attributes_.insert(pending_attributes_.end(),
                                 std::make_move_iterator(v.elements.begin()),
                                 std::make_move_iterator(v.elements.end()));
      return;
    }
  }
  done_ = std::move(v);
  ready_ = true;
}

}  // namespace rcache::resp
