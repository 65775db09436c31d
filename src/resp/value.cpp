// rcache::value helpers: RESP3 type names, the error code of an error reply,
// builders, and the redis-cli-like rendering used in logs, tests and
// `rcache ping`.
//
// to_display follows redis-cli's TTY output: bulk strings quoted and
// escaped, status replies bare, "(integer) 1", "(nil)", numbered aggregate
// entries with nested ones indented under their index ("1) 1) ..."), map
// entries as `1# key => value`, set entries as `1~ member`. Two additions
// redis-cli does not have: verbatim strings show their format
// (`(verbatim txt) "..."`) and attributes are shown as an `(attributes)` line
// above the value they annotate.
//
// Threading: free functions over values the caller owns; no shared state.
#include "rcache/value.hpp"

#include <charconv>
#include <cstddef>
#include <string>
#include <utility>

namespace rcache {

std::string_view to_string(resp_type t) noexcept {
  switch (t) {
    case resp_type::simple_string:
      return "simple-string";
    case resp_type::simple_error:
      return "simple-error";
    case resp_type::integer:
      return "integer";
    case resp_type::bulk_string:
      return "bulk-string";
    case resp_type::array:
      return "array";
    case resp_type::null:
      return "null";
    case resp_type::boolean:
      return "boolean";
    case resp_type::double_number:
      return "double";
    case resp_type::big_number:
      return "big-number";
    case resp_type::bulk_error:
      return "bulk-error";
    case resp_type::verbatim_string:
      return "verbatim-string";
    case resp_type::map:
      return "map";
    case resp_type::set:
      return "set";
    case resp_type::attribute:
      return "attribute";
    case resp_type::push:
      return "push";
  }
  return "unknown";
}

std::string_view value::error_code() const noexcept {
  if (!is_error()) return {};
  const std::string_view s = str;
  return s.substr(0, s.find(' '));
}

value value::make_string(std::string s, resp_type t) {
  value v;
  v.type = t;
  v.str = std::move(s);
  return v;
}

value value::make_integer(std::int64_t i) {
  value v;
  v.type = resp_type::integer;
  v.integer = i;
  return v;
}

value value::make_double(double d, std::string text) {
  value v;
  v.type = resp_type::double_number;
  v.number = d;
  v.str = std::move(text);
  return v;
}

value value::make_array(std::vector<value> elems, resp_type t) {
  value v;
  v.type = t;
  v.elements = std::move(elems);
  return v;
}

// ---- to_display -------------------------------------------------------------------

namespace {

// Like redis' sdscatrepr: printable ASCII as is, the usual escapes, the rest
// as \xHH, all between double quotes.
void append_quoted(std::string& out, std::string_view s) {
  static constexpr char hex_digits[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += c;
        } else {
          const auto u = static_cast<unsigned char>(c);
          out += "\\x";
          out += hex_digits[u >> 4];
          out += hex_digits[u & 0xf];
        }
    }
  }
  out += '"';
}

template <class Number>
void append_number(std::string& out, Number n) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void render(std::string& out, const value& v, const std::string& prefix);

// Renders `elems` as numbered entries; `numsep` is ')' for arrays, '#' for
// maps and attributes (k, v pairs), '~' for sets. Every line but the first
// starts with `prefix`: the caller has already written the first line's
// beginning, exactly as redis-cli does.
void render_entries(std::string& out, const std::vector<value>& elems, char numsep,
                    const std::string& prefix) {
  const bool paired = numsep == '#';
  const std::size_t count = paired ? (elems.size() + 1) / 2 : elems.size();
  std::string count_digits;
  append_number(count_digits, count);
  const std::size_t width = count_digits.size();
  const std::string nested = prefix + std::string(width + 2, ' ');
  for (std::size_t i = 0; i < elems.size(); ++i) {
    if (i != 0) out += prefix;
    const std::size_t index = (paired ? i / 2 : i) + 1;
    std::string digits;
    append_number(digits, index);
    out.append(width - digits.size(), ' ');
    out += digits;
    out += numsep;
    out += ' ';
    render(out, elems[i], nested);
    if (paired && i + 1 < elems.size()) {
      out.pop_back();  // the key's newline: its value follows on the same line
      out += " => ";
      render(out, elems[++i], nested);
    }
  }
}

void render_aggregate(std::string& out, const value& v, const std::string& prefix) {
  struct style {
    char numsep;
    std::string_view empty;
  };
  const style s = v.type == resp_type::map         ? style{'#', "(empty hash)"}
                  : v.type == resp_type::attribute ? style{'#', "(empty attribute)"}
                  : v.type == resp_type::set       ? style{'~', "(empty set)"}
                  : v.type == resp_type::push      ? style{')', "(empty push)"}
                                                   : style{')', "(empty array)"};
  if (v.elements.empty()) {
    out += s.empty;
    out += '\n';
    return;
  }
  render_entries(out, v.elements, s.numsep, prefix);
}

// Appends `v` followed by a newline.
void render(std::string& out, const value& v, const std::string& prefix) {
  if (!v.attributes.empty()) {
    static constexpr std::string_view label = "(attributes) ";
    out += label;
    render_entries(out, v.attributes, '#', prefix + std::string(label.size(), ' '));
    out += prefix;
  }
  switch (v.type) {
    case resp_type::simple_string:
      out += v.str;
      break;
    case resp_type::simple_error:
    case resp_type::bulk_error:
      out += "(error) ";
      out += v.str;
      break;
    case resp_type::integer:
      out += "(integer) ";
      append_number(out, v.integer);
      break;
    case resp_type::bulk_string:
      append_quoted(out, v.str);
      break;
    case resp_type::null:
      out += "(nil)";
      break;
    case resp_type::boolean:
      out += v.integer != 0 ? "(true)" : "(false)";
      break;
    case resp_type::double_number:
      out += "(double) ";
      if (v.str.empty()) {
        append_number(out, v.number);
      } else {
        out += v.str;
      }
      break;
    case resp_type::big_number:
      out += "(big number) ";
      out += v.str;
      break;
    case resp_type::verbatim_string:
      out += "(verbatim ";
      for (const char c : v.format) {
        if (c != '\0') out += c;
      }
      out += ") ";
      append_quoted(out, v.str);
      break;
    case resp_type::array:
    case resp_type::map:
    case resp_type::set:
    case resp_type::attribute:
    case resp_type::push:
      render_aggregate(out, v, prefix);
      return;
  }
  out += '\n';
}

}  // namespace

std::string to_display(const value& v) {
  std::string out;
  render(out, v, {});
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace rcache
