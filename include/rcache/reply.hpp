// rcache::reply<T> — one command's reply read as a C++ type, or why not.
//
// The type is chosen at compile time, as Boost.Redis's response<T...>
// does; a reply of another shape is an error, never a silent zero:
//
//   std::string                 a bulk / simple / verbatim string; an integer
//                               or a double as its text
//   std::optional<U>            null -> nullopt, otherwise a U
//   bool                        a RESP3 boolean; the integers 0 / 1; "OK"
//   integers (int64_t, int, size_t, ...)   an integer; a string of digits
//   double, float               a RESP3 double; an integer; a numeric string
//   std::vector<U>              an array, a set (or a map: its k, v, k, v, ...)
//   std::vector<std::pair<K, V>>, std::map<K, V>, std::unordered_map<K, V>
//                               a RESP3 map, or an array of k, v, k, v, ...
//                               (RESP2 and HGETALL-style replies); a vector
//                               of pairs also an array of [k, v] arrays
//                               (ZRANGE ... WITHSCORES, XRANGE)
//   std::pair<A, B>, std::tuple<T...>   an array of exactly that many
//   rcache::value               the reply as it came
//
//   rcache::reply<std::optional<std::string>> r = ...;
//   if (!r) log(r.error().message);   // "WRONGTYPE Operation against ...", or a transport error
//   else if (*r) use(**r);            // the value
//   else ...                          // no such key
//
// Errors (command_error): `code` is the transport or client error
// (rcache::error::timeout, connection_lost, ...), error::wrong_type or
// error::redis_error for an error reply (whose text is kept in `message`),
// or error::reply_type_mismatch for a reply that is not a T (`message` says
// what came and what was expected).
//
// Threading: plain values.
#pragma once

#include <rcache/error.hpp>
#include <rcache/value.hpp>

#include <algorithm>
#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rcache {

/// Why a command has no typed reply.
struct command_error {
  boost::system::error_code code;
  /// Redis's own text for an error reply ("WRONGTYPE Operation against a
  /// key holding the wrong kind of value"); otherwise what went wrong.
  std::string message;

  friend bool operator==(const command_error&, const command_error&) = default;
};

/// The error an error reply stands for: error::wrong_type for WRONGTYPE (a
/// key of another Redis type), error::redis_error for the rest (OOM,
/// NOPERM, READONLY, ...). `error_reply` must be an error reply.
[[nodiscard]] inline boost::system::error_code error_of(const value& error_reply) noexcept {
  return make_error_code(error_reply.error_code() == "WRONGTYPE" ? error::wrong_type
                                                                 : error::redis_error);
}

/// The command_error of an error reply, keeping Redis's text (moved out).
[[nodiscard]] inline command_error refusal_of(value&& error_reply) {
  return {error_of(error_reply), std::move(error_reply.str)};
}

/// reply<T>::value() on an error throws boost::system::system_error with
/// the code and the message.
[[noreturn]] inline void throw_exception_from_error(const command_error& e,
                                                    const boost::source_location& loc) {
  boost::throw_exception(boost::system::system_error(e.code, e.message), loc);
}

template <class T>
using reply = boost::system::result<T, command_error>;

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class U>
struct is_optional<std::optional<U>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class U, class A>
struct is_vector<std::vector<U, A>> : std::true_type {};
template <class T>
struct is_pair : std::false_type {};
template <class A, class B>
struct is_pair<std::pair<A, B>> : std::true_type {};
template <class T>
struct is_pair_vector : std::false_type {};
template <class A, class B, class Alloc>
struct is_pair_vector<std::vector<std::pair<A, B>, Alloc>> : std::true_type {};
template <class T>
struct is_tuple : std::false_type {};
template <class... U>
struct is_tuple<std::tuple<U...>> : std::true_type {};
template <class T>
struct is_map : std::false_type {};
template <class K, class V, class C, class A>
struct is_map<std::map<K, V, C, A>> : std::true_type {};
template <class K, class V, class H, class E, class A>
struct is_map<std::unordered_map<K, V, H, E, A>> : std::true_type {};

/// The failure of reading `v` as `expected`.
[[nodiscard]] command_error not_a(const value& v, std::string_view expected);
[[nodiscard]] bool is_scalar_text(const value& v) noexcept;

/// Reads `v` as a T (moving its strings out).
template <class T>
[[nodiscard]] reply<T> read_as(value&& v);

template <class Seq, class Each>
reply<Seq> read_elements(value&& v, Each each, std::string_view expected) {
  if (!v.is_aggregate()) return not_a(v, expected);
  Seq out;
  out.reserve(v.elements.size());
  for (auto& e : v.elements) {
    auto r = each(std::move(e));
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

template <class Pairs>
reply<Pairs> read_pairs(value&& v, std::string_view expected) {
  using K = typename Pairs::value_type::first_type;
  using V = typename Pairs::value_type::second_type;
  if (!v.is_aggregate() || v.elements.size() % 2 != 0) return not_a(v, expected);
  Pairs out;
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    auto k = read_as<std::remove_const_t<K>>(std::move(v.elements[i]));
    if (!k) return k.error();
    auto x = read_as<V>(std::move(v.elements[i + 1]));
    if (!x) return x.error();
    out.emplace_back(std::move(*k), std::move(*x));
  }
  return out;
}

template <class Tuple, std::size_t... I>
reply<Tuple> read_tuple(value&& v, std::index_sequence<I...>) {
  constexpr std::size_t n = sizeof...(I);
  if (!v.is_aggregate() || v.elements.size() != n) {
    return not_a(v, "an array of " + std::to_string(n));
  }
  std::optional<command_error> failed;
  auto one = [&](auto tag, value& e) {
    using U = typename decltype(tag)::type;
    auto r = read_as<U>(std::move(e));
    if (!r && !failed) failed = r.error();
    return r ? std::move(*r) : U{};
  };
  Tuple out{one(std::type_identity<std::tuple_element_t<I, Tuple>>{}, v.elements[I])...};
  if (failed) return *failed;
  return out;
}

template <class T>
reply<T> read_as(value&& v) {
  if (v.is_error()) return refusal_of(std::move(v));
  if constexpr (std::is_same_v<T, value>) {
    return std::move(v);
  } else if constexpr (is_optional<T>::value) {
    if (v.is_null()) return T{};
    auto r = read_as<typename T::value_type>(std::move(v));
    if (!r) return r.error();
    return T{std::move(*r)};
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (v.type == resp_type::integer) return std::to_string(v.integer);
    if (!is_scalar_text(v)) return not_a(v, "a string");
    return std::move(v.str);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (v.type == resp_type::boolean || v.type == resp_type::integer) return v.integer != 0;
    if (v.type == resp_type::simple_string && v.str == "OK") return true;
    return not_a(v, "a boolean");
  } else if constexpr (std::is_integral_v<T>) {
    if (v.type == resp_type::integer) {
      if (!std::in_range<T>(v.integer)) return not_a(v, "an integer in range");
      return static_cast<T>(v.integer);
    }
    T out{};
    if (is_scalar_text(v)) {
      const auto* end = v.str.data() + v.str.size();
      auto [p, ec] = std::from_chars(v.str.data(), end, out);
      if (ec == std::errc() && p == end) return out;
    }
    return not_a(v, "an integer");
  } else if constexpr (std::is_floating_point_v<T>) {
    if (v.type == resp_type::double_number) return static_cast<T>(v.number);
    if (v.type == resp_type::integer) return static_cast<T>(v.integer);
    if (is_scalar_text(v)) {
      try {
        std::size_t used = 0;
        const double d = std::stod(v.str, &used);
        if (used == v.str.size()) return static_cast<T>(d);
      } catch (const std::exception&) {
      }
    }
    return not_a(v, "a number");
  } else if constexpr (is_pair_vector<T>::value) {
    // A RESP3 map or a flat array (k, v, k, v, ...: RESP2, HGETALL); an
    // array of two-element arrays (ZRANGE ... WITHSCORES in RESP3, XRANGE)
    // pair by pair.
    const bool nested = v.type != resp_type::map && !v.elements.empty() &&
                        std::all_of(v.elements.begin(), v.elements.end(), [](const value& e) {
                          return e.is_aggregate() && e.elements.size() == 2;
                        });
    if (!nested) return read_pairs<T>(std::move(v), "a map");
    return read_elements<T>(
        std::move(v), [](value&& e) { return read_as<typename T::value_type>(std::move(e)); },
        "an array of pairs");
  } else if constexpr (is_vector<T>::value) {
    return read_elements<T>(
        std::move(v), [](value&& e) { return read_as<typename T::value_type>(std::move(e)); },
        "an array");
  } else if constexpr (is_map<T>::value) {
    using P = std::pair<typename T::key_type, typename T::mapped_type>;
    auto pairs = read_pairs<std::vector<P>>(std::move(v), "a map");
    if (!pairs) return pairs.error();
    return T(std::make_move_iterator(pairs->begin()), std::make_move_iterator(pairs->end()));
  } else if constexpr (is_pair<T>::value) {
    auto t = read_tuple<std::tuple<typename T::first_type, typename T::second_type>>(
        std::move(v), std::make_index_sequence<2>{});
    if (!t) return t.error();
    return T{std::move(std::get<0>(*t)), std::move(std::get<1>(*t))};
  } else if constexpr (is_tuple<T>::value) {
    return read_tuple<T>(std::move(v), std::make_index_sequence<std::tuple_size_v<T>>{});
  } else {
    static_assert(sizeof(T) == 0, "rcache::reply<T>: no reading of a RESP value as this T");
  }
}

}  // namespace detail

/// Reads one reply as a T (reply.hpp's table). An error reply is an error.
template <class T>
[[nodiscard]] reply<T> reply_as(value v) {
  return detail::read_as<T>(std::move(v));
}

}  // namespace rcache
