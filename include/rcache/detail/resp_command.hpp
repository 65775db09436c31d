// RESP command serializer (internal: used by rcache::request's templates,
// so it ships with the public headers; not part of the stable API).
//
// Redis accepts commands as a RESP array of bulk strings; this appends that
// encoding to an output buffer without intermediate copies. Integral and
// floating-point arguments are formatted with std::to_chars. append_value
// writes any rcache::value back as RESP3 (replies, tests, fuzzing).
//
// Threading: free functions, no state.
#pragma once

#include <rcache/value.hpp>

#include <charconv>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace rcache::resp {

/// Appends the array header "*<n>\r\n".
void append_array_header(std::string& out, std::size_t n);

/// Appends one bulk string "$<len>\r\n<bytes>\r\n".
void append_bulk(std::string& out, std::string_view bytes);

/// Appends a number as a bulk string (decimal; doubles in shortest round-trip form).
void append_bulk(std::string& out, std::int64_t n);
void append_bulk(std::string& out, std::uint64_t n);
void append_bulk(std::string& out, double d);

/// An argument anything string-like or arithmetic can become.
template <class T>
void append_arg(std::string& out, const T& a) {
  if constexpr (std::is_same_v<T, bool>) {
    append_bulk(out, std::string_view(a ? "1" : "0"));
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    append_bulk(out, static_cast<std::int64_t>(a));
  } else if constexpr (std::is_integral_v<T>) {
    append_bulk(out, static_cast<std::uint64_t>(a));
  } else if constexpr (std::is_floating_point_v<T>) {
    append_bulk(out, static_cast<double>(a));
  } else {
    append_bulk(out, std::string_view(a));
  }
}

/// At least the bytes append_arg() writes for `a` (its header, CRLF and
/// digits or bytes), so that a command is appended with one allocation.
template <class T>
std::size_t arg_bytes(const T& a) noexcept {
  constexpr std::size_t framing = 1 + 20 + 2 + 2;  // "$<len>\r\n" ... "\r\n"
  if constexpr (std::is_arithmetic_v<T>) {
    return framing + 32;
  } else {
    return framing + std::string_view(a).size();
  }
}

/// Appends a whole command: its name and its arguments.
template <class... Args>
void append_command(std::string& out, std::string_view name, const Args&... args) {
  out.reserve(out.size() + 23 + arg_bytes(name) + (std::size_t{0} + ... + arg_bytes(args)));
  append_array_header(out, 1 + sizeof...(Args));
  append_bulk(out, name);
  (append_arg(out, args), ...);
}

/// Appends `v` as RESP3, its attributes (`|`) first, so that a parser reads
/// back an equal value. A double is written from its wire text `str` when
/// present, else in shortest round-trip form. Preconditions: simple strings
/// and errors hold no CR or LF; maps and attributes hold an even number of
/// elements. Recursion follows the value's nesting. A value of type attribute
/// is written as a bare `|`, which a parser attaches to whatever follows.
void append_value(std::string& out, const value& v);

}  // namespace rcache::resp
